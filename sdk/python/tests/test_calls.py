"""Client through the real gateway: the shared vectors byte for byte, pins, the split, streams,
ready/live/metadata, and models()."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest

from inferencehub import DTYPES, Client, InferenceHubError, TensorError, Unauthenticated, to_raw

from conftest import Stack, expected_raw, mlp_input, scale_input, vector_inputs

#: scale version v computes k*x + b (scripts/lib/test-models.ts, SCALE_PARAMS).
SCALE = {"1": (1.0, 0.1), "2": (2.0, 0.2)}


def scaled(version: str, rows: Any) -> np.ndarray:
    k, b = SCALE[version]
    return np.array(rows, dtype=np.float32) * np.float32(k) + np.float32(b)


def check_case(case: dict[str, Any], result: Any) -> None:
    assert result.model_name == case["model"]
    assert result.model_version == case["version"]
    assert sorted(result) == sorted(o["name"] for o in case["outputs"])
    for o in case["outputs"]:
        out = result[o["name"]]
        assert result.datatypes[o["name"]] == o["datatype"], o["name"]
        assert out.dtype == DTYPES[o["datatype"]], o["name"]
        assert list(out.shape) == o["shape"], o["name"]
        assert to_raw(out, o["datatype"]) == expected_raw(o), f"{case['name']}: output {o['name']}"


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "typed"])
def test_every_vector_case_byte_for_byte(stack: Stack, client: Client, raw: bool) -> None:
    cases = stack.vectors["cases"]
    assert {c["model"] for c in cases} >= {"mlp", "scale", "mixed"}
    for case in cases:
        result = client.infer(case["model"], vector_inputs(case), version=case["version"], raw=raw)
        check_case(case, result)


def test_mixed_outputs_as_numpy(stack: Stack, client: Client) -> None:
    case = next(c for c in stack.vectors["cases"] if c["model"] == "mixed")
    result = client.infer("mixed", vector_inputs(case), outputs=["text_out", "not_flag"], id="req-7")
    assert sorted(result) == ["not_flag", "text_out"]
    assert result.id == "req-7"
    assert result["not_flag"].dtype == np.bool_
    text = result["text_out"]
    assert text.dtype == object and all(isinstance(v, bytes) for v in text.ravel())


def test_a_version_pin_is_answered_by_that_version(client: Client) -> None:
    for version in ("1", "2"):
        for raw in (True, False):
            result = client.infer("scale", scale_input(), version=version, raw=raw)
            assert result.model_version == version
            np.testing.assert_allclose(result["output"], scaled(version, [[1, 2, 3, 4]]), rtol=1e-6)


def test_the_weighted_split_seen_from_the_client(client: Client) -> None:
    seen = Counter(client.infer("scale", scale_input()).model_version for _ in range(40))
    assert set(seen) == {"1", "2"}, seen


def test_a_stream_answers_each_request_in_order(client: Client) -> None:
    batches = [[[1, 2, 3, 4]], [[1, 1, 1, 1]], [[-2, 0, 2, 4]], [[8, 8, 8, 8], [0, 0, 0, 1]]]
    answers = list(client.stream("scale", (scale_input(b) for b in batches), version="2"))
    assert len(answers) == len(batches)
    for batch, answer in zip(batches, answers):
        assert answer.model_version == "2"
        np.testing.assert_allclose(answer["output"], scaled("2", batch), rtol=1e-6)

    # Breaking out of the loop cancels the stream, even while the inputs never end.
    def endless() -> Any:
        while True:
            yield scale_input()

    seen = 0
    for answer in client.stream("scale", endless(), version="1"):
        assert answer.model_version == "1"
        seen += 1
        if seen == 3:
            break
    assert seen == 3
    # Typed, and the channel still serves unary calls afterwards.
    typed = list(client.stream("mlp", [mlp_input()], raw=False))
    assert len(typed) == 1 and typed[0]["output"].shape == (1, 3)
    assert client.infer("mlp", mlp_input()).model_version == "1"


def test_stream_errors_per_message_and_bad_inputs(client: Client) -> None:
    # The node refuses the second message (a wrong shape): the stream carries it as error_message.
    answers = []
    with pytest.raises(InferenceHubError) as err:
        for answer in client.stream("mlp", [mlp_input(), {"input": np.ones((1, 3), dtype=np.float32)}]):
            answers.append(answer)
    assert len(answers) == 1
    assert err.value.code == grpc.StatusCode.UNKNOWN and "shape" in err.value.details

    # An input the encoder refuses ends the stream with the encoder's error, not a gRPC status.
    def inputs() -> Iterator[dict[str, np.ndarray]]:
        yield mlp_input()
        yield {"input": np.array([1j])}

    with pytest.raises(TensorError):
        list(client.stream("mlp", inputs()))


def test_ready_live_and_metadata(client: Client) -> None:
    assert client.live() is True
    assert client.ready() is True
    assert client.ready("scale") is True
    assert client.ready("scale", version="3") is True
    md = client.metadata("mixed")
    assert md.name == "mixed"
    assert [(t.name, t.datatype) for t in md.inputs] == [
        ("a", "FP32"),
        ("b", "INT64"),
        ("c", "INT32"),
        ("flag", "BOOL"),
        ("h", "FP16"),
        ("text", "BYTES"),
    ]
    assert next(t for t in md.outputs if t.name == "sum").shape == [-1, 2]
    assert "2" in client.metadata("scale", version="2").versions


def test_models_lists_what_the_tenant_may_call(stack: Stack, client: Client) -> None:
    listed = client.models()
    assert sorted((m.name, m.version) for m in listed) == [
        ("mixed", "1"),
        ("mlp", "1"),
        ("scale", "1"),
        ("scale", "2"),
        ("scale", "3"),
    ]
    assert all(m.ready and m.state == "READY" for m in listed), listed
    assert [(m.name, m.version) for m in client.models(ready_only=True)] == [(m.name, m.version) for m in listed]
    # Another tenant sees only its own grant; no key is refused, not answered.
    with Client(stack.target, api_key=stack.other_key, timeout=10) as other:
        assert [(m.name, m.version) for m in other.models()] == [("mlp", "1")]
    with Client(stack.target, timeout=10) as anonymous, pytest.raises(Unauthenticated):
        anonymous.models()
