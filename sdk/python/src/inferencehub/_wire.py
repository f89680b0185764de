"""What the sync and async clients share: method paths, headers, requests and results.

The methods are called by their real paths (`/inference.GRPCInferenceService/...`): the generated
messages live under a renamed proto package (see setup.py), which is not on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ._proto import grpc_service_pb2 as pb
from ._tensors import decode_outputs, encode_inputs

#: The gateway's routing headers (docs/DESIGN.md, "Contracts").
MODEL_HEADER = "inferencehub-model"
VERSION_HEADER = "inferencehub-model-version"

SERVICE = "/inference.GRPCInferenceService/"

#: name -> (request type, response type, streaming)
METHODS: dict[str, tuple[Any, Any, bool]] = {
    "ServerLive": (pb.ServerLiveRequest, pb.ServerLiveResponse, False),
    "ServerReady": (pb.ServerReadyRequest, pb.ServerReadyResponse, False),
    "ModelReady": (pb.ModelReadyRequest, pb.ModelReadyResponse, False),
    "ServerMetadata": (pb.ServerMetadataRequest, pb.ServerMetadataResponse, False),
    "ModelMetadata": (pb.ModelMetadataRequest, pb.ModelMetadataResponse, False),
    "ModelInfer": (pb.ModelInferRequest, pb.ModelInferResponse, False),
    "ModelStreamInfer": (pb.ModelInferRequest, pb.ModelStreamInferResponse, True),
    "ModelConfig": (pb.ModelConfigRequest, pb.ModelConfigResponse, False),
    "ModelStatistics": (pb.ModelStatisticsRequest, pb.ModelStatisticsResponse, False),
    "RepositoryIndex": (pb.RepositoryIndexRequest, pb.RepositoryIndexResponse, False),
}


class Stub:
    """The service's methods on a channel, sync (grpc.Channel) or async (grpc.aio.Channel) alike:
    both build multicallables with the same signature."""

    def __init__(self, channel: Any) -> None:
        for name, (req, res, streaming) in METHODS.items():
            factory = channel.stream_stream if streaming else channel.unary_unary
            setattr(
                self,
                name,
                factory(SERVICE + name, request_serializer=req.SerializeToString, response_deserializer=res.FromString),
            )

    def __getattr__(self, name: str) -> Callable[..., Any]:  # for type checkers: methods are set above
        raise AttributeError(name)


class InferResult(dict):  # type: ignore[type-arg]
    """What `infer` answers: a dict of output name -> numpy array, plus who answered.

    `model_version` is the version that answered (the pin, or the one the gateway's split chose);
    `datatypes` the protocol datatype of each output as the server named it.
    """

    model_name: str
    model_version: str
    id: str
    datatypes: dict[str, str]

    def __init__(
        self, outputs: Mapping[str, np.ndarray], model_name: str, model_version: str, id: str, datatypes: dict[str, str]
    ) -> None:
        super().__init__(outputs)
        self.model_name = model_name
        self.model_version = model_version
        self.id = id
        self.datatypes = datatypes

    def __repr__(self) -> str:
        return (
            f"InferResult(model_name={self.model_name!r}, model_version={self.model_version!r}, "
            f"id={self.id!r}, outputs={dict.__repr__(self)})"
        )

    @classmethod
    def from_response(cls, response: pb.ModelInferResponse) -> InferResult:
        arrays, datatypes = decode_outputs(response.outputs, response.raw_output_contents)
        return cls(arrays, response.model_name, response.model_version, response.id, datatypes)


@dataclass(frozen=True)
class TensorInfo:
    """An input or output a model declares; -1 in `shape` marks a variable-size dimension."""

    name: str
    datatype: str
    shape: list[int]


@dataclass(frozen=True)
class ModelMetadata:
    """ModelMetadata's answer: the model's versions, platform, inputs and outputs."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)

    @classmethod
    def from_response(cls, r: pb.ModelMetadataResponse) -> ModelMetadata:
        def info(t: Any) -> TensorInfo:
            return TensorInfo(t.name, t.datatype, list(t.shape))

        return cls(r.name, list(r.versions), r.platform, [info(t) for t in r.inputs], [info(t) for t in r.outputs])


def call_metadata(
    bearer: str | None,
    model: str | None,
    version: str | None,
    extra: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """Request metadata: the caller's extra headers, the bearer credential, the routing headers."""
    md = [(k.lower(), v) for k, v in (extra or {}).items()]
    if bearer:
        md.append(("authorization", f"Bearer {bearer}"))
    if model is not None:
        md.append((MODEL_HEADER, model))
    if version:
        md.append((VERSION_HEADER, version))
    return md


def infer_request(
    model: str,
    inputs: Mapping[str, Any],
    version: str | None,
    raw: bool,
    outputs: Sequence[str] | None,
    id: str | None = None,
) -> pb.ModelInferRequest:
    """The body names the model and version too (the same as the headers)."""
    tensors, raw_contents = encode_inputs(inputs, raw)
    return pb.ModelInferRequest(
        model_name=model,
        model_version=version or "",
        id=id or "",
        inputs=tensors,
        outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name=n) for n in (outputs or [])],
        raw_input_contents=raw_contents,
    )


def requests_of(
    model: str, inputs: Iterable[Mapping[str, Any]], version: str | None, raw: bool, outputs: Sequence[str] | None
) -> Iterable[pb.ModelInferRequest]:
    for one in inputs:
        yield infer_request(model, one, version, raw, outputs)


@dataclass(frozen=True)
class ModelIndex:
    """One model version the caller's tenant may call, as the gateway's RepositoryIndex lists it.

    `state` is "READY" when a node of this version can take calls now ("UNAVAILABLE" otherwise,
    with `reason` saying why).
    """

    name: str
    version: str
    state: str
    reason: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "READY"

    @classmethod
    def list_from(cls, r: pb.RepositoryIndexResponse) -> list[ModelIndex]:
        return [cls(m.name, m.version, m.state, m.reason) for m in r.models]
