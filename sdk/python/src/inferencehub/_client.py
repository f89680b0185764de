"""The blocking client: Open Inference Protocol gRPC calls through the InferenceHub gateway."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any, Callable, TypeVar

import grpc

from ._errors import Unavailable, error_for, from_rpc_error
from ._proto import grpc_service_pb2 as pb
from ._wire import (
    InferResult,
    ModelIndex,
    ModelMetadata,
    Stub,
    call_metadata,
    infer_request,
    requests_of,
)

T = TypeVar("T")

#: Extra attempts of the read-only calls on UNAVAILABLE, and the first pause (doubling).
DEFAULT_READ_RETRIES = 2
READ_BACKOFF_S = 0.1


def open_channel(
    target: str, credentials: grpc.ChannelCredentials | None, options: Sequence[tuple[str, Any]] | None
) -> grpc.Channel:
    """Plaintext unless credentials are given (the local stack is plaintext)."""
    opts = list(options or [])
    if credentials is not None:
        return grpc.secure_channel(target, credentials, opts)
    return grpc.insecure_channel(target, opts)


class Client:
    """A blocking InferenceHub client on one gRPC channel. Thread-safe, as grpcio channels are.

    `api_key` or `token` (a JWT; it wins when both are given) go as `authorization: Bearer ...`.
    `timeout` (seconds) is each unary call's default deadline (None: no deadline). `credentials`
    (e.g. `grpc.ssl_channel_credentials()`) makes the channel TLS; `options` are grpcio channel
    options. `read_retries`: extra attempts of ready/live/metadata/models on UNAVAILABLE.
    """

    def __init__(
        self,
        target: str,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] | None = None,
        read_retries: int = DEFAULT_READ_RETRIES,
    ) -> None:
        self._bearer = token or api_key
        self._timeout = timeout
        self._read_retries = read_retries
        self.channel = open_channel(target, credentials, options)
        #: The service's methods (`Stub.ModelConfig(...)` etc.), for calls not wrapped here.
        self.stub = Stub(self.channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def infer(
        self,
        model: str,
        inputs: Mapping[str, Any],
        version: str | None = None,
        raw: bool = True,
        outputs: Sequence[str] | None = None,
        timeout: float | None = None,
        *,
        id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> InferResult:
        """Runs `model` once on `inputs` (name -> numpy array). Never retried by the SDK.

        `version` pins the version (default: the gateway's weighted split); `raw=False` sends typed
        `contents`; `outputs` asks for those outputs only. Raises an InferenceHubError subclass.
        """
        request = infer_request(model, inputs, version, raw, outputs, id)
        response = self._unary(self.stub.ModelInfer, request, model, version, timeout, headers)
        return InferResult.from_response(response)

    def stream(
        self,
        model: str,
        inputs: Iterable[Mapping[str, Any]],
        version: str | None = None,
        raw: bool = True,
        outputs: Sequence[str] | None = None,
        timeout: float | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> Generator[InferResult, None, None]:
        """ModelStreamInfer: sends each element of `inputs` on one stream, yields each answer in
        order. Closing the generator (or breaking out of a for loop) cancels the stream. A
        per-message `error_message` raises InferenceHubError (UNKNOWN). `timeout` bounds the whole
        stream (default: none)."""
        pump_error: list[BaseException] = []

        def requests() -> Iterator[pb.ModelInferRequest]:
            # grpcio consumes this on its own thread and only logs what it raises: keep it to rethrow.
            try:
                yield from requests_of(model, inputs, version, raw, outputs)
            except BaseException as err:
                pump_error.append(err)
                raise

        call = self.stub.ModelStreamInfer(
            requests(), metadata=call_metadata(self._bearer, model, version, headers), timeout=timeout
        )
        done = False
        try:
            for message in call:
                if message.error_message:
                    raise error_for(grpc.StatusCode.UNKNOWN, message.error_message)
                yield InferResult.from_response(message.infer_response)
            done = True
        except grpc.RpcError as err:
            if pump_error:
                raise pump_error[0] from None
            raise from_rpc_error(err) from None
        finally:
            if not done:
                call.cancel()

    def ready(self, model: str | None = None, version: str | None = None, timeout: float | None = None) -> bool:
        """ServerReady without a model (the whole gateway), ModelReady with one."""
        if model is None:
            return bool(self._read(self.stub.ServerReady, pb.ServerReadyRequest(), None, None, timeout).ready)
        request = pb.ModelReadyRequest(name=model, version=version or "")
        return bool(self._read(self.stub.ModelReady, request, model, version, timeout).ready)

    def live(self, timeout: float | None = None) -> bool:
        """ServerLive: the gateway is up."""
        return bool(self._read(self.stub.ServerLive, pb.ServerLiveRequest(), None, None, timeout).live)

    def metadata(self, model: str, version: str | None = None, timeout: float | None = None) -> ModelMetadata:
        """ModelMetadata: the model's versions, platform, inputs and outputs."""
        request = pb.ModelMetadataRequest(name=model, version=version or "")
        return ModelMetadata.from_response(self._read(self.stub.ModelMetadata, request, model, version, timeout))

    def models(self, ready_only: bool = False, timeout: float | None = None) -> list[ModelIndex]:
        """RepositoryIndex asked of the gateway itself (no model header): the model versions this
        key's tenant may call, each with its state; `ready_only=True` lists only those a node can take
        now. Sent without the model header, so the gateway answers it rather than a node."""
        request = pb.RepositoryIndexRequest(ready=ready_only)
        return ModelIndex.list_from(self._read(self.stub.RepositoryIndex, request, None, None, timeout))

    def _unary(
        self,
        method: Callable[..., T],
        request: Any,
        model: str | None,
        version: str | None,
        timeout: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        try:
            return method(
                request,
                metadata=call_metadata(self._bearer, model, version, headers),
                timeout=timeout if timeout is not None else self._timeout,
            )
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    def _read(
        self, method: Callable[..., T], request: Any, model: str | None, version: str | None, timeout: float | None
    ) -> T:
        """A read-only call: retried on UNAVAILABLE, since running it twice changes nothing."""
        attempt = 0
        while True:
            try:
                return self._unary(method, request, model, version, timeout)
            except Unavailable:
                if attempt >= self._read_retries:
                    raise
                time.sleep(READ_BACKOFF_S * 2**attempt)
                attempt += 1
