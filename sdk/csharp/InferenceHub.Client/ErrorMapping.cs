using System;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using InferenceHub.Client.Json;

namespace InferenceHub.Client
{
    /// <summary>
    /// From a failed HTTP exchange to the typed exception a caller catches: the status picks the
    /// class, the JSON body's <c>error</c> (the gateway's and the nodes' form) is the message.
    /// </summary>
    internal static class ErrorMapping
    {
        private static readonly Regex RetryInMs = new Regex(@"retry in (\d+) ?ms", RegexOptions.CultureInvariant);

        /// <summary>The exception for a non-success answer.</summary>
        public static InferenceHubException FromResponse(HttpResponseMessage response, byte[] body)
        {
            int status = (int)response.StatusCode;
            string message = ServerMessage(body, response.ReasonPhrase);
            switch (status)
            {
                case 400: return new InvalidArgumentException(status, message);
                case 401: return new UnauthenticatedException(status, message);
                case 403: return new PermissionDeniedException(status, message);
                case 404: return new NotFoundException(status, message);
                case 408:
                case 504: return new DeadlineExceededException(status, message);
                case 429: return new ResourceExhaustedException(status, message, RetryAfter(response, message));
                case 502:
                case 503: return new UnavailableException(status, message);
                default: return new InferenceHubException(status, message);
            }
        }

        /// <summary>
        /// The body's JSON <c>error</c>; else the body as text (Envoy's own replies may be plain
        /// text); else the reason phrase.
        /// </summary>
        public static string ServerMessage(byte[] body, string reasonPhrase)
        {
            string text = body == null ? "" : Encoding.UTF8.GetString(body).Trim();
            if (text.Length > 0 && text[0] == '{')
            {
                try
                {
                    var error = (JsonReader.Parse(text) as System.Collections.Generic.Dictionary<string, object>);
                    object message;
                    if (error != null && error.TryGetValue("error", out message) && message is string) return (string)message;
                }
                catch (FormatException)
                {
                    // Not JSON after all: the text itself is the best message there is.
                }
            }
            if (text.Length > 0) return text.Length > 500 ? text.Substring(0, 500) + "…" : text;
            return reasonPhrase ?? "";
        }

        /// <summary>Retry-After in seconds or as an HTTP date; else "retry in N ms" in the message.</summary>
        public static TimeSpan? RetryAfter(HttpResponseMessage response, string message)
        {
            var header = response.Headers.RetryAfter;
            if (header != null)
            {
                if (header.Delta.HasValue) return header.Delta.Value;
                if (header.Date.HasValue)
                {
                    var wait = header.Date.Value - DateTimeOffset.UtcNow;
                    return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
                }
            }
            return RetryAfterFromMessage(message);
        }

        /// <summary>The ext-authz service's words: "... over its rate limit; retry in 1000 ms".</summary>
        public static TimeSpan? RetryAfterFromMessage(string message)
        {
            var m = RetryInMs.Match(message ?? "");
            if (!m.Success) return null;
            return TimeSpan.FromMilliseconds(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }

        /// <summary>
        /// Whether the exception says the TCP connection to the gateway was never opened (refused,
        /// no route, name not resolved): then no byte of the request left this process and even an
        /// inference may be sent again. A failure on an open connection (reset, closed mid-answer)
        /// is not this: the gateway may have started the call.
        /// </summary>
        public static bool IsConnectFailure(Exception e)
        {
            for (var inner = e; inner != null; inner = inner.InnerException)
            {
                var socket = inner as SocketException;
                if (socket != null)
                {
                    switch (socket.SocketErrorCode)
                    {
                        case SocketError.ConnectionRefused:
                        case SocketError.HostUnreachable:
                        case SocketError.NetworkUnreachable:
                        case SocketError.HostNotFound:
                        case SocketError.TryAgain:
                            return true;
                    }
                }
                var web = inner as WebException;
                if (web != null && (web.Status == WebExceptionStatus.ConnectFailure || web.Status == WebExceptionStatus.NameResolutionFailure))
                    return true;
            }
            return false;
        }

        /// <summary>The innermost message: "Connection refused" rather than "An error occurred while sending the request".</summary>
        public static string Innermost(Exception e)
        {
            var inner = e;
            while (inner.InnerException != null) inner = inner.InnerException;
            return inner == e ? e.Message : e.Message + " (" + inner.Message + ")";
        }
    }
}
