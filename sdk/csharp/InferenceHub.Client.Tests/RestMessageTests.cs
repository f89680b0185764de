using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using InferenceHub.Client.Json;
using NUnit.Framework;

namespace InferenceHub.Client.Tests
{
    /// <summary>Pure unit tests of the REST request and response bodies (binary extension and JSON).</summary>
    [TestFixture]
    public class RestMessageTests
    {
        private static Dictionary<string, Tensor> Inputs() => new Dictionary<string, Tensor>
        {
            { "a", Tensor.FromFp32(new[] { 1f, 2f }, 1, 2) },
            { "h", Tensor.FromFp16Bits(new ushort[] { 0x3c00 }, 1) },
            { "t", Tensor.FromStrings(new[] { "hi" }, 1) },
        };

        private static Dictionary<string, object> Header(InferRequestBody body) =>
            (Dictionary<string, object>)JsonReader.Parse(Encoding.UTF8.GetString(body.Body, 0, body.HeaderLength ?? body.Body.Length));

        [Test]
        public void BinaryRequestsPutTheJsonHeaderFirstThenEachTensorsRawBytesInOrder()
        {
            var body = RestMessages.BuildInferRequest(Inputs(), new InferOptions { Id = "req-1", Outputs = new[] { "out" } });
            Assert.IsTrue(body.HeaderLength.HasValue);
            var header = Header(body);
            Assert.AreEqual("req-1", header["id"]);
            Assert.AreEqual(true, ((Dictionary<string, object>)header["parameters"])["binary_data_output"]);
            var inputs = ((List<object>)header["inputs"]).Cast<Dictionary<string, object>>().ToList();
            CollectionAssert.AreEqual(new[] { "a", "h", "t" }, inputs.Select(i => (string)i["name"]));
            CollectionAssert.AreEqual(new[] { "FP32", "FP16", "BYTES" }, inputs.Select(i => (string)i["datatype"]));
            CollectionAssert.AreEqual(new[] { "8", "2", "6" }, inputs.Select(i => ((JsonNumber)((Dictionary<string, object>)i["parameters"])["binary_data_size"]).Text));
            Assert.IsFalse(inputs.Any(i => i.ContainsKey("data")));
            var output = (Dictionary<string, object>)((List<object>)header["outputs"])[0];
            Assert.AreEqual("out", output["name"]);
            Assert.AreEqual(true, ((Dictionary<string, object>)output["parameters"])["binary_data"]);
            var binary = body.Body.Skip(body.HeaderLength.Value).ToArray();
            Assert.AreEqual("00-00-80-3F-00-00-00-40-00-3C-02-00-00-00-68-69", Expect.Hex(binary));
        }

        [Test]
        public void JsonRequestsCarryDataInlineExceptFp16()
        {
            var body = RestMessages.BuildInferRequest(Inputs(), new InferOptions { BinaryInputs = false, BinaryOutputs = false });
            var header = Header(body);
            Assert.AreEqual(false, ((Dictionary<string, object>)header["parameters"])["binary_data_output"]);
            Assert.IsFalse(header.ContainsKey("id"));
            Assert.IsFalse(header.ContainsKey("outputs"));
            var inputs = ((List<object>)header["inputs"]).Cast<Dictionary<string, object>>().ToList();
            CollectionAssert.AreEqual(new[] { "1", "2" }, ((List<object>)inputs[0]["data"]).Select(n => ((JsonNumber)n).Text));
            Assert.AreEqual("hi", ((List<object>)inputs[2]["data"])[0]);
            Assert.IsFalse(inputs[1].ContainsKey("data"), "FP16 still binary");
            Assert.AreEqual(2, body.Body.Length - body.HeaderLength.Value);

            var plain = RestMessages.BuildInferRequest(new Dictionary<string, Tensor> { { "a", Tensor.FromBool(new[] { true }, 1) } }, new InferOptions { BinaryInputs = false });
            Assert.IsNull(plain.HeaderLength, "no binary part: plain JSON");
        }

        [Test]
        public void InputsThatDoNotFitAreRefusedBeforeAnythingIsSent()
        {
            Expect.Throws<ArgumentNullException>(() => RestMessages.BuildInferRequest(null, new InferOptions()));
            Expect.Throws<TensorException>(() => RestMessages.BuildInferRequest(new Dictionary<string, Tensor> { { "a", null } }, new InferOptions()));
            Expect.Throws<TensorException>(() => RestMessages.BuildInferRequest(
                new Dictionary<string, Tensor> { { "b", Tensor.FromInt64(new[] { long.MaxValue }, 1) } }, new InferOptions { BinaryInputs = false }));
        }

        private static byte[] Response(string json, params byte[][] binary)
        {
            var head = Encoding.UTF8.GetBytes(json);
            return head.Concat(binary.SelectMany(b => b)).ToArray();
        }

        [Test]
        public void ResponsesAreReadFromBinaryAndJsonOutputsAlike()
        {
            string json = "{\"model_name\":\"m\",\"model_version\":\"2\",\"id\":\"r\",\"outputs\":[" +
                "{\"name\":\"x\",\"datatype\":\"INT64\",\"shape\":[2],\"parameters\":{\"binary_data_size\":16}}," +
                "{\"name\":\"j\",\"datatype\":\"FP16\",\"shape\":[1,2],\"data\":[0.5,-2]}," +
                "{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[1],\"parameters\":{\"binary_data_size\":6}}]}";
            var x = Tensor.FromInt64(new[] { long.MinValue, 7 }, 2).ToRaw();
            var s = Tensor.FromStrings(new[] { "é" }, 1).ToRaw();
            var body = Response(json, x, s);
            var result = RestMessages.ParseInferResponse(body, Encoding.UTF8.GetByteCount(json).ToString());
            Assert.AreEqual("m", result.ModelName);
            Assert.AreEqual("2", result.ModelVersion);
            Assert.AreEqual("r", result.Id);
            CollectionAssert.AreEqual(new[] { long.MinValue, 7 }, result["x"].AsInt64());
            CollectionAssert.AreEqual(new ushort[] { 0x3800, 0xc000 }, result["j"].AsFp16Bits());
            CollectionAssert.AreEqual(new long[] { 1, 2 }, result["j"].Shape);
            CollectionAssert.AreEqual(new[] { "é" }, result["s"].AsStrings());
            Assert.AreEqual("s", result["s"].Name);
            StringAssert.Contains("outputs: x, j, s", Expect.Throws<KeyNotFoundException>(() => { var _ = result["nope"]; }).Message);

            var plain = RestMessages.ParseInferResponse(Encoding.UTF8.GetBytes("{\"model_name\":\"m\",\"outputs\":[{\"name\":\"b\",\"datatype\":\"BOOL\",\"shape\":[1],\"data\":[true]}]}"), null);
            CollectionAssert.AreEqual(new[] { true }, plain["b"].AsBool());
            Assert.AreEqual("", plain.ModelVersion);
        }

        [Test]
        public void MalformedResponsesFailLoudly()
        {
            string json = "{\"outputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[2],\"parameters\":{\"binary_data_size\":8}}]}";
            Assert.Throws<FormatException>(() => RestMessages.ParseInferResponse(Response(json, new byte[4]), Encoding.UTF8.GetByteCount(json).ToString()));
            Assert.Throws<FormatException>(() => RestMessages.ParseInferResponse(Response(json), "99999"));
            Assert.Throws<FormatException>(() => RestMessages.ParseInferResponse(Encoding.UTF8.GetBytes("[]"), null));
            Assert.Throws<FormatException>(() => RestMessages.ParseInferResponse(Encoding.UTF8.GetBytes("{\"outputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1]}]}"), null));
        }

        [Test]
        public void MetadataIsRead()
        {
            var m = RestMessages.ParseMetadata(Encoding.UTF8.GetBytes(
                "{\"name\":\"scale\",\"versions\":[\"1\",\"2\"],\"platform\":\"onnxruntime_onnx\",\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[-1,4]}],\"outputs\":[]}"));
            Assert.AreEqual("scale", m.Name);
            CollectionAssert.AreEqual(new[] { "1", "2" }, m.Versions);
            Assert.AreEqual("onnxruntime_onnx", m.Platform);
            Assert.AreEqual("input", m.Inputs[0].Name);
            CollectionAssert.AreEqual(new long[] { -1, 4 }, m.Inputs[0].Shape);
            Assert.AreEqual(0, m.Outputs.Count);
        }
    }
}
