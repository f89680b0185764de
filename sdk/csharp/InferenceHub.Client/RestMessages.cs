using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using InferenceHub.Client.Json;

namespace InferenceHub.Client
{
    /// <summary>An infer request body: JSON, then (with the binary extension) the raw tensors.</summary>
    internal sealed class InferRequestBody
    {
        public InferRequestBody(byte[] body, int? headerLength)
        {
            Body = body;
            HeaderLength = headerLength;
        }

        public byte[] Body { get; }

        /// <summary>Inference-Header-Content-Length: the JSON's length when binary data follows it; null for plain JSON.</summary>
        public int? HeaderLength { get; }
    }

    /// <summary>
    /// The v2 REST infer request and response, with Triton's binary tensor data extension
    /// (<c>Inference-Header-Content-Length: N</c>: the first N bytes are the JSON header, the rest
    /// the raw tensors, in the order of the tensors that carry <c>parameters.binary_data_size</c>).
    /// Pure: no I/O, so every encoding is unit-tested without a server.
    /// </summary>
    internal static class RestMessages
    {
        /// <summary>The header that says where the JSON ends (lowercase on the wire is equally valid).</summary>
        public const string HeaderLengthHeader = "Inference-Header-Content-Length";

        /// <summary>Builds the body for <paramref name="inputs"/> under <paramref name="options"/>.</summary>
        public static InferRequestBody BuildInferRequest(IDictionary<string, Tensor> inputs, InferOptions options)
        {
            if (inputs == null) throw new ArgumentNullException(nameof(inputs));
            var json = new StringBuilder(256);
            var binary = new List<byte[]>();
            json.Append('{');
            if (!string.IsNullOrEmpty(options.Id)) json.AppendString("id").Append(':').AppendString(options.Id).Append(',');
            json.AppendString("parameters").Append(":{").AppendString("binary_data_output").Append(':')
                .AppendBool(options.BinaryOutputs).Append("},");
            json.AppendString("inputs").Append(":[");
            bool first = true;
            foreach (var pair in inputs)
            {
                if (pair.Key == null) throw new TensorException("an input has no name");
                if (pair.Value == null) throw new TensorException("input '" + pair.Key + "' is null");
                Tensor tensor = pair.Value;
                if (!first) json.Append(',');
                first = false;
                json.Append('{').AppendString("name").Append(':').AppendString(pair.Key)
                    .Append(',').AppendString("datatype").Append(':').AppendString(tensor.Datatype)
                    .Append(',').AppendString("shape").Append(":[");
                for (int i = 0; i < tensor.Shape.Count; i++)
                {
                    if (i > 0) json.Append(',');
                    json.AppendNumber(tensor.Shape[i]);
                }
                json.Append(']');
                if (options.BinaryInputs || tensor.Datatype == Datatype.Fp16)
                {
                    byte[] raw = tensor.ToRaw();
                    binary.Add(raw);
                    json.Append(',').AppendString("parameters").Append(":{").AppendString("binary_data_size")
                        .Append(':').AppendNumber(raw.Length).Append('}');
                }
                else
                {
                    json.Append(',').AppendString("data").Append(':');
                    JsonTensorCodec.AppendData(json, pair.Key, tensor.Datatype, tensor.Data);
                }
                json.Append('}');
            }
            json.Append(']');
            if (options.Outputs != null && options.Outputs.Count > 0)
            {
                json.Append(',').AppendString("outputs").Append(":[");
                for (int i = 0; i < options.Outputs.Count; i++)
                {
                    if (i > 0) json.Append(',');
                    json.Append('{').AppendString("name").Append(':').AppendString(options.Outputs[i])
                        .Append(',').AppendString("parameters").Append(":{").AppendString("binary_data").Append(':')
                        .AppendBool(options.BinaryOutputs).Append("}}");
                }
                json.Append(']');
            }
            json.Append('}');

            byte[] head = Encoding.UTF8.GetBytes(json.ToString());
            if (binary.Count == 0) return new InferRequestBody(head, null);
            using (var body = new MemoryStream())
            {
                body.Write(head, 0, head.Length);
                foreach (var raw in binary) body.Write(raw, 0, raw.Length);
                return new InferRequestBody(body.ToArray(), head.Length);
            }
        }

        /// <summary>
        /// Reads an infer response: JSON alone, or (when <paramref name="headerLength"/> is set)
        /// JSON then each binary output's bytes.
        /// </summary>
        public static InferResult ParseInferResponse(byte[] body, string headerLength)
        {
            int jsonLength = body.Length;
            if (!string.IsNullOrEmpty(headerLength))
            {
                if (!int.TryParse(headerLength.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out jsonLength) || jsonLength > body.Length)
                {
                    throw new FormatException(HeaderLengthHeader + " '" + headerLength + "' does not fit the response's " + body.Length + " bytes");
                }
            }
            var top = JsonReader.Parse(Encoding.UTF8.GetString(body, 0, jsonLength)) as Dictionary<string, object>;
            if (top == null) throw new FormatException("the infer response is not a JSON object");
            var outputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            int offset = jsonLength;
            foreach (var item in List(top, "outputs"))
            {
                var output = item as Dictionary<string, object>;
                if (output == null) throw new FormatException("an output is not a JSON object");
                string name = String(output, "name");
                string datatype = String(output, "datatype");
                long[] shape = Shape(output, name);
                object parameters;
                object size = null;
                var map = output.TryGetValue("parameters", out parameters) ? parameters as Dictionary<string, object> : null;
                if (map != null) map.TryGetValue("binary_data_size", out size);
                Tensor tensor;
                if (size is JsonNumber)
                {
                    long n = ((JsonNumber)size).ToInt64();
                    if (n < 0 || n > body.Length - offset)
                    {
                        throw new FormatException("output '" + name + "': binary_data_size " + n + " overruns the response (" + (body.Length - offset) + " bytes left)");
                    }
                    var raw = new byte[n];
                    Buffer.BlockCopy(body, offset, raw, 0, (int)n);
                    offset += (int)n;
                    tensor = Tensor.FromRaw(datatype, shape, raw, name);
                }
                else
                {
                    object data;
                    if (!output.TryGetValue("data", out data)) throw new FormatException("output '" + name + "' has neither data nor binary_data_size");
                    tensor = Tensor.Create(name, datatype, shape, JsonTensorCodec.ReadData(name, datatype, shape, data));
                }
                outputs[name] = tensor;
            }
            return new InferResult(OptionalString(top, "model_name"), OptionalString(top, "model_version"), OptionalString(top, "id"), outputs);
        }

        /// <summary>Reads a model metadata answer.</summary>
        public static ModelMetadata ParseMetadata(byte[] body)
        {
            var top = JsonReader.Parse(Encoding.UTF8.GetString(body)) as Dictionary<string, object>;
            if (top == null) throw new FormatException("the metadata response is not a JSON object");
            var versions = new List<string>();
            object v;
            if (top.TryGetValue("versions", out v) && v is List<object>)
            {
                foreach (var item in (List<object>)v) versions.Add(Convert.ToString(item is JsonNumber ? ((JsonNumber)item).Text : item, CultureInfo.InvariantCulture));
            }
            return new ModelMetadata(String(top, "name"), versions, OptionalString(top, "platform"), TensorList(top, "inputs"), TensorList(top, "outputs"));
        }

        /// <summary>The gateway's index: a JSON array of <c>{name, version, state, reason}</c>.</summary>
        public static List<ModelIndexEntry> ParseIndex(byte[] body)
        {
            var items = JsonReader.Parse(Encoding.UTF8.GetString(body)) as List<object>;
            if (items == null) throw new FormatException("the repository index is not a JSON array");
            var result = new List<ModelIndexEntry>();
            foreach (var item in items)
            {
                var m = item as Dictionary<string, object>;
                if (m == null) throw new FormatException("a repository index entry is not a JSON object");
                result.Add(new ModelIndexEntry(String(m, "name"), OptionalString(m, "version"), OptionalString(m, "state"), OptionalString(m, "reason")));
            }
            return result;
        }

        private static List<TensorMetadata> TensorList(Dictionary<string, object> top, string key)
        {
            var result = new List<TensorMetadata>();
            object value;
            if (!top.TryGetValue(key, out value) || !(value is List<object>)) return result;
            foreach (var item in (List<object>)value)
            {
                var t = item as Dictionary<string, object>;
                if (t == null) continue;
                string name = String(t, "name");
                result.Add(new TensorMetadata(name, String(t, "datatype"), Shape(t, name)));
            }
            return result;
        }

        private static List<object> List(Dictionary<string, object> obj, string key)
        {
            object value;
            if (!obj.TryGetValue(key, out value)) return new List<object>();
            var list = value as List<object>;
            if (list == null) throw new FormatException("'" + key + "' is not a JSON array");
            return list;
        }

        private static string String(Dictionary<string, object> obj, string key)
        {
            object value;
            if (!obj.TryGetValue(key, out value) || !(value is string)) throw new FormatException("'" + key + "' is missing or not a string");
            return (string)value;
        }

        private static string OptionalString(Dictionary<string, object> obj, string key)
        {
            object value;
            return obj.TryGetValue(key, out value) && value is string ? (string)value : "";
        }

        private static long[] Shape(Dictionary<string, object> obj, string name)
        {
            var list = List(obj, "shape");
            var shape = new long[list.Count];
            for (int i = 0; i < list.Count; i++)
            {
                var n = list[i] as JsonNumber;
                if (n == null) throw new FormatException("'" + name + "': shape must be an array of integers");
                shape[i] = n.ToInt64();
            }
            return shape;
        }
    }
}
