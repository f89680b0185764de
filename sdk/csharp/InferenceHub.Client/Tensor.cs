using System;
using System.Collections.Generic;
using System.Text;

namespace InferenceHub.Client
{
    /// <summary>
    /// A tensor: its datatype, row-major shape and data as the .NET array for the datatype
    /// (<c>float[]</c> for FP32, <c>long[]</c> for INT64, <c>byte[][]</c> for BYTES, ...). Made by the
    /// <c>From...</c> factories, which check the data against the shape before anything is sent,
    /// and read through the <c>As...</c> accessors, which check the datatype so a model that
    /// answers another type than expected fails loudly instead of being reinterpreted.
    /// Immutable in its name, datatype and shape; the arrays are shared, not copied.
    /// </summary>
    public sealed class Tensor
    {
        private readonly long[] shape;

        private Tensor(string name, string datatype, long[] shape, Array data)
        {
            if (shape == null) throw new ArgumentNullException(nameof(shape));
            if (data == null) throw new ArgumentNullException(nameof(data));
            foreach (var d in shape)
            {
                if (d < 0) throw new TensorException("shape [" + string.Join(",", shape) + "] has a negative dimension");
            }
            long expected = ElementCount(shape);
            if (expected != data.Length)
            {
                throw new TensorException(
                    datatype + " shape [" + string.Join(",", shape) + "] needs " + expected + " elements, the data has " + data.Length);
            }
            Name = name;
            Datatype = datatype;
            this.shape = (long[])shape.Clone();
            Data = data;
        }

        /// <summary>
        /// The tensor's name: set on outputs; on inputs the key of the inputs dictionary names it,
        /// so it may be null (see <see cref="WithName"/>).
        /// </summary>
        public string Name { get; }

        /// <summary>The protocol's datatype (<see cref="Client.Datatype"/>).</summary>
        public string Datatype { get; }

        /// <summary>The shape, row-major.</summary>
        public IReadOnlyList<long> Shape => shape;

        /// <summary>The number of elements (the product of the shape).</summary>
        public long ElementCount() => ElementCount(shape);

        /// <summary>The data as its typed array (see the class summary for which type).</summary>
        public Array Data { get; }

        /// <summary>This tensor with another name (the data is shared).</summary>
        public Tensor WithName(string name) => new Tensor(name, Datatype, shape, Data);

        /// <summary>BOOL.</summary>
        public static Tensor FromBool(bool[] data, params long[] shape) => new Tensor(null, Client.Datatype.Bool, shape, data);
        /// <summary>UINT8.</summary>
        public static Tensor FromUInt8(byte[] data, params long[] shape) => new Tensor(null, Client.Datatype.UInt8, shape, data);
        /// <summary>UINT16.</summary>
        public static Tensor FromUInt16(ushort[] data, params long[] shape) => new Tensor(null, Client.Datatype.UInt16, shape, data);
        /// <summary>UINT32.</summary>
        public static Tensor FromUInt32(uint[] data, params long[] shape) => new Tensor(null, Client.Datatype.UInt32, shape, data);
        /// <summary>UINT64.</summary>
        public static Tensor FromUInt64(ulong[] data, params long[] shape) => new Tensor(null, Client.Datatype.UInt64, shape, data);
        /// <summary>INT8.</summary>
        public static Tensor FromInt8(sbyte[] data, params long[] shape) => new Tensor(null, Client.Datatype.Int8, shape, data);
        /// <summary>INT16.</summary>
        public static Tensor FromInt16(short[] data, params long[] shape) => new Tensor(null, Client.Datatype.Int16, shape, data);
        /// <summary>INT32.</summary>
        public static Tensor FromInt32(int[] data, params long[] shape) => new Tensor(null, Client.Datatype.Int32, shape, data);
        /// <summary>INT64.</summary>
        public static Tensor FromInt64(long[] data, params long[] shape) => new Tensor(null, Client.Datatype.Int64, shape, data);
        /// <summary>FP16 from its IEEE 754 half-precision bits (exact).</summary>
        public static Tensor FromFp16Bits(ushort[] bits, params long[] shape) => new Tensor(null, Client.Datatype.Fp16, shape, bits);
        /// <summary>FP16 from floats, each rounded to the nearest half (<see cref="Float16.FromSingle"/>).</summary>
        public static Tensor FromFp16(float[] values, params long[] shape) => FromFp16Bits(Float16.FromSingles(values), shape);
        /// <summary>FP32.</summary>
        public static Tensor FromFp32(float[] data, params long[] shape) => new Tensor(null, Client.Datatype.Fp32, shape, data);
        /// <summary>FP64.</summary>
        public static Tensor FromFp64(double[] data, params long[] shape) => new Tensor(null, Client.Datatype.Fp64, shape, data);

        /// <summary>BYTES: each element any bytes (none may be null).</summary>
        public static Tensor FromBytes(byte[][] data, params long[] shape)
        {
            if (data == null) throw new ArgumentNullException(nameof(data));
            for (int i = 0; i < data.Length; i++)
            {
                if (data[i] == null) throw new TensorException("BYTES element " + i + " is null");
            }
            return new Tensor(null, Client.Datatype.Bytes, shape, data);
        }

        /// <summary>BYTES from strings, each sent as its UTF-8 bytes.</summary>
        public static Tensor FromStrings(string[] data, params long[] shape)
        {
            if (data == null) throw new ArgumentNullException(nameof(data));
            var bytes = new byte[data.Length][];
            for (int i = 0; i < data.Length; i++)
            {
                if (data[i] == null) throw new TensorException("BYTES element " + i + " is null");
                bytes[i] = Encoding.UTF8.GetBytes(data[i]);
            }
            return new Tensor(null, Client.Datatype.Bytes, shape, bytes);
        }

        /// <summary>
        /// A tensor from the protocol's raw little-endian form (BOOL one byte each, BYTES each
        /// element a 4-byte little-endian length then its bytes): what binary tensor data carries.
        /// </summary>
        public static Tensor FromRaw(string datatype, long[] shape, byte[] raw, string name = null)
        {
            if (raw == null) throw new ArgumentNullException(nameof(raw));
            return new Tensor(name, datatype, shape, RawCodec.Decode(datatype, raw, name));
        }

        /// <summary>A tensor over an array already of the datatype's .NET type (the decoders' way in).</summary>
        internal static Tensor Create(string name, string datatype, long[] shape, Array data) => new Tensor(name, datatype, shape, data);

        /// <summary>The data in the protocol's raw little-endian form (see <see cref="FromRaw"/>).</summary>
        public byte[] ToRaw() => RawCodec.Encode(Datatype, Data);

        /// <summary>BOOL data.</summary>
        public bool[] AsBool() => As<bool[]>(Client.Datatype.Bool);
        /// <summary>UINT8 data.</summary>
        public byte[] AsUInt8() => As<byte[]>(Client.Datatype.UInt8);
        /// <summary>UINT16 data.</summary>
        public ushort[] AsUInt16() => As<ushort[]>(Client.Datatype.UInt16);
        /// <summary>UINT32 data.</summary>
        public uint[] AsUInt32() => As<uint[]>(Client.Datatype.UInt32);
        /// <summary>UINT64 data.</summary>
        public ulong[] AsUInt64() => As<ulong[]>(Client.Datatype.UInt64);
        /// <summary>INT8 data.</summary>
        public sbyte[] AsInt8() => As<sbyte[]>(Client.Datatype.Int8);
        /// <summary>INT16 data.</summary>
        public short[] AsInt16() => As<short[]>(Client.Datatype.Int16);
        /// <summary>INT32 data.</summary>
        public int[] AsInt32() => As<int[]>(Client.Datatype.Int32);
        /// <summary>INT64 data.</summary>
        public long[] AsInt64() => As<long[]>(Client.Datatype.Int64);
        /// <summary>FP16 data as IEEE 754 half-precision bits (exact).</summary>
        public ushort[] AsFp16Bits() => As<ushort[]>(Client.Datatype.Fp16);
        /// <summary>FP16 data widened to floats (exact: every half is a float).</summary>
        public float[] AsFp16() => Float16.ToSingles(AsFp16Bits());
        /// <summary>FP32 data.</summary>
        public float[] AsFp32() => As<float[]>(Client.Datatype.Fp32);
        /// <summary>FP64 data.</summary>
        public double[] AsFp64() => As<double[]>(Client.Datatype.Fp64);
        /// <summary>BYTES data, one byte array per element.</summary>
        public byte[][] AsBytes() => As<byte[][]>(Client.Datatype.Bytes);

        /// <summary>BYTES data decoded as UTF-8 (invalid sequences become U+FFFD).</summary>
        public string[] AsStrings()
        {
            var bytes = AsBytes();
            var strings = new string[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) strings[i] = Encoding.UTF8.GetString(bytes[i]);
            return strings;
        }

        /// <inheritdoc />
        public override string ToString() =>
            (Name ?? "(unnamed)") + " " + Datatype + " [" + string.Join(",", shape) + "]";

        internal static long ElementCount(IEnumerable<long> shape)
        {
            long n = 1;
            foreach (var d in shape) n = checked(n * d);
            return n;
        }

        private T As<T>(string datatype) where T : class
        {
            if (Datatype != datatype)
            {
                throw new TensorException(
                    "tensor '" + (Name ?? "") + "' is " + Datatype + ", not " + datatype);
            }
            return (T)(object)Data;
        }
    }
}
