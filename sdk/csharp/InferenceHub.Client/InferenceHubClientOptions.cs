using System;
using System.Net.Http;

namespace InferenceHub.Client
{
    /// <summary>How an <see cref="InferenceHubClient"/> reaches and authenticates to the gateway.</summary>
    public sealed class InferenceHubClientOptions
    {
        /// <summary>An API key (e.g. the one <c>npm start</c> prints), sent as <c>authorization: Bearer &lt;key&gt;</c>.</summary>
        public string ApiKey { get; set; }

        /// <summary>A bearer token (a JWT) instead of an API key; when both are set, the token is sent.</summary>
        public string Token { get; set; }

        /// <summary>
        /// Each call's timeout (none when null). Past it the call throws
        /// <see cref="DeadlineExceededException"/>; <see cref="InferOptions.Timeout"/> overrides it per call.
        /// </summary>
        public TimeSpan? Timeout { get; set; }

        /// <summary>
        /// The HTTP handler to send through (a proxy, TLS settings, a test double); the client
        /// disposes it. Ignored when <see cref="HttpClient"/> is given.
        /// </summary>
        public HttpMessageHandler Handler { get; set; }

        /// <summary>
        /// An HttpClient to share (its BaseAddress and Timeout are left alone; the SDK sends
        /// absolute URLs and keeps its own deadlines). Not disposed by the client: it is the caller's.
        /// </summary>
        public HttpClient HttpClient { get; set; }

        /// <summary>
        /// Extra attempts of a call that cannot have run (default 2): ready, live and metadata on
        /// 502/503 or a failed connection; infer only when the connection could not be opened.
        /// </summary>
        public int Retries { get; set; } = 2;

        /// <summary>The wait before the first retry, doubling for each next one (default 100 ms).</summary>
        public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);
    }
}
