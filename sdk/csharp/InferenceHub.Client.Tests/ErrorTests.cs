using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace InferenceHub.Client.Tests
{
    /// <summary>Each typed exception from a real failing call through the live gateway.</summary>
    [TestFixture]
    public class ErrorTests
    {
        /// <summary>
        /// When the last call this fixture abandoned on a slow node (scale v3) is over there:
        /// ZFaultTests waits for it, so that "the node busy with scale v3" is its own call's.
        /// </summary>
        internal static DateTime SlowNodesBusyUntil = DateTime.MinValue;

        private static Dictionary<string, Tensor> ScaleInput() => Vectors.Get("scale-v1").Inputs;

        /// <summary>
        /// A version the gateway does not serve is 404. A model name outside the tenant's grant
        /// ("nope" for acme) is 403 instead: the policy answers first, so that a tenant cannot
        /// probe which models exist (only a tenant granted every model, "*", sees 404 for a name).
        /// </summary>
        [Test]
        public async Task AnUnservedVersionIsNotFoundAndAnUngrantedModelPermissionDenied()
        {
            using (var client = Stack.Client())
            {
                var e = await Expect.ThrowsAsync<NotFoundException>(() => client.InferAsync("scale", ScaleInput(), "9"));
                Assert.AreEqual(404, e.StatusCode);
                StringAssert.Contains("not served", e.ServerMessage);
                await Expect.ThrowsAsync<NotFoundException>(() => client.MetadataAsync("scale", "9"));
                var nope = await Expect.ThrowsAsync<PermissionDeniedException>(() => client.InferAsync("nope", ScaleInput()));
                StringAssert.Contains("may not call model 'nope'", nope.ServerMessage);
            }
        }

        [Test]
        public async Task NoKeyOrABadKeyIsUnauthenticated()
        {
            using (var anonymous = new InferenceHubClient(Stack.Url))
            using (var wrong = new InferenceHubClient(Stack.Url, "ihk_not-a-key"))
            {
                var none = await Expect.ThrowsAsync<UnauthenticatedException>(() => anonymous.InferAsync("scale", ScaleInput()));
                Assert.AreEqual(401, none.StatusCode);
                Assert.IsNotEmpty(none.ServerMessage);
                var bad = await Expect.ThrowsAsync<UnauthenticatedException>(() => wrong.InferAsync("scale", ScaleInput()));
                Assert.AreEqual(401, bad.StatusCode);
                await Expect.ThrowsAsync<UnauthenticatedException>(() => wrong.MetadataAsync("scale"));
            }
        }

        [Test]
        public async Task AnotherTenantsModelIsPermissionDenied()
        {
            using (var other = Stack.Client(Stack.OtherApiKey))
            {
                var e = await Expect.ThrowsAsync<PermissionDeniedException>(() => other.InferAsync("scale", ScaleInput()));
                Assert.AreEqual(403, e.StatusCode);
                StringAssert.Contains("scale", e.ServerMessage);
                // Its own model is fine.
                Assert.AreEqual("mlp", (await other.InferAsync("mlp", Vectors.Get("mlp").Inputs)).ModelName);
            }
        }

        [Test]
        public async Task OverTheRateLimitIsResourceExhaustedWithTheWaitToRetryAfter()
        {
            ResourceExhaustedException limited = null;
            int answered = 0;
            using (var client = Stack.Client(Stack.LimitedApiKey))
            {
                for (int i = 0; i < 10 && limited == null; i++)
                {
                    try
                    {
                        await client.InferAsync("scale", ScaleInput(), "1");
                        answered++;
                    }
                    catch (ResourceExhaustedException e)
                    {
                        limited = e;
                    }
                }
            }
            Assert.IsNotNull(limited, "10 quick calls at 1 call/s (burst 1) were all answered");
            Assert.AreEqual(429, limited.StatusCode);
            StringAssert.Contains("rate limit", limited.ServerMessage);
            Assert.IsTrue(limited.RetryAfter.HasValue, limited.Message);
            Assert.Greater(limited.RetryAfter.Value, TimeSpan.Zero);
            Assert.LessOrEqual(limited.RetryAfter.Value, TimeSpan.FromSeconds(2));
        }

        [Test]
        public async Task ASlowCallPastTheTimeoutIsDeadlineExceeded()
        {
            using (var client = Stack.Client(timeout: TimeSpan.FromMilliseconds(500)))
            {
                var watch = Stopwatch.StartNew();
                SlowNodesBusyUntil = DateTime.UtcNow.AddMilliseconds(Stack.SlowMs + 500);
                var e = await Expect.ThrowsAsync<DeadlineExceededException>(() => client.InferAsync("scale", ScaleInput(), "3"));
                Assert.AreEqual(0, e.StatusCode, "the client's own deadline");
                Assert.Less(watch.ElapsedMilliseconds, Stack.SlowMs, "it did not wait for the answer");
                Assert.GreaterOrEqual(watch.ElapsedMilliseconds, 450);
            }
        }

        [Test]
        public async Task CancellingTheTokenIsOperationCanceledNotADeadline()
        {
            using (var client = Stack.Client())
            using (var cancel = new CancellationTokenSource(300))
            {
                var watch = Stopwatch.StartNew();
                SlowNodesBusyUntil = DateTime.UtcNow.AddMilliseconds(Stack.SlowMs + 500);
                await Expect.ThrowsKindAsync<OperationCanceledException>(() => client.InferAsync("scale", ScaleInput(), "3", cancel.Token));
                Assert.Less(watch.ElapsedMilliseconds, Stack.SlowMs);
            }
        }

        [Test]
        public async Task AWrongShapeIsInvalidArgument()
        {
            var wrong = new Dictionary<string, Tensor> { { "input", Tensor.FromFp32(new float[6], 2, 3) } };
            using (var client = Stack.Client())
            {
                var e = await Expect.ThrowsAsync<InvalidArgumentException>(() => client.InferAsync("mlp", wrong));
                Assert.AreEqual(400, e.StatusCode);
                StringAssert.Contains("input", e.ServerMessage);
            }
        }
    }
}
