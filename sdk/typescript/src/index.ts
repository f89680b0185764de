/** @inferencehub/client: the TypeScript SDK of InferenceHub (README.md beside src/). */
export {
  Client,
  InferResult,
  MODEL_HEADER,
  VERSION_HEADER,
  type CallOpts,
  type ClientOptions,
  type InferOptions,
  type ModelMetadata,
  type ProxylessOptions,
  type StreamOptions,
  type TensorInfo,
} from "./client.js";
export {
  DeadlineExceededError,
  InferenceHubError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
  status,
  toError,
} from "./errors.js";
export {
  DATATYPES,
  TensorError,
  bytesToStrings,
  decodeOutputs,
  encodeInputs,
  type DataOf,
  type Datatype,
  type Inputs,
  type Tensor,
  type TensorData,
  type TensorInput,
} from "./tensors.js";
