"""inferencehub: the Python SDK of InferenceHub's gateway (Open Inference Protocol, KServe v2 gRPC).

    from inferencehub import Client
    with Client("127.0.0.1:8080", api_key=key, timeout=5) as client:
        result = client.infer("scale", {"input": np.ones((1, 4), np.float32)}, version="2")
        result["output"], result.model_version

See sdk/python/README.md: calls, datatypes, errors and retries.
"""

from ._aio import AsyncClient
from ._client import Client
from ._errors import (
    DeadlineExceeded,
    InferenceHubError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from ._proxyless import configure_proxyless
from ._tensors import DATATYPES, DTYPES, TensorError, datatype_of, decode_outputs, encode_inputs, to_raw
from ._wire import MODEL_HEADER, VERSION_HEADER, InferResult, ModelIndex, ModelMetadata, TensorInfo

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "Client",
    "DATATYPES",
    "DTYPES",
    "DeadlineExceeded",
    "InferResult",
    "InferenceHubError",
    "InvalidArgument",
    "MODEL_HEADER",
    "ModelIndex",
    "ModelMetadata",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "TensorError",
    "TensorInfo",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "VERSION_HEADER",
    "configure_proxyless",
    "datatype_of",
    "decode_outputs",
    "encode_inputs",
    "to_raw",
]
