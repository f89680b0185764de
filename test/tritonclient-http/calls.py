"""The stock tritonclient.http against a reference node's REST port (test/node-rest.test.ts).

Usage: calls.py <host:port> <json inputs>. The inputs are the test's: {"mixed": {...}, "scale":
[[...]]}. Prints one JSON object: each call's result, or {"error": <HTTP status>, "message": ...}
when the client raised. The test asserts on it against the reference outputs.
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

target, given = sys.argv[1], json.loads(sys.argv[2])
client = httpclient.InferenceServerClient(target)
results = {}


def record(name, call):
    try:
        results[name] = call()
    except InferenceServerException as err:
        results[name] = {"error": err.status(), "message": err.message()}


arrays = {
    "a": np.array(given["mixed"]["a"], dtype=np.float32),
    "b": np.array(given["mixed"]["b"], dtype=np.int64),
    "c": np.array(given["mixed"]["c"], dtype=np.int32),
    "flag": np.array(given["mixed"]["flag"], dtype=np.bool_),
    "h": np.array(given["mixed"]["h"], dtype=np.float16),
    "text": np.array([s.encode("utf-8") for s in given["mixed"]["text"]], dtype=np.object_),
}
datatypes = {"a": "FP32", "b": "INT64", "c": "INT32", "flag": "BOOL", "h": "FP16", "text": "BYTES"}
output_names = ["sum", "b_twice", "c_neg", "not_flag", "h_double", "text_out"]


def plain(value):
    if value.dtype == np.object_:
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in value.tolist()]
    return value.tolist()


def infer_mixed(binary_inputs, binary_outputs):
    inputs = []
    for name, array in arrays.items():
        tensor = httpclient.InferInput(name, list(array.shape), datatypes[name])
        tensor.set_data_from_numpy(array, binary_data=binary_inputs)
        inputs.append(tensor)
    outputs = (
        None
        if binary_outputs is None
        else [httpclient.InferRequestedOutput(n, binary_data=binary_outputs) for n in output_names]
    )
    result = client.infer("mixed", inputs, outputs=outputs, request_id="req-1")
    response = result.get_response()
    return {
        "id": response.get("id"),
        "model_version": response.get("model_version"),
        "binary": {o["name"]: "binary_data_size" in o.get("parameters", {}) for o in response["outputs"]},
        "outputs": {n: plain(result.as_numpy(n)) for n in output_names},
    }


def infer_scale(version):
    tensor = httpclient.InferInput("input", [len(given["scale"]), 4], "FP32")
    tensor.set_data_from_numpy(np.array(given["scale"], dtype=np.float32), binary_data=False)
    result = client.infer("scale", [tensor], model_version=version)
    return {"version": result.get_response()["model_version"], "output": result.as_numpy("output").tolist()}


record("live", client.is_server_live)
record("ready", client.is_server_ready)
record("server_metadata", client.get_server_metadata)
record("model_ready", lambda: client.is_model_ready("scale"))
record("model_ready_v2", lambda: client.is_model_ready("scale", "2"))
record("model_ready_unknown", lambda: client.is_model_ready("no-such-model"))
record("model_metadata", lambda: client.get_model_metadata("mixed"))
record("model_metadata_v2", lambda: client.get_model_metadata("scale", "2"))
record("mixed_binary_in_binary_out", lambda: infer_mixed(True, True))
record("mixed_json_in_json_out", lambda: infer_mixed(False, False))
record("mixed_json_in_binary_out", lambda: infer_mixed(False, True))
record("mixed_binary_in_default_out", lambda: infer_mixed(True, None))
record("scale_v2", lambda: infer_scale("2"))
record("scale_default", lambda: infer_scale(""))
record("unknown_model", lambda: client.get_model_metadata("no-such-model"))
record("bad_input", lambda: client.infer("scale", [httpclient.InferInput("nope", [1, 4], "FP32").set_data_from_numpy(np.zeros((1, 4), dtype=np.float32))]))
print(json.dumps(results))
