using System;
using System.Collections.Generic;

namespace InferenceHub.Client
{
    /// <summary>
    /// The protocol's raw tensor form, which Triton's binary tensor extension carries: elements
    /// little-endian, back to back; BOOL one byte each (0 or 1); BYTES each element a 4-byte
    /// little-endian length, then its bytes. Numeric arrays are block-copied (no per-element
    /// work) on little-endian machines, which is every machine .NET runs on in practice; the
    /// byte-swapping path keeps big-endian ones correct.
    /// </summary>
    internal static class RawCodec
    {
        /// <summary>The raw bytes of <paramref name="data"/>, the typed array of <paramref name="datatype"/>.</summary>
        public static byte[] Encode(string datatype, Array data)
        {
            switch (datatype)
            {
                case Datatype.Bool:
                    var flags = (bool[])data;
                    var raw = new byte[flags.Length];
                    for (int i = 0; i < flags.Length; i++) raw[i] = flags[i] ? (byte)1 : (byte)0;
                    return raw;
                case Datatype.Bytes:
                    return EncodeBytes((byte[][])data);
                default:
                    int size = Datatype.ElementSize(datatype);
                    var bytes = new byte[checked(data.Length * size)];
                    Buffer.BlockCopy(data, 0, bytes, 0, bytes.Length);
                    if (!BitConverter.IsLittleEndian) SwapInPlace(bytes, size);
                    return bytes;
            }
        }

        /// <summary>
        /// The typed array for <paramref name="raw"/>; <paramref name="name"/> only names the
        /// tensor in the error when the bytes do not fit the datatype.
        /// </summary>
        public static Array Decode(string datatype, byte[] raw, string name)
        {
            switch (datatype)
            {
                case Datatype.Bool:
                    var flags = new bool[raw.Length];
                    for (int i = 0; i < raw.Length; i++) flags[i] = raw[i] != 0;
                    return flags;
                case Datatype.Bytes:
                    return DecodeBytes(raw, name);
            }
            int size = Datatype.ElementSize(datatype);
            if (raw.Length % size != 0)
            {
                throw new TensorException(
                    "tensor '" + name + "': " + raw.Length + " bytes is not a whole number of " + datatype + " elements");
            }
            Array data = NewArray(datatype, raw.Length / size);
            byte[] source = raw;
            if (!BitConverter.IsLittleEndian)
            {
                source = (byte[])raw.Clone();
                SwapInPlace(source, size);
            }
            Buffer.BlockCopy(source, 0, data, 0, source.Length);
            return data;
        }

        /// <summary>BYTES elements: each a 4-byte little-endian length, then the bytes.</summary>
        public static byte[] EncodeBytes(byte[][] elements)
        {
            long total = 0;
            foreach (var e in elements) total += 4 + e.Length;
            var raw = new byte[checked((int)total)];
            int offset = 0;
            foreach (var e in elements)
            {
                WriteUInt32(raw, offset, (uint)e.Length);
                Buffer.BlockCopy(e, 0, raw, offset + 4, e.Length);
                offset += 4 + e.Length;
            }
            return raw;
        }

        /// <summary>Splits raw BYTES into its elements; throws when the lengths do not add up.</summary>
        public static byte[][] DecodeBytes(byte[] raw, string name)
        {
            var elements = new List<byte[]>();
            int offset = 0;
            while (offset < raw.Length)
            {
                if (offset + 4 > raw.Length) throw Malformed(name, offset);
                uint length = (uint)(raw[offset] | raw[offset + 1] << 8 | raw[offset + 2] << 16 | raw[offset + 3] << 24);
                offset += 4;
                if (length > (uint)(raw.Length - offset)) throw Malformed(name, offset);
                var e = new byte[length];
                Buffer.BlockCopy(raw, offset, e, 0, (int)length);
                elements.Add(e);
                offset += (int)length;
            }
            return elements.ToArray();
        }

        /// <summary>An empty typed array of <paramref name="datatype"/> with room for <paramref name="n"/> elements.</summary>
        public static Array NewArray(string datatype, int n)
        {
            switch (datatype)
            {
                case Datatype.Bool: return new bool[n];
                case Datatype.UInt8: return new byte[n];
                case Datatype.UInt16: return new ushort[n];
                case Datatype.UInt32: return new uint[n];
                case Datatype.UInt64: return new ulong[n];
                case Datatype.Int8: return new sbyte[n];
                case Datatype.Int16: return new short[n];
                case Datatype.Int32: return new int[n];
                case Datatype.Int64: return new long[n];
                case Datatype.Fp16: return new ushort[n];
                case Datatype.Fp32: return new float[n];
                case Datatype.Fp64: return new double[n];
                case Datatype.Bytes: return new byte[n][];
                default: throw new TensorException("'" + datatype + "' is not an Open Inference Protocol datatype");
            }
        }

        private static TensorException Malformed(string name, int offset) =>
            new TensorException("tensor '" + name + "': BYTES data is malformed at byte " + offset + " (an element's length overruns the data)");

        private static void WriteUInt32(byte[] buffer, int offset, uint value)
        {
            buffer[offset] = (byte)value;
            buffer[offset + 1] = (byte)(value >> 8);
            buffer[offset + 2] = (byte)(value >> 16);
            buffer[offset + 3] = (byte)(value >> 24);
        }

        private static void SwapInPlace(byte[] bytes, int size)
        {
            if (size == 1) return;
            for (int i = 0; i < bytes.Length; i += size) Array.Reverse(bytes, i, size);
        }
    }
}
