"""The stock tritonclient.http through the gateway (Envoy with ext-authz), with only an API key
(test/rest-stock-clients.test.ts, issue #15).

Usage: gateway-calls.py <host:port> <json plan>. The plan is the test's: {"keys": {"all": ...,
"limited": ...}, "mixed": {...}, "mlp": [[...]], "scale": [[...]], "split_calls": N,
"pinned_calls": N}. Prints one JSON object: each call's result, or {"error": <HTTP status as the
client's exception gives it>, "message": ...} when the client raised. The test asserts on it
against the reference outputs.
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

target, plan = sys.argv[1], json.loads(sys.argv[2])
client = httpclient.InferenceServerClient(target)
results = {}


def bearer(key):
    return {"Authorization": "Bearer " + key}


# Functions, not dicts: tritonclient.http's infer() writes Inference-Header-Content-Length into the
# headers dict it is given, so a dict shared between calls would carry one call's length into the
# next.
def with_key():
    return bearer(plan["keys"]["all"])


def with_limited_key():
    return bearer(plan["keys"]["limited"])


def without_key():
    return {}


def record(name, call):
    try:
        results[name] = call()
    except InferenceServerException as err:
        results[name] = {"error": err.status(), "message": err.message()}


def plain(value):
    if value.dtype == np.object_:
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in value.reshape(-1).tolist()]
    return value.tolist()


def infer(model, arrays, datatypes, output_names, binary, headers=with_key, version=""):
    """One infer; `binary` is the binary_data flag of every input and every requested output;
    `headers` makes a fresh headers dict."""
    inputs = []
    for name, array in arrays.items():
        tensor = httpclient.InferInput(name, list(array.shape), datatypes[name])
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    outputs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in output_names]
    result = client.infer(model, inputs, outputs=outputs, model_version=version, headers=headers())
    response = result.get_response()
    return {
        "model_name": response.get("model_name"),
        "model_version": response.get("model_version"),
        "binary": {o["name"]: "binary_data_size" in o.get("parameters", {}) for o in response["outputs"]},
        "datatypes": {o["name"]: o["datatype"] for o in response["outputs"]},
        "outputs": {n: plain(result.as_numpy(n)) for n in output_names},
    }


mixed_arrays = {
    "a": np.array(plan["mixed"]["a"], dtype=np.float32),
    "b": np.array(plan["mixed"]["b"], dtype=np.int64),
    "c": np.array(plan["mixed"]["c"], dtype=np.int32),
    "flag": np.array(plan["mixed"]["flag"], dtype=np.bool_),
    "h": np.array(plan["mixed"]["h"], dtype=np.float16),
    "text": np.array([s.encode("utf-8") for s in plan["mixed"]["text"]], dtype=np.object_),
}
mixed_types = {"a": "FP32", "b": "INT64", "c": "INT32", "flag": "BOOL", "h": "FP16", "text": "BYTES"}
mixed_outputs = ["sum", "b_twice", "c_neg", "not_flag", "h_double", "text_out"]


def infer_mixed(binary):
    return infer("mixed", mixed_arrays, mixed_types, mixed_outputs, binary)


def infer_fp32(model, rows, binary, headers=with_key, version=""):
    arrays = {"input": np.array(rows, dtype=np.float32)}
    return infer(model, arrays, {"input": "FP32"}, ["output"], binary, headers, version)


def scale_calls(n, version):
    """n calls of scale; each as [the version that answered, its output]."""
    out = []
    for i in range(n):
        r = infer_fp32("scale", plan["scale"], i % 2 == 0, version=version)
        out.append([r["model_version"], r["outputs"]["output"]])
    return out


# 1. Server and model calls.
record("live", lambda: client.is_server_live(headers=with_key()))
record("ready", lambda: client.is_server_ready(headers=with_key()))
record("server_metadata", lambda: client.get_server_metadata(headers=with_key()))
record("model_ready_scale", lambda: client.is_model_ready("scale", headers=with_key()))
record("model_ready_scale_v2", lambda: client.is_model_ready("scale", "2", headers=with_key()))
record("model_ready_mixed", lambda: client.is_model_ready("mixed", headers=with_key()))
record("model_metadata_mixed", lambda: client.get_model_metadata("mixed", headers=with_key()))
record("model_metadata_scale_v2", lambda: client.get_model_metadata("scale", "2", headers=with_key()))
record("model_metadata_mlp", lambda: client.get_model_metadata("mlp", headers=with_key()))
record("repository_index", lambda: client.get_model_repository_index(headers=with_key()))
record("repository_index_limited", lambda: client.get_model_repository_index(headers=with_limited_key()))
record("repository_index_no_key", lambda: client.get_model_repository_index())

# 2. Inference, JSON and binary tensors.
record("mixed_json", lambda: infer_mixed(False))
record("mixed_binary", lambda: infer_mixed(True))
record("mlp_json", lambda: infer_fp32("mlp", plan["mlp"], False))
record("mlp_binary", lambda: infer_fp32("mlp", plan["mlp"], True))

# 3. The split, and a version pinned by model_version (in the path).
record("split", lambda: scale_calls(plan["split_calls"], ""))
record("pinned_v2", lambda: scale_calls(plan["pinned_calls"], "2"))

# 4. Errors, as the client's exception.
record("unknown_model_metadata", lambda: client.get_model_metadata("no-such-model", headers=with_key()))
record("unknown_model_infer", lambda: infer_fp32("no-such-model", plan["scale"], False))
record("no_key_metadata", lambda: client.get_model_metadata("scale"))
record("no_key_infer", lambda: infer_fp32("scale", plan["scale"], False, headers=without_key))
record("wrong_key_infer", lambda: infer_fp32("scale", plan["scale"], False, headers=lambda: bearer("ihk_not-a-key")))
record("limited_metadata_mlp", lambda: client.get_model_metadata("mlp", headers=with_limited_key()))
record("limited_infer_mlp", lambda: infer_fp32("mlp", plan["mlp"], True, headers=with_limited_key))
record("no_key_unknown_model", lambda: client.get_model_metadata("no-such-model"))
record("no_key_unknown_model_infer", lambda: infer_fp32("no-such-model", plan["scale"], False, headers=without_key))
record("limited_unknown_model", lambda: client.get_model_metadata("no-such-model", headers=with_limited_key()))
record("limited_infer_scale", lambda: infer_fp32("scale", plan["scale"], True, headers=with_limited_key))
print(json.dumps(results))
