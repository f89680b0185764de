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


def model_config():
    c = client.get_model_config("scale", "2", headers=headers).config
    return {"name": c.name, "platform": c.platform, "inputs": [i.name for i in c.input]}


def statistics():
    stats = client.get_inference_statistics("scale", "2", headers=headers).model_stats
    return [{"name": s.name, "version": s.version, "success": s.inference_stats.success.count} for s in stats]


def stream(version=""):
    # No routing header: the gateway routes the stream by its first message (model and version).
    answers = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)), headers=headers)
    try:
        for row in ([[1, 2, 3, 4]], [[5, 6, 7, 8]], [[0, 0, 0, 0]]):
            client.async_stream_infer("scale", [scale_input(row)], model_version=version)
        out = []
        for _ in range(3):
            result, error = answers.get(timeout=10)
            if error is not None:
                raise error
            out.append({"version": result.get_response().model_version, "output": result.as_numpy("output").tolist()})
        return out
    finally:
        client.stop_stream()


record("live", lambda: client.is_server_live(headers=headers))
record("ready", lambda: client.is_server_ready(headers=headers))
record("server_metadata", lambda: client.get_server_metadata(headers=headers).name)
record("model_ready", lambda: client.is_model_ready("scale", headers=headers))
record("model_ready_v9", lambda: client.is_model_ready("scale", "9", headers=headers))
record("model_metadata", metadata)
record("infer", infer)
record("infer_v2", lambda: infer("2"))
record("async_infer_v2", async_infer)
record("model_config_v2", model_config)
record("statistics_v2", statistics)
record("stream_v2", lambda: stream("2"))
record("stream_any", stream)
record("no_credentials", lambda: client.is_server_live())
record("unknown_model", lambda: client.is_model_ready("resnet-50", headers=headers))
record("ungranted_model", lambda: client.is_model_ready("mlp", headers=headers))
print(json.dumps(results))
