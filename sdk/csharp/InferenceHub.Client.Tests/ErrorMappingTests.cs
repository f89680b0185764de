using System;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using NUnit.Framework;

namespace InferenceHub.Client.Tests
{
    /// <summary>Pure unit tests: HTTP answers to typed exceptions.</summary>
    [TestFixture]
    public class ErrorMappingTests
    {
        private static InferenceHubException Map(int status, string body, Action<HttpResponseMessage> headers = null)
        {
            using (var response = new HttpResponseMessage((HttpStatusCode)status) { ReasonPhrase = "Reason" })
            {
                headers?.Invoke(response);
                return ErrorMapping.FromResponse(response, Encoding.UTF8.GetBytes(body));
            }
        }

        [Test]
        public void EachStatusMapsToItsClassWithTheServersMessage()
        {
            var cases = new[]
            {
                Tuple.Create(400, typeof(InvalidArgumentException)),
                Tuple.Create(401, typeof(UnauthenticatedException)),
                Tuple.Create(403, typeof(PermissionDeniedException)),
                Tuple.Create(404, typeof(NotFoundException)),
                Tuple.Create(408, typeof(DeadlineExceededException)),
                Tuple.Create(413, typeof(InferenceHubException)),
                Tuple.Create(429, typeof(ResourceExhaustedException)),
                Tuple.Create(500, typeof(InferenceHubException)),
                Tuple.Create(501, typeof(InferenceHubException)),
                Tuple.Create(502, typeof(UnavailableException)),
                Tuple.Create(503, typeof(UnavailableException)),
                Tuple.Create(504, typeof(DeadlineExceededException)),
            };
            foreach (var c in cases)
            {
                var e = Map(c.Item1, "{\"error\":\"the words\"}");
                Assert.AreEqual(c.Item2, e.GetType(), c.Item1.ToString());
                Assert.AreEqual(c.Item1, e.StatusCode);
                Assert.AreEqual("the words", e.ServerMessage);
                StringAssert.Contains("HTTP " + c.Item1 + ": the words", e.Message);
            }
        }

        [Test]
        public void ABodyThatIsNotTheJsonErrorIsTheMessageAsItIs()
        {
            Assert.AreEqual("upstream connect error", Map(503, "upstream connect error\n").ServerMessage);
            Assert.AreEqual("{not json", Map(500, "{not json").ServerMessage);
            Assert.AreEqual("Reason", Map(500, "").ServerMessage);
        }

        [Test]
        public void RetryAfterComesFromTheHeaderElseTheMessage()
        {
            var header = (ResourceExhaustedException)Map(429, "{\"error\":\"over; retry in 1000 ms\"}", r => r.Headers.Add("Retry-After", "2"));
            Assert.AreEqual(TimeSpan.FromSeconds(2), header.RetryAfter);
            var message = (ResourceExhaustedException)Map(429, "{\"error\":\"tenant 'limited' is over its rate limit; retry in 750 ms\"}");
            Assert.AreEqual(TimeSpan.FromMilliseconds(750), message.RetryAfter);
            Assert.IsNull(((ResourceExhaustedException)Map(429, "{\"error\":\"slow down\"}")).RetryAfter);
        }

        [Test]
        public void OnlyAConnectionNeverOpenedCountsAsNothingSent()
        {
            Assert.IsTrue(ErrorMapping.IsConnectFailure(new HttpRequestException("x", new SocketException((int)SocketError.ConnectionRefused))));
            Assert.IsTrue(ErrorMapping.IsConnectFailure(new HttpRequestException("x", new WebException("x", WebExceptionStatus.ConnectFailure))));
            Assert.IsFalse(ErrorMapping.IsConnectFailure(new HttpRequestException("x", new SocketException((int)SocketError.ConnectionReset))));
            Assert.IsFalse(ErrorMapping.IsConnectFailure(new HttpRequestException("x", new WebException("x", WebExceptionStatus.ReceiveFailure))));
            Assert.IsFalse(ErrorMapping.IsConnectFailure(new HttpRequestException("x")));
        }
    }
}
