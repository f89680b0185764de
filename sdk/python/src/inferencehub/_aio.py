"""The asyncio client: the same calls as Client, on grpc.aio."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Mapping, Sequence
from typing import Any, Callable

import grpc
import grpc.aio

from ._client import DEFAULT_READ_RETRIES, READ_BACKOFF_S
from ._errors import Unavailable, error_for, from_rpc_error
from ._proto import grpc_service_pb2 as pb
from ._wire import InferResult, ModelIndex, ModelMetadata, Stub, call_metadata, infer_request

Inputs = Mapping[str, Any]


class AsyncClient:
    """An asyncio InferenceHub client on one grpc.aio channel; the arguments are Client's.

    Create it inside the event loop that uses it (grpc.aio channels are bound to their loop).
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
        opts = list(options or [])
        self.channel = (
            grpc.aio.secure_channel(target, credentials, opts)
            if credentials is not None
            else grpc.aio.insecure_channel(target, opts)
        )
        self.stub = Stub(self.channel)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close(None)

    async def infer(
        self,
        model: str,
        inputs: Inputs,
        version: str | None = None,
        raw: bool = True,
        outputs: Sequence[str] | None = None,
        timeout: float | None = None,
        *,
        id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> InferResult:
        """Client.infer, awaited. Never retried by the SDK."""
        request = infer_request(model, inputs, version, raw, outputs, id)
        response = await self._unary(self.stub.ModelInfer, request, model, version, timeout, headers)
        return InferResult.from_response(response)

    async def stream(
        self,
        model: str,
        inputs: Iterable[Inputs] | AsyncIterable[Inputs],
        version: str | None = None,
        raw: bool = True,
        outputs: Sequence[str] | None = None,
        timeout: float | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[InferResult, None]:
        """Client.stream as an async generator; `inputs` may be an iterable or an async iterable.
        Closing the generator (breaking out of `async for`) cancels the stream."""
        call = self.stub.ModelStreamInfer(
            metadata=call_metadata(self._bearer, model, version, headers), timeout=timeout
        )

        async def pump() -> None:
            # Writes the inputs as the caller produces them, then half-closes.
            if isinstance(inputs, AsyncIterable):
                async for one in inputs:
                    await call.write(infer_request(model, one, version, raw, outputs))
            else:
                for one in inputs:
                    await call.write(infer_request(model, one, version, raw, outputs))
            await call.done_writing()

        writer = asyncio.ensure_future(pump())
        done = False
        try:
            while True:
                read = asyncio.ensure_future(call.read())
                await asyncio.wait({read, writer}, return_when=asyncio.FIRST_COMPLETED)
                if not read.done():
                    if writer.exception() is not None:
                        read.cancel()
                        raise writer.exception()  # type: ignore[misc]
                    await read
                message = read.result()
                if message is grpc.aio.EOF:  # type: ignore[attr-defined]
                    break
                if message.error_message:
                    raise error_for(grpc.StatusCode.UNKNOWN, message.error_message)
                yield InferResult.from_response(message.infer_response)
            done = True
        except grpc.RpcError as err:
            if writer.done() and not writer.cancelled() and writer.exception() is not None:
                raise writer.exception() from None  # type: ignore[misc]
            raise from_rpc_error(err) from None
        finally:
            if not done:
                call.cancel()
            if not writer.done():
                writer.cancel()
            # Retrieve the writer's outcome so that asyncio does not warn of an unread exception.
            await asyncio.gather(writer, return_exceptions=True)

    async def ready(self, model: str | None = None, version: str | None = None, timeout: float | None = None) -> bool:
        """ServerReady without a model (the whole gateway), ModelReady with one."""
        if model is None:
            return bool((await self._read(self.stub.ServerReady, pb.ServerReadyRequest(), None, None, timeout)).ready)
        request = pb.ModelReadyRequest(name=model, version=version or "")
        return bool((await self._read(self.stub.ModelReady, request, model, version, timeout)).ready)

    async def live(self, timeout: float | None = None) -> bool:
        """ServerLive: the gateway is up."""
        return bool((await self._read(self.stub.ServerLive, pb.ServerLiveRequest(), None, None, timeout)).live)

    async def metadata(self, model: str, version: str | None = None, timeout: float | None = None) -> ModelMetadata:
        """ModelMetadata: the model's versions, platform, inputs and outputs."""
        request = pb.ModelMetadataRequest(name=model, version=version or "")
        return ModelMetadata.from_response(await self._read(self.stub.ModelMetadata, request, model, version, timeout))

    async def models(self, ready_only: bool = False, timeout: float | None = None) -> list[ModelIndex]:
        """Client.models, awaited: the model versions this key's tenant may call."""
        request = pb.RepositoryIndexRequest(ready=ready_only)
        return ModelIndex.list_from(await self._read(self.stub.RepositoryIndex, request, None, None, timeout))

    async def _unary(
        self,
        method: Callable[..., Any],
        request: Any,
        model: str | None,
        version: str | None,
        timeout: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        try:
            return await method(
                request,
                metadata=call_metadata(self._bearer, model, version, headers),
                timeout=timeout if timeout is not None else self._timeout,
            )
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    async def _read(
        self, method: Callable[..., Any], request: Any, model: str | None, version: str | None, timeout: float | None
    ) -> Any:
        """A read-only call: retried on UNAVAILABLE, since running it twice changes nothing."""
        attempt = 0
        while True:
            try:
                return await self._unary(method, request, model, version, timeout)
            except Unavailable:
                if attempt >= self._read_retries:
                    raise
                await asyncio.sleep(READ_BACKOFF_S * 2**attempt)
                attempt += 1
