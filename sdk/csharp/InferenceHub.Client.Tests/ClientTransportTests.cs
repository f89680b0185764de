using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace InferenceHub.Client.Tests
{
    /// <summary>
    /// The client against a real loopback socket (<see cref="RawHttpServer"/>), no gateway: the
    /// bytes it sends, and what it does when the other side fails in ways the gateway's tests
    /// cannot make happen on demand (refused connections, a connection closed after the request).
    /// </summary>
    [TestFixture]
    public class ClientTransportTests
    {
        private static InferenceHubClient Client(Uri url, TimeSpan? timeout = null, string token = null) =>
            new InferenceHubClient(url, new InferenceHubClientOptions
            {
                ApiKey = "ihk_k",
                Token = token,
                Timeout = timeout,
                RetryDelay = TimeSpan.FromMilliseconds(10),
            });

        private static Dictionary<string, Tensor> Scale() =>
            new Dictionary<string, Tensor> { { "input", Tensor.FromFp32(new[] { 1f, 2f, 3f, 4f }, 1, 4) } };

        private const string ScaleAnswer =
            "{\"model_name\":\"scale\",\"model_version\":\"2\",\"outputs\":[{\"name\":\"output\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[0.5]}]}";

        [Test]
        public async Task InferSendsTheBinaryExtensionTheKeyAndThePinInPathAndHeader()
        {
            using (var server = new RawHttpServer(r => RawHttpServer.Answer(200, ScaleAnswer)))
            using (var client = Client(server.Url))
            {
                var result = await client.InferAsync("scale", Scale(), "2");
                Assert.AreEqual("2", result.ModelVersion);
                CollectionAssert.AreEqual(new[] { 0.5f }, result["output"].AsFp32());
                var request = server.Requests.Single();
                Assert.AreEqual("POST", request.Method);
                Assert.AreEqual("/v2/models/scale/versions/2/infer", request.Path);
                Assert.AreEqual("Bearer ihk_k", request.Headers["authorization"]);
                Assert.AreEqual("2", request.Headers[InferenceHubClient.VersionHeader]);
                Assert.AreEqual("application/octet-stream", request.Headers["content-type"]);
                int headerLength = int.Parse(request.Headers["inference-header-content-length"]);
                Assert.AreEqual(headerLength + 16, request.Body.Length, "the JSON header, then 4 floats");
                Assert.IsFalse(request.Headers.ContainsKey("expect"), "no 100-continue round trip");
            }
        }

        [Test]
        public async Task UnpinnedCallsNameNoVersionAndATokenWinsOverTheKey()
        {
            using (var server = new RawHttpServer(r => RawHttpServer.Answer(200, ScaleAnswer)))
            using (var client = Client(new Uri(server.Url, "prefix"), token: "jwt.t.s"))
            {
                await client.InferAsync("sc ale", Scale());
                var request = server.Requests.Single();
                Assert.AreEqual("/prefix/v2/models/sc%20ale/infer", request.Path, "a base path is kept; names are escaped");
                Assert.AreEqual("Bearer jwt.t.s", request.Headers["authorization"]);
                Assert.IsFalse(request.Headers.ContainsKey(InferenceHubClient.VersionHeader));
            }
        }

        [Test]
        public async Task ARefusedConnectionIsUnavailableWithNoStatusAfterTheRetries()
        {
            using (var client = Client(RawHttpServer.ClosedPortUrl()))
            {
                var ready = await Expect.ThrowsAsync<UnavailableException>(() => client.ReadyAsync());
                Assert.AreEqual(0, ready.StatusCode);
                StringAssert.Contains("could not be reached", ready.Message);
                Assert.IsTrue(ErrorMapping.IsConnectFailure(ready.InnerException), ready.InnerException.ToString());
                var infer = await Expect.ThrowsAsync<UnavailableException>(() => client.InferAsync("scale", Scale()));
                Assert.AreEqual(0, infer.StatusCode);
            }
        }

        [Test]
        public async Task AnInferenceIsRetriedWhenItsConnectionCouldNotBeOpened()
        {
            Uri url = RawHttpServer.ClosedPortUrl();
            var options = new InferenceHubClientOptions { Retries = 3, RetryDelay = TimeSpan.FromMilliseconds(200) };
            using (var client = new InferenceHubClient(url, options))
            {
                // Refused until the server starts, between the first attempt and the last.
                Task<InferResult> call = client.InferAsync("scale", Scale());
                await Task.Delay(100);
                using (var server = new RawHttpServer(r => RawHttpServer.Answer(200, ScaleAnswer), url.Port))
                {
                    Assert.AreEqual("2", (await call).ModelVersion);
                    Assert.AreEqual(1, server.Requests.Count);
                }
            }
        }

        [Test]
        public async Task AnInferenceIsNeverSentTwiceButReadsAreRetried()
        {
            // The connection closes after the whole request arrived: the call may have run.
            using (var server = new RawHttpServer(r => null))
            using (var client = Client(server.Url))
            {
                var e = await Expect.ThrowsAsync<UnavailableException>(() => client.InferAsync("scale", Scale()));
                Assert.AreEqual(0, e.StatusCode);
                Assert.AreEqual(1, server.Requests.Count, "infer was sent once");
                await Expect.ThrowsAsync<UnavailableException>(() => client.LiveAsync());
                Assert.AreEqual(1 + 3, server.Requests.Count, "live: the first try and 2 retries");
            }
        }

        [Test]
        public async Task A503IsRetriedForReadsOnlyAndCarriesTheServersMessage()
        {
            using (var server = new RawHttpServer(r => RawHttpServer.Answer(503, "{\"error\":\"no healthy upstream\"}")))
            using (var client = Client(server.Url))
            {
                var e = await Expect.ThrowsAsync<UnavailableException>(() => client.InferAsync("scale", Scale()));
                Assert.AreEqual(503, e.StatusCode);
                Assert.AreEqual("no healthy upstream", e.ServerMessage);
                Assert.AreEqual(1, server.Requests.Count);
                await Expect.ThrowsAsync<UnavailableException>(() => client.MetadataAsync("scale"));
                Assert.AreEqual(1 + 3, server.Requests.Count);
            }
        }

        [Test]
        public async Task TheTimeoutIsDeadlineExceededAndCancellationStaysOperationCanceled()
        {
            using (var server = new RawHttpServer(r => "hang"))
            using (var client = Client(server.Url, TimeSpan.FromMilliseconds(300)))
            {
                var watch = Stopwatch.StartNew();
                var e = await Expect.ThrowsAsync<DeadlineExceededException>(() => client.InferAsync("scale", Scale()));
                Assert.AreEqual(0, e.StatusCode);
                Assert.Less(watch.ElapsedMilliseconds, 5000);
                var late = await Expect.ThrowsAsync<DeadlineExceededException>(
                    () => client.InferAsync("scale", Scale(), new InferOptions { Timeout = TimeSpan.FromMilliseconds(100) }));
                Assert.AreEqual(0, late.StatusCode);

                using (var cancel = new CancellationTokenSource(200))
                {
                    await Expect.ThrowsKindAsync<OperationCanceledException>(
                        () => client.InferAsync("scale", Scale(), new InferOptions { Timeout = TimeSpan.FromSeconds(30) }, cancel.Token));
                }
                using (var cancelled = new CancellationTokenSource())
                {
                    cancelled.Cancel();
                    await Expect.ThrowsKindAsync<OperationCanceledException>(() => client.ReadyAsync(cancellationToken: cancelled.Token));
                }
            }
        }

        [Test]
        public async Task ReadyIsFalseOnTheProtocolsNotReadyAnswer()
        {
            using (var server = new RawHttpServer(r => r.Path.EndsWith("/ready") && r.Path.Contains("/models/")
                ? RawHttpServer.Answer(400, "{\"error\":\"model 'scale' is not ready\"}")
                : RawHttpServer.Answer(200, "{\"ready\":true}")))
            using (var client = Client(server.Url))
            {
                Assert.IsTrue(await client.ReadyAsync());
                Assert.IsFalse(await client.ReadyAsync("scale", "3"));
                Assert.AreEqual("/v2/models/scale/versions/3/ready", server.Requests.Last().Path);
            }
        }

        [Test]
        public async Task ModelsPostsTheIndexAndReadsItsArray()
        {
            using (var server = new RawHttpServer(r => RawHttpServer.Answer(200,
                "[{\"name\":\"mlp\",\"version\":\"1\",\"state\":\"READY\"},{\"name\":\"scale\",\"version\":\"3\",\"state\":\"UNAVAILABLE\",\"reason\":\"no node of this version is up\"}]")))
            using (var client = Client(server.Url))
            {
                var models = await client.ModelsAsync(readyOnly: true);
                var request = server.Requests.Last();
                Assert.AreEqual("POST", request.Method);
                Assert.AreEqual("/v2/repository/index", request.Path);
                Assert.AreEqual("{\"ready\":true}", Encoding.UTF8.GetString(request.Body));
                Assert.AreEqual(2, models.Count);
                Assert.AreEqual("mlp/1/READY/", models[0].Name + "/" + models[0].Version + "/" + models[0].State + "/" + models[0].Reason);
                Assert.AreEqual("no node of this version is up", models[1].Reason);
                await client.ModelsAsync();
                Assert.AreEqual("{}", Encoding.UTF8.GetString(server.Requests.Last().Body));
            }
        }

        [Test]
        public async Task ADisposedClientRefusesCallsAndAnInjectedHttpClientIsTheCallers()
        {
            using (var server = new RawHttpServer(r => RawHttpServer.Answer(200, "{\"live\":true}")))
            using (var http = new HttpClient())
            {
                var client = new InferenceHubClient(server.Url, new InferenceHubClientOptions { HttpClient = http });
                Assert.IsTrue(await client.LiveAsync());
                client.Dispose();
                client.Dispose();
                await Expect.ThrowsAsync<ObjectDisposedException>(() => client.LiveAsync());
                // Still usable: the client did not dispose what it was given.
                Assert.AreEqual(HttpStatusCode.OK, (await http.GetAsync(new Uri(server.Url, "v2/health/live"))).StatusCode);
                Assert.IsFalse(server.Requests.First().Headers.ContainsKey("authorization"), "no key, no header");
            }
        }

        [Test]
        public void ArgumentsAreCheckedBeforeAnythingIsSent()
        {
            using (var client = Client(RawHttpServer.ClosedPortUrl()))
            {
                Assert.Throws<ArgumentException>(() => client.InferAsync("", Scale()).GetAwaiter().GetResult());
                Assert.Throws<TensorException>(() => client.InferAsync("m", new Dictionary<string, Tensor> { { "x", null } }).GetAwaiter().GetResult());
                Assert.Throws<ArgumentException>(() => client.ReadyAsync(null, "1").GetAwaiter().GetResult());
            }
            Assert.Throws<ArgumentException>(() => new InferenceHubClient(new Uri("/relative", UriKind.Relative)));
        }
    }
}
