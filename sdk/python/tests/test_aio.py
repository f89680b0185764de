"""AsyncClient through the real gateway: infer, a pin, a stream, reads, errors, concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import numpy as np
import pytest

from inferencehub import (
    AsyncClient,
    DeadlineExceeded,
    InferenceHubError,
    NotFound,
    TensorError,
    Unauthenticated,
    to_raw,
)

from conftest import Stack, expected_raw, mlp_input, scale_input, vector_inputs


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_async_infer_vectors_pins_and_concurrency(stack: Stack) -> None:
    async def main() -> None:
        async with AsyncClient(stack.target, api_key=stack.api_key, timeout=10) as client:
            for case in stack.vectors["cases"]:
                for raw in (True, False):
                    result = await client.infer(case["model"], vector_inputs(case), version=case["version"], raw=raw)
                    assert result.model_version == case["version"]
                    for o in case["outputs"]:
                        assert to_raw(result[o["name"]], o["datatype"]) == expected_raw(o), o["name"]
            # 20 calls at once on one channel, each answered by its pin.
            pins = [str(1 + i % 2) for i in range(20)]
            results = await asyncio.gather(*(client.infer("scale", scale_input(), version=v) for v in pins))
            assert [r.model_version for r in results] == pins

    run(main())


def test_async_stream_reads_and_models(stack: Stack) -> None:
    async def main() -> None:
        async with AsyncClient(stack.target, api_key=stack.api_key, timeout=10) as client:
            assert await client.live() is True
            assert await client.ready() is True
            assert await client.ready("mlp") is True
            assert (await client.metadata("scale")).versions == ["1", "2", "3"]

            async def inputs() -> AsyncIterator[dict[str, np.ndarray]]:
                for i in range(4):
                    yield scale_input([[i, i, i, i]])

            answers = [r async for r in client.stream("scale", inputs(), version="2")]
            assert [r.model_version for r in answers] == ["2"] * 4
            np.testing.assert_allclose(answers[3]["output"], [[6.2] * 4], rtol=1e-6)
            # A plain iterable works too; leaving the loop early cancels the stream.
            gen = client.stream("scale", [scale_input()] * 5, version="1")
            first = await gen.__anext__()
            assert first.model_version == "1"
            await gen.aclose()
            assert ("scale", "2") in [(m.name, m.version) for m in await client.models()]

    run(main())


def test_async_errors(stack: Stack) -> None:
    async def main() -> None:
        async with AsyncClient(stack.target, api_key=stack.api_key, timeout=10) as client:
            with pytest.raises(NotFound):
                await client.infer("nope", mlp_input())
            with pytest.raises(DeadlineExceeded) as err:
                await client.infer("scale", scale_input(), version="3", timeout=0.5)
            assert err.value.code == grpc.StatusCode.DEADLINE_EXCEEDED

            # In a stream: a message the node refuses (error_message), and an input the encoder refuses.
            bad_shape = [mlp_input(), {"input": np.ones((1, 3), dtype=np.float32)}]
            with pytest.raises(InferenceHubError) as per_message:
                async for _ in client.stream("mlp", bad_shape):
                    pass
            assert per_message.value.code == grpc.StatusCode.UNKNOWN

            async def unencodable() -> AsyncIterator[dict[str, np.ndarray]]:
                yield mlp_input()
                await asyncio.sleep(0.05)
                yield {"input": np.array([1j])}

            seen = 0
            with pytest.raises(TensorError):
                async for _ in client.stream("mlp", unencodable()):
                    seen += 1
            assert seen == 1
        async with AsyncClient(stack.target) as anonymous:
            with pytest.raises(Unauthenticated):
                await anonymous.infer("mlp", mlp_input())

    run(main())
