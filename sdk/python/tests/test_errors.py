"""Each typed error from a real failing call through the gateway."""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest

from inferencehub import (
    Client,
    DeadlineExceeded,
    InferenceHubError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)

from conftest import Stack, mlp_input, scale_input


def test_not_found(client: Client) -> None:
    with pytest.raises(NotFound) as err:
        client.infer("nope", mlp_input())
    assert err.value.code == grpc.StatusCode.NOT_FOUND
    assert "nope" in err.value.details
    assert isinstance(err.value, InferenceHubError)


@pytest.mark.parametrize("key", [None, "ihk_not-a-key"], ids=["no key", "bad key"])
def test_unauthenticated(stack: Stack, key: str) -> None:
    with Client(stack.target, api_key=key, timeout=10) as anonymous:
        with pytest.raises(Unauthenticated) as err:
            anonymous.infer("mlp", mlp_input())
    assert err.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_permission_denied(stack: Stack) -> None:
    with Client(stack.target, api_key=stack.other_key, timeout=10) as other:
        with pytest.raises(PermissionDenied) as err:
            other.infer("scale", scale_input())
        assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
        # The same key may call what its tenant is granted.
        assert other.infer("mlp", mlp_input()).model_version == "1"


def test_resource_exhausted_with_a_retry_hint(stack: Stack) -> None:
    errors: list[ResourceExhausted] = []
    with Client(stack.target, api_key=stack.limited_key, timeout=10) as limited:
        for _ in range(10):
            try:
                limited.infer("scale", scale_input(), version="1")
            except ResourceExhausted as err:
                errors.append(err)
    assert errors, "10 quick calls at 1 call/s, burst 1: at least one is over the limit"
    assert errors[0].code == grpc.StatusCode.RESOURCE_EXHAUSTED
    hinted = [e.retry_after for e in errors if e.retry_after is not None]
    assert hinted, [e.details for e in errors]
    assert all(0 < h <= 60 for h in hinted), hinted
    for e in errors:
        # gRFC A6's pushback trailer, when the gateway sends it, is the hint that wins.
        if "grpc-retry-pushback-ms" in e.metadata:
            assert e.retry_after == float(e.metadata["grpc-retry-pushback-ms"]) / 1000


def test_deadline_exceeded(stack: Stack, client: Client) -> None:
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as err:
        client.infer("scale", scale_input(), version="3", timeout=0.5)
    assert err.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < stack.slow_s, "ended at the deadline, not at the node's answer"
    # The client's default deadline applies too.
    with Client(stack.target, api_key=stack.api_key, timeout=0.5) as short:
        with pytest.raises(DeadlineExceeded):
            short.infer("scale", scale_input(), version="3")


def test_invalid_argument(client: Client) -> None:
    with pytest.raises(InvalidArgument) as err:
        client.infer("mlp", {"input": np.ones((1, 3), dtype=np.float32)})
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details
