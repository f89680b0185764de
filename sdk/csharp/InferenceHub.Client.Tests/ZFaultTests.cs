using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using NUnit.Framework;

namespace InferenceHub.Client.Tests
{
    /// <summary>
    /// Nodes killed on purpose, through the stack's faults server. Named to sort last: NUnit 2.6
    /// runs fixtures in alphabetical order, and these leave the stack with fewer nodes. The
    /// methods are ordered by name too (A before B).
    /// </summary>
    [TestFixture]
    public class ZFaultTests
    {
        private static Dictionary<string, Tensor> ScaleInput() => Vectors.Get("scale-v1").Inputs;

        /// <summary>
        /// node-b killed before the calls: Envoy, which may still pick it until its health check
        /// notices, retries those calls on node-a (they never reached node-b), so every call
        /// succeeds and Envoy's retry counter grows.
        /// </summary>
        [Test]
        public async Task A_ACallToANodeKilledBeforeItIsRetriedByTheGateway()
        {
            var killed = await Faults.PostAsync("kill?node=node-b");
            Assert.AreEqual("node-b", killed["killed"]);
            long retriesBefore = Faults.Count(await Faults.GetAsync("envoy-retries"), "retries");
            using (var client = Stack.Client())
            {
                for (int i = 0; i < 20; i++)
                {
                    var result = await client.InferAsync("scale", ScaleInput(), "1");
                    Assert.AreEqual("1", result.ModelVersion);
                }
            }
            long retriesAfter = Faults.Count(await Faults.GetAsync("envoy-retries"), "retries");
            Assert.Greater(retriesAfter, retriesBefore, "Envoy retried the calls that met node-b");
        }

        /// <summary>
        /// The node holding the call SIGKILLed mid-call: the call fails UnavailableException and
        /// runs nowhere else (neither Envoy nor the SDK sends it again), so the surviving slow
        /// node's request count does not grow.
        /// </summary>
        [Test]
        public async Task B_ACallWhoseNodeDiesHoldingItIsNeverSentAgain()
        {
            // A v3 call abandoned by ErrorTests may still be held by a slow node; kill-busy must find ours.
            var wait = ErrorTests.SlowNodesBusyUntil - DateTime.UtcNow;
            if (wait > TimeSpan.Zero) await Task.Delay(wait);

            var before = await Faults.GetAsync("requests?model=scale&version=3");
            var slowNodes = before.Keys.Where(n => n.StartsWith("node-slow", StringComparison.Ordinal)).ToList();
            Assert.AreEqual(2, slowNodes.Count, "both slow nodes are up: " + string.Join(", ", before.Keys));
            using (var client = Stack.Client(timeout: TimeSpan.FromSeconds(20)))
            {
                Task<InferResult> call = client.InferAsync("scale", ScaleInput(), "3");
                var killed = await Faults.PostAsync("kill-busy?model=scale&version=3");
                string victim = (string)killed["killed"];
                var e = await Expect.ThrowsAsync<UnavailableException>(() => call);
                Console.WriteLine("killed " + victim + " holding the call; the call threw " + e.GetType().Name + ": " + e.Message);
                Assert.AreEqual(503, e.StatusCode, e.Message);

                var after = await Faults.GetAsync("requests?model=scale&version=3");
                CollectionAssert.Contains(slowNodes, victim);
                string survivor = slowNodes.Single(n => n != victim);
                CollectionAssert.DoesNotContain(after.Keys, victim, "the killed node is gone");
                CollectionAssert.Contains(after.Keys, survivor);
                Assert.AreEqual(Faults.Count(before, survivor), Faults.Count(after, survivor), "the call was not sent to " + survivor);
            }
        }
    }
}
