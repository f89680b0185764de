"""numpy arrays to and from the Open Inference Protocol's two wire forms.

Typed `contents` fields, and raw little-endian bytes (`raw_input_contents` / `raw_output_contents`).
Pure: no gRPC here, only the generated messages, so that every datatype can be unit tested.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._proto import grpc_service_pb2 as pb

#: Every datatype of the protocol, and the numpy dtype each one travels as in this SDK.
#: BYTES is an object array whose elements are `bytes` (str inputs are encoded UTF-8).
DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
DATATYPES: tuple[str, ...] = tuple(DTYPES)

_BY_DTYPE = {dt: name for name, dt in DTYPES.items() if name != "BYTES"}

#: The typed field each datatype is carried in (FP16 has none: it can only travel raw).
_TYPED_FIELD = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}

_U32 = struct.Struct("<I")


class TensorError(TypeError):
    """An input that does not fit its datatype or shape (raised before anything is sent), or an
    output the server encoded inconsistently."""


def datatype_of(array: np.ndarray) -> str:
    """The protocol datatype of a numpy array: by dtype; str, bytes and object arrays are BYTES."""
    if array.dtype.kind in ("O", "U", "S"):
        return "BYTES"
    datatype = _BY_DTYPE.get(array.dtype.newbyteorder("="))
    if datatype is None:
        raise TensorError(f"numpy dtype {array.dtype} has no Open Inference Protocol datatype")
    return datatype


def _as_bytes_elements(name: str, array: np.ndarray) -> list[bytes]:
    out: list[bytes] = []
    for v in array.ravel():
        if isinstance(v, (bytes, bytearray, memoryview)):
            out.append(bytes(v))
        elif isinstance(v, str):
            out.append(v.encode("utf-8"))
        else:
            raise TensorError(f"input '{name}': BYTES takes bytes or str elements, not {type(v).__name__}")
    return out


def as_array(name: str, value: Any) -> np.ndarray:
    """An input as a numpy array (lists are converted by numpy's rules: give a dtype to be exact)."""
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    if array.dtype.kind == "O":
        # An object array must be all bytes/str: checked when encoded.
        return array
    datatype_of(array)  # refuses dtypes the protocol lacks (complex, datetime...)
    return array


def to_raw(array: np.ndarray, datatype: str | None = None) -> bytes:
    """The protocol's raw form: little-endian, row-major; BOOL one byte each; BYTES as a
    4-byte little-endian length then the bytes, per element."""
    datatype = datatype or datatype_of(array)
    if datatype == "BYTES":
        return b"".join(_U32.pack(len(e)) + e for e in _as_bytes_elements("tensor", array))
    dtype = DTYPES[datatype].newbyteorder("<")
    return np.ascontiguousarray(array, dtype=dtype).tobytes()


def _typed_contents(name: str, datatype: str, array: np.ndarray) -> pb.InferTensorContents:
    contents = pb.InferTensorContents()
    if datatype == "BYTES":
        contents.bytes_contents.extend(_as_bytes_elements(name, array))
        return contents
    field = _TYPED_FIELD.get(datatype)
    if field is None:
        raise TensorError(f"input '{name}': {datatype} has no typed form; send it raw")
    getattr(contents, field).extend(array.ravel().tolist())
    return contents


def encode_inputs(
    inputs: Mapping[str, Any], raw: bool = True
) -> tuple[list[pb.ModelInferRequest.InferInputTensor], list[bytes]]:
    """The request's input tensors and raw contents.

    Raw (the default) unless `raw` is False; an FP16 input forces raw for the whole request, since
    FP16 has no typed field and the protocol's raw form is all or nothing per request.
    """
    entries = []
    for name, value in inputs.items():
        array = as_array(name, value)
        entries.append((name, datatype_of(array), array))
    as_raw = raw or any(d == "FP16" for _, d, _ in entries)
    tensors = []
    raw_contents: list[bytes] = []
    for name, datatype, array in entries:
        tensor = pb.ModelInferRequest.InferInputTensor(name=name, datatype=datatype, shape=list(array.shape))
        if as_raw:
            raw_contents.append(to_raw(array, datatype))
        else:
            tensor.contents.CopyFrom(_typed_contents(name, datatype, array))
        tensors.append(tensor)
    return tensors, raw_contents


def _parse_raw_bytes(name: str, buf: bytes) -> list[bytes]:
    out: list[bytes] = []
    offset = 0
    while offset < len(buf):
        if offset + 4 > len(buf):
            raise TensorError(f"output '{name}': truncated BYTES length")
        (length,) = _U32.unpack_from(buf, offset)
        end = offset + 4 + length
        if end > len(buf):
            raise TensorError(f"output '{name}': truncated BYTES element")
        out.append(bytes(buf[offset + 4 : end]))
        offset = end
    return out


def _object_array(elements: Sequence[bytes]) -> np.ndarray:
    array = np.empty(len(elements), dtype=object)
    array[:] = list(elements)
    return array


def _shaped(name: str, flat: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    count = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    if flat.size != count:
        raise TensorError(f"output '{name}': shape {list(shape)} holds {count} elements, the data has {flat.size}")
    return flat.reshape(tuple(shape))


def from_raw(name: str, datatype: str, buf: bytes, shape: Sequence[int]) -> np.ndarray:
    """A raw tensor as a fresh, writable, native-endian numpy array of its shape."""
    if datatype == "BYTES":
        return _shaped(name, _object_array(_parse_raw_bytes(name, buf)), shape)
    dtype = DTYPES.get(datatype)
    if dtype is None:
        raise TensorError(f"output '{name}': unknown datatype '{datatype}'")
    if datatype == "BOOL":
        flat = np.frombuffer(buf, dtype=np.uint8) != 0
    else:
        if len(buf) % dtype.itemsize:
            raise TensorError(f"output '{name}': {len(buf)} bytes is not a whole number of {datatype}")
        flat = np.frombuffer(buf, dtype=dtype.newbyteorder("<")).astype(dtype)  # a copy, native order
    return _shaped(name, flat, shape)


def from_contents(name: str, datatype: str, contents: pb.InferTensorContents, shape: Sequence[int]) -> np.ndarray:
    """A typed tensor as a numpy array of its shape."""
    if datatype == "BYTES":
        return _shaped(name, _object_array(list(contents.bytes_contents)), shape)
    dtype = DTYPES.get(datatype)
    if dtype is None:
        raise TensorError(f"output '{name}': unknown datatype '{datatype}'")
    field = _TYPED_FIELD.get(datatype)
    if field is None:
        raise TensorError(f"output '{name}': {datatype} came in typed form, which it has none of")
    return _shaped(name, np.array(list(getattr(contents, field)), dtype=dtype), shape)


def decode_outputs(
    outputs: Sequence[pb.ModelInferResponse.InferOutputTensor], raw_output_contents: Sequence[bytes]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The response's outputs as numpy arrays (whichever form the server answered in), and each
    output's datatype as the server named it."""
    raw = len(raw_output_contents) > 0
    if raw and len(raw_output_contents) != len(outputs):
        raise TensorError(f"{len(outputs)} outputs but {len(raw_output_contents)} raw output contents")
    arrays: dict[str, np.ndarray] = {}
    datatypes: dict[str, str] = {}
    for i, o in enumerate(outputs):
        shape = list(o.shape)
        if raw:
            arrays[o.name] = from_raw(o.name, o.datatype, raw_output_contents[i], shape)
        else:
            arrays[o.name] = from_contents(o.name, o.datatype, o.contents, shape)
        datatypes[o.name] = o.datatype
    return arrays, datatypes
