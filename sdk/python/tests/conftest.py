"""The live stack the integration tests call, described by environment variables.

test/sdk-python.test.ts starts it (test/lib/sdk-stack.ts) and runs pytest with: INFERENCEHUB_TARGET,
INFERENCEHUB_URL, INFERENCEHUB_API_KEY, INFERENCEHUB_OTHER_API_KEY, INFERENCEHUB_LIMITED_API_KEY,
INFERENCEHUB_VECTORS, INFERENCEHUB_FAULTS_URL, INFERENCEHUB_SLOW_MS, INFERENCEHUB_ADS_PORT. An
integration test without them fails (it is never skipped): the pure unit tests need none.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from inferencehub import DTYPES, Client


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these tests through test/sdk-python.test.ts (it starts the stack)")
    return value


@dataclass(frozen=True)
class Stack:
    target: str
    api_key: str
    other_key: str
    limited_key: str
    vectors: dict[str, Any]
    faults_url: str
    slow_s: float

    def faults(self, method: str, path: str, timeout: float = 30) -> Any:
        """Calls the stack's faults server (urllib: no client library between the test and it)."""
        request = urllib.request.Request(self.faults_url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())


@pytest.fixture(scope="session")
def stack() -> Stack:
    with open(env("INFERENCEHUB_VECTORS"), encoding="utf-8") as f:
        vectors = json.load(f)
    return Stack(
        target=env("INFERENCEHUB_TARGET"),
        api_key=env("INFERENCEHUB_API_KEY"),
        other_key=env("INFERENCEHUB_OTHER_API_KEY"),
        limited_key=env("INFERENCEHUB_LIMITED_API_KEY"),
        vectors=vectors,
        faults_url=env("INFERENCEHUB_FAULTS_URL"),
        slow_s=float(env("INFERENCEHUB_SLOW_MS")) / 1000,
    )


@pytest.fixture(scope="session")
def client(stack: Stack) -> Iterator[Client]:
    with Client(stack.target, api_key=stack.api_key, timeout=10) as c:
        yield c


def vector_inputs(case: dict[str, Any]) -> dict[str, np.ndarray]:
    """A vector case's inputs as numpy arrays of their datatype (BYTES: object arrays of bytes)."""
    inputs: dict[str, np.ndarray] = {}
    for i in case["inputs"]:
        if i["datatype"] == "BYTES":
            flat = np.empty(len(i["data"]), dtype=object)
            flat[:] = [s.encode("utf-8") for s in i["data"]]
        else:
            flat = np.array(i["data"], dtype=DTYPES[i["datatype"]])
        inputs[i["name"]] = flat.reshape(i["shape"])
    return inputs


def expected_raw(output: dict[str, Any]) -> bytes:
    return base64.b64decode(output["raw"])


def scale_input(rows: Sequence[Sequence[float]] | None = None) -> dict[str, np.ndarray]:
    return {"input": np.array(rows or [[1, 2, 3, 4]], dtype=np.float32)}


def mlp_input() -> dict[str, np.ndarray]:
    return {"input": np.ones((1, 4), dtype=np.float32)}
