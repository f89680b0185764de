/**
 * Triton's ModelConfig extension, filled from the ONNX graph's metadata: what Triton would
 * auto-complete for an onnxruntime model without a config.pbtxt, in Triton's DataType terms.
 */
import { DataType, type ModelConfig } from "../../gen/inference/inference/grpc_service.js";
import type { KservDatatype } from "./datatypes.js";
import type { LoadedVersion } from "./model-repository.js";

const tritonType: Record<KservDatatype, DataType> = {
  BOOL: DataType.TYPE_BOOL,
  UINT8: DataType.TYPE_UINT8,
  UINT16: DataType.TYPE_UINT16,
  UINT32: DataType.TYPE_UINT32,
  UINT64: DataType.TYPE_UINT64,
  INT8: DataType.TYPE_INT8,
  INT16: DataType.TYPE_INT16,
  INT32: DataType.TYPE_INT32,
  INT64: DataType.TYPE_INT64,
  FP16: DataType.TYPE_FP16,
  FP32: DataType.TYPE_FP32,
  FP64: DataType.TYPE_FP64,
  BYTES: DataType.TYPE_STRING,
};

export function tritonDataType(datatype: KservDatatype): DataType {
  return tritonType[datatype];
}

/**
 * max_batch_size is 0: the node does no batching of its own, so dims are each tensor's whole
 * shape as the graph declares it (-1 for a dimension it leaves open, the batch one included).
 */
export function modelConfig(loaded: LoadedVersion): ModelConfig {
  return {
    name: loaded.model,
    platform: "onnxruntime_onnx",
    backend: "onnxruntime",
    maxBatchSize: 0,
    input: loaded.inputs.map((t) => ({ name: t.name, dataType: tritonType[t.datatype], dims: [...t.shape] })),
    output: loaded.outputs.map((t) => ({
      name: t.name,
      dataType: tritonType[t.datatype],
      dims: [...t.shape],
    })),
  };
}
