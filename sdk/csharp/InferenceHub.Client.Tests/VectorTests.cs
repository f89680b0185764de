using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using NUnit.Framework;

namespace InferenceHub.Client.Tests
{
    /// <summary>
    /// The shared test vectors (sdk/vectors/vectors.json) through the live gateway: every case,
    /// its outputs re-encoded to the protocol's raw form and compared byte for byte with the
    /// file's, in binary and JSON modes (the three SDKs must agree to the byte).
    /// </summary>
    [TestFixture]
    public class VectorTests
    {
        private static readonly string[] Cases = { "mlp", "scale-v1", "scale-v2", "mixed" };

        [Test]
        public void TheSuiteCoversEveryCaseOfTheFile()
        {
            CollectionAssert.AreEquivalent(Cases, Vectors.All.Select(c => c.Name));
        }

        /// <remarks>async, not a returned Task: NUnit 2.6 runs only async methods as asynchronous tests.</remarks>
        [TestCase("mlp")]
        [TestCase("scale-v1")]
        [TestCase("scale-v2")]
        [TestCase("mixed")]
        public async Task BinaryInAndOut(string name) => await Check(name, new InferOptions());

        /// <summary>JSON both ways: every input as JSON data but FP16, which the SDK always sends binary.</summary>
        [TestCase("mlp")]
        [TestCase("scale-v1")]
        [TestCase("scale-v2")]
        [TestCase("mixed")]
        public async Task JsonInAndOut(string name) => await Check(name, new InferOptions { BinaryInputs = false, BinaryOutputs = false });

        [TestCase("mixed")]
        public async Task JsonInBinaryOut(string name) => await Check(name, new InferOptions { BinaryInputs = false });

        private static async Task Check(string name, InferOptions options)
        {
            VectorCase c = Vectors.Get(name);
            options.Version = c.Version;
            using (var client = Stack.Client())
            {
                InferResult result = await client.InferAsync(c.Model, c.Inputs, options);
                Assert.AreEqual(c.Model, result.ModelName);
                Assert.AreEqual(c.Version, result.ModelVersion);
                CollectionAssert.AreEquivalent(c.Outputs.Select(o => o.Name), result.Outputs.Keys, name);
                foreach (var expected in c.Outputs)
                {
                    Tensor output = result[expected.Name];
                    string what = name + "/" + expected.Name;
                    Assert.AreEqual(expected.Name, output.Name, what);
                    Assert.AreEqual(expected.Datatype, output.Datatype, what);
                    CollectionAssert.AreEqual(expected.Shape, output.Shape, what);
                    Assert.AreEqual(Expect.Hex(expected.Raw), Expect.Hex(output.ToRaw()), what);
                }
            }
        }
    }
}
