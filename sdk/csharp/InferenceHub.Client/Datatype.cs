using System;
using System.Collections.Generic;

namespace InferenceHub.Client
{
    /// <summary>
    /// The Open Inference Protocol's tensor datatypes, as the protocol spells them on the wire.
    /// Strings rather than an enum so that a datatype a server adds later still reaches the caller
    /// (as a tensor with raw bytes) instead of failing the whole response.
    /// </summary>
    public static class Datatype
    {
        /// <summary>One byte per element, 0 or 1.</summary>
        public const string Bool = "BOOL";
        /// <summary>Unsigned 8-bit integers (<c>byte[]</c>).</summary>
        public const string UInt8 = "UINT8";
        /// <summary>Unsigned 16-bit integers (<c>ushort[]</c>).</summary>
        public const string UInt16 = "UINT16";
        /// <summary>Unsigned 32-bit integers (<c>uint[]</c>).</summary>
        public const string UInt32 = "UINT32";
        /// <summary>Unsigned 64-bit integers (<c>ulong[]</c>).</summary>
        public const string UInt64 = "UINT64";
        /// <summary>Signed 8-bit integers (<c>sbyte[]</c>).</summary>
        public const string Int8 = "INT8";
        /// <summary>Signed 16-bit integers (<c>short[]</c>).</summary>
        public const string Int16 = "INT16";
        /// <summary>Signed 32-bit integers (<c>int[]</c>).</summary>
        public const string Int32 = "INT32";
        /// <summary>Signed 64-bit integers (<c>long[]</c>).</summary>
        public const string Int64 = "INT64";
        /// <summary>IEEE 754 half precision, carried as its bits (<c>ushort[]</c>; see <see cref="Float16"/>).</summary>
        public const string Fp16 = "FP16";
        /// <summary>IEEE 754 single precision (<c>float[]</c>).</summary>
        public const string Fp32 = "FP32";
        /// <summary>IEEE 754 double precision (<c>double[]</c>).</summary>
        public const string Fp64 = "FP64";
        /// <summary>Byte strings of any length (<c>byte[][]</c>; UTF-8 text through the string helpers).</summary>
        public const string Bytes = "BYTES";

        /// <summary>Every datatype of the protocol.</summary>
        public static readonly IReadOnlyList<string> All = new[]
        {
            Bool, UInt8, UInt16, UInt32, UInt64, Int8, Int16, Int32, Int64, Fp16, Fp32, Fp64, Bytes,
        };

        /// <summary>
        /// Bytes per element in the raw form; 0 for BYTES, whose elements each carry their own
        /// length. Throws for a name the protocol does not have.
        /// </summary>
        public static int ElementSize(string datatype)
        {
            switch (datatype)
            {
                case Bool:
                case UInt8:
                case Int8:
                    return 1;
                case UInt16:
                case Int16:
                case Fp16:
                    return 2;
                case UInt32:
                case Int32:
                case Fp32:
                    return 4;
                case UInt64:
                case Int64:
                case Fp64:
                    return 8;
                case Bytes:
                    return 0;
                default:
                    throw new TensorException("'" + datatype + "' is not an Open Inference Protocol datatype");
            }
        }

        /// <summary>Whether <paramref name="datatype"/> is one of the protocol's.</summary>
        public static bool IsKnown(string datatype)
        {
            foreach (var d in All)
            {
                if (string.Equals(d, datatype, StringComparison.Ordinal)) return true;
            }
            return false;
        }
    }
}
