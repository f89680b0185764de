"""Last (file order): these kill nodes. Retries happen before a call reaches a node, never after.

1. A node killed before the calls: Envoy retries on the other node (connect failure), so all calls
   succeed and Envoy's retry counter grows; the SDK adds nothing.
2. A node killed while it holds the call: the call fails UNAVAILABLE, and neither Envoy nor the SDK
   sends it again (the surviving node's request count does not grow).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from inferencehub import Client, InferenceHubError, Unavailable

from conftest import Stack, scale_input


def test_a_call_is_retried_on_another_node_when_the_first_is_down_before_it(stack: Stack, client: Client) -> None:
    assert stack.faults("POST", "/kill?node=node-b") == {"killed": "node-b"}
    retries_before = stack.faults("GET", "/envoy-retries")["retries"]
    results = [client.infer("scale", scale_input(), version="1") for _ in range(20)]
    assert [r.model_version for r in results] == ["1"] * 20
    retries_after = stack.faults("GET", "/envoy-retries")["retries"]
    assert retries_after > retries_before, (retries_before, retries_after)


def test_a_call_a_node_held_is_never_sent_twice(stack: Stack, client: Client) -> None:
    path = "/requests?model=scale&version=3"
    before = stack.faults("GET", path)
    # Every live node is listed; version 3 is served by node-slow-1 and node-slow-2.
    assert {"node-slow-1", "node-slow-2"} <= set(before), before
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        call = pool.submit(client.infer, "scale", scale_input(), version="3", timeout=20)
        killed = stack.faults("POST", "/kill-busy?model=scale&version=3")["killed"]
        assert killed in ("node-slow-1", "node-slow-2"), killed
        with pytest.raises(InferenceHubError) as err:
            call.result(timeout=30)
    elapsed = time.monotonic() - started
    assert isinstance(err.value, Unavailable), f"expected UNAVAILABLE, got {err.value!r}"
    assert elapsed < stack.slow_s + 2, "failed when the node died, not after another node's full answer"
    after = stack.faults("GET", path)
    assert killed not in after, after
    survivors = [name for name in before if name != killed]
    assert survivors and all(after[name] == before[name] for name in survivors), (before, after)
