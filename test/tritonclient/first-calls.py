"""A Triton user's first calls, with the stock tritonclient, against the gateway.

Usage: first-calls.py <host:port> <api key>. Prints one JSON object: each call's result, or
{"error": "<grpc status name>", "message": ...} when it failed. The test asserts on it.
"""
import json
import queue
import sys
from functools import partial

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

target, key = sys.argv[1], sys.argv[2]
client = grpcclient.InferenceServerClient(target)
headers = {"authorization": f"Bearer {key}"}
results = {}


def record(name, call):
    try:
        results[name] = call()
    except InferenceServerException as err:
        results[name] = {"error": str(err.status()).replace("StatusCode.", ""), "message": err.message()}


def scale_input(rows):
    tensor = grpcclient.InferInput("input", [len(rows), 4], "FP32")
    tensor.set_data_from_numpy(np.array(rows, dtype=np.float32))
    return tensor


def infer(version=""):
    result = client.infer("scale", [scale_input([[1, 2, 3, 4]])], model_version=version, headers=headers)
    return {"version": result.get_response().model_version, "output": result.as_numpy("output").tolist()}


def async_infer():
    done = queue.Queue()
    client.async_infer(
        "scale",
        [scale_input([[1, 2, 3, 4]])],
        callback=lambda result, error: done.put((result, error)),
        model_version="2",
        headers=headers,
    )
    result, error = done.get(timeout=10)
    if error is not None:
        raise error
    return {"version": result.get_response().model_version, "output": result.as_numpy("output").tolist()}


def metadata():
    m = client.get_model_metadata("scale", headers=headers)
    return {"name": m.name, "versions": list(m.versions), "inputs": [i.name for i in m.inputs]}


record("live", lambda: client.is_server_live(headers=headers))
record("ready", lambda: client.is_server_ready(headers=headers))
record("server_metadata", lambda: client.get_server_metadata(headers=headers).name)
record("model_ready", lambda: client.is_model_ready("scale", headers=headers))
record("model_ready_v9", lambda: client.is_model_ready("scale", "9", headers=headers))
record("model_metadata", metadata)
record("infer", infer)
record("infer_v2", lambda: infer("2"))
record("async_infer_v2", async_infer)
record("no_credentials", lambda: client.is_server_live())
record("unknown_model", lambda: client.is_model_ready("resnet-50", headers=headers))
print(json.dumps(results))
