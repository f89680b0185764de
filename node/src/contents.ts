import type { InferTensorContents } from "../../gen/inference/inference/grpc_service.js";

/** An InferTensorContents with every field empty; kept apart from tensors.ts so clients need no onnxruntime. */
export function emptyContents(): InferTensorContents {
  return {
    boolContents: [],
    intContents: [],
    int64Contents: [],
    uintContents: [],
    uint64Contents: [],
    fp32Contents: [],
    fp64Contents: [],
    bytesContents: [],
  };
}
