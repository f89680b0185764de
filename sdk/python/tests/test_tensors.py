"""Pure unit tests: every datatype through the encoder and decoder, raw and typed; the retry hint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
import numpy as np
import pytest
from inferencehub._proto import grpc_service_pb2 as pb

from inferencehub import (
    DATATYPES,
    DTYPES,
    InferenceHubError,
    NotFound,
    ResourceExhausted,
    TensorError,
    Unavailable,
    datatype_of,
    decode_outputs,
    encode_inputs,
    to_raw,
)
from inferencehub._errors import error_for


def as_outputs(
    tensors: Sequence[pb.ModelInferRequest.InferInputTensor],
) -> list[pb.ModelInferResponse.InferOutputTensor]:
    """What a server answering these inputs back would send: the same name, datatype, shape, contents."""
    return [
        pb.ModelInferResponse.InferOutputTensor(name=t.name, datatype=t.datatype, shape=t.shape, contents=t.contents)
        for t in tensors
    ]


SAMPLES: dict[str, list[Any]] = {
    "BOOL": [True, False, True, True],
    "UINT8": [0, 1, 254, 255],
    "UINT16": [0, 1, 65534, 65535],
    "UINT32": [0, 1, 2**32 - 2, 2**32 - 1],
    "UINT64": [0, 1, 2**64 - 1, 7],
    "INT8": [-128, -1, 0, 127],
    "INT16": [-32768, -1, 0, 32767],
    "INT32": [-(2**31), -1, 0, 2**31 - 1],
    "INT64": [-(2**63), -1, 0, 2**63 - 1],
    "FP16": [0.5, -1.25, 1000, 0.0999755859375],
    "FP32": [1.5, -2, 0, 3.25],
    "FP64": [np.pi, -np.e, 0, 1e300],
    "BYTES": [b"", b"\x00\xff", "wörld ✓".encode(), b"\x07"],
}


def sample(datatype: str) -> np.ndarray:
    if datatype == "BYTES":
        flat = np.empty(4, dtype=object)
        flat[:] = SAMPLES["BYTES"]
    else:
        flat = np.array(SAMPLES[datatype], dtype=DTYPES[datatype])
    return flat.reshape(2, 2)


def test_every_datatype_is_covered() -> None:
    assert set(DATATYPES) == set(SAMPLES) and len(DATATYPES) == 13


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "typed"])
@pytest.mark.parametrize("datatype", DATATYPES)
def test_round_trip(datatype: str, raw: bool) -> None:
    array = sample(datatype)
    tensors, raw_contents = encode_inputs({"x": array}, raw=raw)
    assert tensors[0].datatype == datatype
    assert list(tensors[0].shape) == [2, 2]
    # FP16 has no typed field: it goes raw whatever was asked.
    assert (len(raw_contents) > 0) == (raw or datatype == "FP16")
    outputs, datatypes = decode_outputs(as_outputs(tensors), raw_contents)
    out = outputs["x"]
    assert datatypes == {"x": datatype}
    assert out.dtype == DTYPES[datatype] and out.shape == (2, 2)
    assert datatype_of(out) == datatype
    if datatype == "BYTES":
        assert out.tolist() == array.tolist() and all(type(v) is bytes for v in out.ravel())
    else:
        assert np.array_equal(out, array)
    assert to_raw(out, datatype) == to_raw(array, datatype)


def test_raw_layout_is_little_endian_and_bytes_are_length_prefixed() -> None:
    assert to_raw(np.array([1, 2], dtype=np.int32)) == b"\x01\x00\x00\x00\x02\x00\x00\x00"
    # A big-endian array is sent little-endian all the same.
    assert to_raw(np.array([1], dtype=">u2")) == b"\x01\x00"
    assert to_raw(np.array([True, False])) == b"\x01\x00"
    assert to_raw(np.array([0.5], dtype=np.float16)) == b"\x00\x38"
    assert to_raw(np.array(["hé", b"x"], dtype=object)) == b"\x03\x00\x00\x00h\xc3\xa9\x01\x00\x00\x00x"


def test_datatypes_from_numpy_strings_and_bad_inputs() -> None:
    tensors, _ = encode_inputs({"s": np.array(["hi", "wörld"]), "b": np.array([b"x"]), "f": [1.0, 2.0]}, raw=False)
    assert [t.datatype for t in tensors] == ["BYTES", "BYTES", "FP64"]
    assert list(tensors[0].contents.bytes_contents) == [b"hi", "wörld".encode()]
    with pytest.raises(TensorError):
        encode_inputs({"c": np.array([1 + 2j])})
    with pytest.raises(TensorError):
        encode_inputs({"o": np.array([1, "a"], dtype=object)})


def test_outputs_that_do_not_fit_their_shape_are_refused() -> None:
    tensors, raw_contents = encode_inputs({"x": np.zeros(4, np.float32)})
    outputs = as_outputs(tensors)
    outputs[0].shape[:] = [3]
    with pytest.raises(TensorError):
        decode_outputs(outputs, raw_contents)
    with pytest.raises(TensorError):
        decode_outputs(outputs, [b"\x00\x00\x00"])


def test_errors_by_status_and_the_retry_hint() -> None:
    assert isinstance(error_for(grpc.StatusCode.NOT_FOUND, "x"), NotFound)
    assert isinstance(error_for(grpc.StatusCode.UNAVAILABLE, "x"), Unavailable)
    other = error_for(grpc.StatusCode.INTERNAL, "boom")
    assert type(other) is InferenceHubError and other.code == grpc.StatusCode.INTERNAL and other.details == "boom"
    rx = grpc.StatusCode.RESOURCE_EXHAUSTED
    assert ResourceExhausted(rx, "x", [("grpc-retry-pushback-ms", "250")]).retry_after == 0.25
    assert ResourceExhausted(rx, "x", [("retry-after", "2")]).retry_after == 2
    hinted = ResourceExhausted(rx, "tenant 'a' is over its rate limit; retry in 40 ms")
    assert hinted.retry_after == pytest.approx(0.04)
    assert ResourceExhausted(rx, "over").retry_after is None
