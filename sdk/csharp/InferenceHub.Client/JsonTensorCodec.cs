using System;
using System.Collections.Generic;
using System.Text;
using InferenceHub.Client.Json;

namespace InferenceHub.Client
{
    /// <summary>
    /// Tensor data in the REST protocol's JSON form: <c>data</c> a flat row-major array (nested
    /// arrays are read too) of numbers, true/false for BOOL and strings for BYTES. Only values
    /// that survive the trip exactly are written: no NaN or infinities (JSON has none), 64-bit
    /// integers within ±2^53 (servers that parse JSON numbers as doubles, Node's among them,
    /// would round the rest), BYTES that are valid UTF-8. Anything else must go as binary data.
    /// </summary>
    internal static class JsonTensorCodec
    {
        /// <summary>2^53: the integers a double holds exactly.</summary>
        private const long MaxExactInteger = 9007199254740992L;

        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        /// <summary>Appends the tensor's data as a JSON array.</summary>
        public static void AppendData(StringBuilder json, string name, string datatype, Array data)
        {
            json.Append('[');
            int n = data.Length;
            for (int i = 0; i < n; i++)
            {
                if (i > 0) json.Append(',');
                switch (datatype)
                {
                    case Datatype.Bool: json.AppendBool(((bool[])data)[i]); break;
                    case Datatype.UInt8: json.AppendNumber(((byte[])data)[i]); break;
                    case Datatype.UInt16: json.AppendNumber(((ushort[])data)[i]); break;
                    case Datatype.UInt32: json.AppendNumber(((uint[])data)[i]); break;
                    case Datatype.UInt64:
                        ulong u = ((ulong[])data)[i];
                        if (u > MaxExactInteger) throw Inexact(name, datatype, u.ToString());
                        json.AppendNumber(u);
                        break;
                    case Datatype.Int8: json.AppendNumber(((sbyte[])data)[i]); break;
                    case Datatype.Int16: json.AppendNumber(((short[])data)[i]); break;
                    case Datatype.Int32: json.AppendNumber(((int[])data)[i]); break;
                    case Datatype.Int64:
                        long l = ((long[])data)[i];
                        if (l > MaxExactInteger || l < -MaxExactInteger) throw Inexact(name, datatype, l.ToString());
                        json.AppendNumber(l);
                        break;
                    case Datatype.Fp16: json.AppendNumber((double)Float16.ToSingle(((ushort[])data)[i])); break;
                    case Datatype.Fp32: json.AppendNumber((double)((float[])data)[i]); break;
                    case Datatype.Fp64: json.AppendNumber(((double[])data)[i]); break;
                    case Datatype.Bytes:
                        string text;
                        try
                        {
                            text = StrictUtf8.GetString(((byte[][])data)[i]);
                        }
                        catch (DecoderFallbackException)
                        {
                            throw new TensorException(
                                "input '" + name + "': BYTES element " + i + " is not UTF-8, which JSON cannot carry; send it as binary data");
                        }
                        json.AppendString(text);
                        break;
                    default:
                        throw new TensorException("input '" + name + "': '" + datatype + "' is not an Open Inference Protocol datatype");
                }
            }
            json.Append(']');
        }

        /// <summary>
        /// The typed array for a JSON <c>data</c> value (flat or nested, row-major) of a tensor of
        /// <paramref name="datatype"/> and <paramref name="shape"/>.
        /// </summary>
        public static Array ReadData(string name, string datatype, long[] shape, object data)
        {
            var values = new List<object>();
            Flatten(name, data, values, 0);
            long expected = Tensor.ElementCount(shape);
            if (values.Count != expected)
            {
                throw new TensorException(
                    "output '" + name + "': shape [" + string.Join(",", shape) + "] needs " + expected + " elements, data has " + values.Count);
            }
            Array result = RawCodec.NewArray(datatype, values.Count);
            for (int i = 0; i < values.Count; i++)
            {
                object v = values[i];
                try
                {
                    switch (datatype)
                    {
                        case Datatype.Bool: ((bool[])result)[i] = (bool)v; break;
                        case Datatype.UInt8: ((byte[])result)[i] = checked((byte)Number(v).ToUInt64()); break;
                        case Datatype.UInt16: ((ushort[])result)[i] = checked((ushort)Number(v).ToUInt64()); break;
                        case Datatype.UInt32: ((uint[])result)[i] = checked((uint)Number(v).ToUInt64()); break;
                        case Datatype.UInt64: ((ulong[])result)[i] = Number(v).ToUInt64(); break;
                        case Datatype.Int8: ((sbyte[])result)[i] = checked((sbyte)Number(v).ToInt64()); break;
                        case Datatype.Int16: ((short[])result)[i] = checked((short)Number(v).ToInt64()); break;
                        case Datatype.Int32: ((int[])result)[i] = checked((int)Number(v).ToInt64()); break;
                        case Datatype.Int64: ((long[])result)[i] = Number(v).ToInt64(); break;
                        case Datatype.Fp16: ((ushort[])result)[i] = Float16.FromSingle((float)Number(v).ToDouble()); break;
                        case Datatype.Fp32: ((float[])result)[i] = (float)Number(v).ToDouble(); break;
                        case Datatype.Fp64: ((double[])result)[i] = Number(v).ToDouble(); break;
                        case Datatype.Bytes: ((byte[][])result)[i] = Encoding.UTF8.GetBytes((string)v); break;
                    }
                }
                catch (Exception e) when (e is InvalidCastException || e is FormatException || e is OverflowException || e is NullReferenceException || e is ArgumentNullException)
                {
                    throw new TensorException(
                        "output '" + name + "': element " + i + " (" + (v ?? "null") + ") is not a " + datatype + " value");
                }
            }
            return result;
        }

        private static JsonNumber Number(object v) => (JsonNumber)v;

        private static void Flatten(string name, object data, List<object> into, int depth)
        {
            var list = data as List<object>;
            if (list == null)
            {
                if (depth == 0) throw new TensorException("output '" + name + "': data must be a JSON array");
                into.Add(data);
                return;
            }
            if (depth > 64) throw new TensorException("output '" + name + "': data is nested too deep");
            foreach (var item in list) Flatten(name, item, into, depth + 1);
        }

        private static TensorException Inexact(string name, string datatype, string value) =>
            new TensorException(
                "input '" + name + "': " + datatype + " " + value + " is beyond ±2^53, which JSON numbers do not carry exactly; send it as binary data");
    }
}
