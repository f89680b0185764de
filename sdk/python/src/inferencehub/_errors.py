"""Errors carrying the gRPC status of the failed call, one class per status a caller acts on."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Union

import grpc

MetadataLike = Union[Mapping[str, Any], Sequence[tuple[str, Any]], None]


def _as_dict(metadata: MetadataLike) -> dict[str, str]:
    """Trailers as a dict (the first value of each key); binary values decoded latin-1."""
    out: dict[str, str] = {}
    if metadata is None:
        return out
    items = metadata.items() if isinstance(metadata, Mapping) else metadata
    for key, value in items:
        if key not in out:
            out[key] = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return out


class InferenceHubError(Exception):
    """Every failed call: `code` is the gRPC status, `details` the server's message, `metadata` the
    trailers it came with (a dict of the first value per key)."""

    def __init__(self, code: grpc.StatusCode, details: str, metadata: MetadataLike = None) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details
        self.metadata = _as_dict(metadata)


class NotFound(InferenceHubError):
    """NOT_FOUND: the gateway serves no such model, or no such version of it."""


class PermissionDenied(InferenceHubError):
    """PERMISSION_DENIED: the key or token is valid but may not call this model or version."""


class Unauthenticated(InferenceHubError):
    """UNAUTHENTICATED: no credentials, or ones the gateway does not accept."""


class Unavailable(InferenceHubError):
    """UNAVAILABLE: no node could take the call, one failed under it, or the gateway is unreachable.
    Not proof that the call never ran: see the README, "Retries"."""


class DeadlineExceeded(InferenceHubError):
    """DEADLINE_EXCEEDED: the call's timeout passed before an answer came."""


class InvalidArgument(InferenceHubError):
    """INVALID_ARGUMENT: the server refused the request (input names, shapes, datatypes)."""


class Unimplemented(InferenceHubError):
    """UNIMPLEMENTED: the gateway (or this SDK, for `models()`) has no such call."""


class ResourceExhausted(InferenceHubError):
    """RESOURCE_EXHAUSTED: over a rate limit. `retry_after` is the server's hint in seconds, or None."""

    def __init__(self, code: grpc.StatusCode, details: str, metadata: MetadataLike = None) -> None:
        super().__init__(code, details, metadata)
        self.retry_after: float | None = retry_hint(self.metadata, details)


_RETRY_IN = re.compile(r"retry in (\d+(?:\.\d+)?) ?ms", re.IGNORECASE)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        n = float(value.strip())
    except ValueError:
        return None
    return n if n >= 0 and n == n and n != float("inf") else None


def retry_hint(metadata: Mapping[str, str], details: str) -> float | None:
    """Seconds to wait: `grpc-retry-pushback-ms` (gRFC A6), else `retry-after` (seconds), else
    "retry in N ms" in the message (the gateway's local rate limit says it there)."""
    pushback = _number(metadata.get("grpc-retry-pushback-ms"))
    if pushback is not None:
        return pushback / 1000
    after = _number(metadata.get("retry-after"))
    if after is not None:
        return after
    m = _RETRY_IN.search(details)
    return float(m.group(1)) / 1000 if m else None


_CLASSES: dict[grpc.StatusCode, type[InferenceHubError]] = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
}


def error_for(code: grpc.StatusCode, details: str, metadata: MetadataLike = None) -> InferenceHubError:
    """The typed error for a status."""
    return _CLASSES.get(code, InferenceHubError)(code, details, metadata)


def from_rpc_error(err: grpc.RpcError) -> InferenceHubError:
    """The typed error for a grpcio (sync or aio) failure: both carry code(), details() and
    trailing_metadata()."""
    call: Any = err
    code = call.code() if callable(getattr(call, "code", None)) else grpc.StatusCode.UNKNOWN
    details = call.details() if callable(getattr(call, "details", None)) else str(err)
    trailers = call.trailing_metadata() if callable(getattr(call, "trailing_metadata", None)) else None
    return error_for(code or grpc.StatusCode.UNKNOWN, details or "", trailers)
