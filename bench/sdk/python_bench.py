"""The Python half of bench/sdk-clients.ts: `inferencehub.Client` against the stock
`tritonclient.grpc` client, both through the gateway, in alternating rounds of one run.

Reads the stack from the environment (test/lib/sdk-stack.ts) and BENCH_CALLS, BENCH_ROUNDS,
BENCH_ROWS; prints the figures as JSON on stdout (progress on stderr), one entry per client and
size: {size, client, baseline, latenciesMs, wallMs}.
"""

import json
import os
import sys
import time

import numpy as np
import tritonclient.grpc as grpcclient

from inferencehub import Client

CALLS = int(os.environ.get("BENCH_CALLS", "300"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
BIG_ROWS = int(os.environ.get("BENCH_ROWS", "1024"))
TARGET = os.environ["INFERENCEHUB_TARGET"]
API_KEY = os.environ["INFERENCEHUB_API_KEY"]
WIDTH = 4


def rows_of(n: int) -> np.ndarray:
    return (np.arange(n * WIDTH, dtype=np.float32) % 64 / 8).reshape(n, WIDTH)


def tritonclient_call(client: grpcclient.InferenceServerClient, x: np.ndarray):
    tensor = grpcclient.InferInput("input", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    headers = {"authorization": f"Bearer {API_KEY}"}

    def call() -> None:
        result = client.infer("scale", [tensor], model_version="1", headers=headers)
        if result.as_numpy("output").shape != x.shape:
            raise RuntimeError("wrong output")

    return call


def sdk_call(client: Client, x: np.ndarray):
    def call() -> None:
        result = client.infer("scale", {"input": x}, version="1")
        if result["output"].shape != x.shape:
            raise RuntimeError("wrong output")

    return call


def measure(size: str, clients: list) -> list:
    figures = {name: {"size": size, "client": name, "baseline": baseline, "latenciesMs": [], "wallMs": 0.0}
               for name, baseline, _ in clients}
    for _, _, call in clients:
        for _ in range(20):
            call()
    for r in range(ROUNDS):
        print(f"[python bench] {size}: round {r + 1}/{ROUNDS}", file=sys.stderr)
        for name, _, call in clients if r % 2 == 0 else list(reversed(clients)):
            f = figures[name]
            started = time.perf_counter()
            for _ in range(CALLS):
                t = time.perf_counter()
                call()
                f["latenciesMs"].append((time.perf_counter() - t) * 1000)
            f["wallMs"] += (time.perf_counter() - started) * 1000
    return list(figures.values())


def main() -> None:
    stock = grpcclient.InferenceServerClient(TARGET)
    sdk = Client(TARGET, api_key=API_KEY)
    out = []
    try:
        for size, n in (("1 row", 1), (f"{BIG_ROWS} rows", BIG_ROWS)):
            x = rows_of(n)
            out += measure(size, [
                ("tritonclient.grpc", True, tritonclient_call(stock, x)),
                ("inferencehub.Client", False, sdk_call(sdk, x)),
            ])
    finally:
        sdk.close()
        stock.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
