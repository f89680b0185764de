import type { Tensor } from "onnxruntime-node";

/** Open Inference Protocol datatype names, as on the wire. */
export type KservDatatype =
  | "BOOL"
  | "UINT8"
  | "UINT16"
  | "UINT32"
  | "UINT64"
  | "INT8"
  | "INT16"
  | "INT32"
  | "INT64"
  | "FP16"
  | "FP32"
  | "FP64"
  | "BYTES";

const toOrt: Record<KservDatatype, Tensor.Type> = {
  BOOL: "bool",
  UINT8: "uint8",
  UINT16: "uint16",
  UINT32: "uint32",
  UINT64: "uint64",
  INT8: "int8",
  INT16: "int16",
  INT32: "int32",
  INT64: "int64",
  FP16: "float16",
  FP32: "float32",
  FP64: "float64",
  BYTES: "string",
};

const fromOrt = new Map<Tensor.Type, KservDatatype>(
  Object.entries(toOrt).map(([k, v]) => [v, k as KservDatatype]),
);

export function isKservDatatype(name: string): name is KservDatatype {
  return Object.hasOwn(toOrt, name);
}

export function ortTypeOf(datatype: KservDatatype): Tensor.Type {
  return toOrt[datatype];
}

/** Undefined for ONNX types the protocol cannot carry (int4, uint4). */
export function kservTypeOf(type: Tensor.Type): KservDatatype | undefined {
  return fromOrt.get(type);
}

/** Bytes per element in raw form; BYTES elements are length-prefixed instead. */
export function elementSize(datatype: KservDatatype): number | undefined {
  switch (datatype) {
    case "BOOL":
    case "UINT8":
    case "INT8":
      return 1;
    case "UINT16":
    case "INT16":
    case "FP16":
      return 2;
    case "UINT32":
    case "INT32":
    case "FP32":
      return 4;
    case "UINT64":
    case "INT64":
    case "FP64":
      return 8;
    case "BYTES":
      return undefined;
  }
}
