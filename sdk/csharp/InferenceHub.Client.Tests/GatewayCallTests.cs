using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using NUnit.Framework;

namespace InferenceHub.Client.Tests
{
    /// <summary>
    /// The calls through the live gateway (real Envoy, ext-authz, control plane and nodes):
    /// live/ready/metadata, a version pin, the weighted split as a client sees it, requested outputs.
    /// </summary>
    [TestFixture]
    public class GatewayCallTests
    {
        private static Dictionary<string, Tensor> ScaleInput() => Vectors.Get("scale-v1").Inputs;

        [Test]
        public async Task LiveAndReadyAreTheGatewaysAndModelReadinessTheNodes()
        {
            using (var client = Stack.Client())
            {
                Assert.IsTrue(await client.LiveAsync());
                Assert.IsTrue(await client.ReadyAsync());
                Assert.IsTrue(await client.ReadyAsync("scale"));
                Assert.IsTrue(await client.ReadyAsync("scale", "2"));
                Assert.IsTrue(await client.ReadyAsync("mixed", "1"));
                await Expect.ThrowsAsync<NotFoundException>(() => client.ReadyAsync("scale", "9"));
            }
        }

        [Test]
        public async Task MetadataDescribesTheModel()
        {
            using (var client = Stack.Client())
            {
                ModelMetadata m = await client.MetadataAsync("mixed");
                Assert.AreEqual("mixed", m.Name);
                CollectionAssert.Contains(m.Versions, "1");
                CollectionAssert.AreEquivalent(new[] { "a", "b", "c", "flag", "h", "text" }, m.Inputs.Select(i => i.Name));
                Assert.AreEqual("FP16", m.Inputs.Single(i => i.Name == "h").Datatype);
                var scale = await client.MetadataAsync("scale", "2");
                Assert.AreEqual("input", scale.Inputs.Single().Name);
                Assert.AreEqual("FP32", scale.Inputs.Single().Datatype);
            }
        }

        [Test]
        public async Task APinnedVersionIsTheVersionThatAnswersEveryTime()
        {
            using (var client = Stack.Client())
            {
                for (int i = 0; i < 10; i++)
                {
                    string pin = i % 2 == 0 ? "1" : "2";
                    var result = await client.InferAsync("scale", ScaleInput(), pin);
                    Assert.AreEqual(pin, result.ModelVersion);
                    Assert.AreEqual("scale", result.ModelName);
                    Assert.AreEqual(Expect.Hex(Vectors.Get("scale-v" + pin).Outputs[0].Raw), Expect.Hex(result["output"].ToRaw()));
                }
            }
        }

        [Test]
        public async Task UnpinnedCallsAreSplitByTheWeightsAndEachAnswerIsItsVersions()
        {
            var counts = new Dictionary<string, int>();
            using (var client = Stack.Client())
            {
                for (int i = 0; i < 40; i++)
                {
                    var result = await client.InferAsync("scale", ScaleInput());
                    string v = result.ModelVersion;
                    counts[v] = (counts.ContainsKey(v) ? counts[v] : 0) + 1;
                    // Whichever version answered, its output is that version's (v3 has weight 0).
                    Assert.AreEqual(Expect.Hex(Vectors.Get("scale-v" + v).Outputs[0].Raw), Expect.Hex(result["output"].ToRaw()), "version " + v);
                }
            }
            // 50/50 over 40 calls: one version answering all of them has odds of 2^-39.
            CollectionAssert.AreEquivalent(new[] { "1", "2" }, counts.Keys, string.Join(", ", counts.Select(p => p.Key + ": " + p.Value)));
        }

        [Test]
        public async Task TheIdComesBackAndOnlyTheRequestedOutputs()
        {
            var mixed = Vectors.Get("mixed");
            using (var client = Stack.Client())
            {
                var result = await client.InferAsync("mixed", mixed.Inputs, new InferOptions { Id = "req-7", Outputs = new[] { "b_twice", "text_out" } });
                Assert.AreEqual("req-7", result.Id);
                CollectionAssert.AreEquivalent(new[] { "b_twice", "text_out" }, result.Outputs.Keys);
                CollectionAssert.AreEqual(new[] { "hello", "wörld ✓" }, result["text_out"].AsStrings());
                CollectionAssert.AreEqual(new long[] { 6, -8, 2199023255552, 0 }, result["b_twice"].AsInt64());
            }
        }

        /// <summary>
        /// ModelsAsync: the gateway's own index over REST, what this tenant may call; the OTHER
        /// tenant sees only mlp; no key is refused.
        /// </summary>
        [Test]
        public async Task ModelsListsWhatTheTenantMayCall()
        {
            using (var client = Stack.Client())
            {
                var models = await client.ModelsAsync();
                CollectionAssert.AreEqual(
                    new[] { "mlp/1:READY", "mixed/1:READY", "scale/1:READY", "scale/2:READY", "scale/3:READY" },
                    models.Select(m => m.Name + "/" + m.Version + ":" + m.State).ToArray());
            }
            using (var other = new InferenceHubClient(Stack.Url, Stack.OtherApiKey))
            {
                var models = await other.ModelsAsync(readyOnly: true);
                CollectionAssert.AreEqual(new[] { "mlp" }, models.Select(m => m.Name).ToArray());
            }
            using (var anonymous = new InferenceHubClient(Stack.Url))
            {
                await Expect.ThrowsAsync<UnauthenticatedException>(() => anonymous.ModelsAsync());
            }
        }
    }
}
