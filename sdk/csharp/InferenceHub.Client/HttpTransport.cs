using System;
using System.Net;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;

namespace InferenceHub.Client
{
    /// <summary>
    /// The HTTP exchange under every call: one deadline per call, the SDK's retry rules, and
    /// failures turned into the typed exceptions. Kept apart from the client, which only knows
    /// URLs, headers and bodies, so that the one place deciding "may this be sent again" is small.
    /// </summary>
    internal sealed class HttpTransport : IDisposable
    {
        private readonly HttpClient http;
        private readonly bool ownsHttp;
        private readonly InferenceHubClientOptions options;
        private readonly Uri baseUri;

        public HttpTransport(InferenceHubClientOptions options, Uri baseUri)
        {
            this.options = options;
            this.baseUri = baseUri;
            if (options.HttpClient != null)
            {
                http = options.HttpClient;
                ownsHttp = false;
            }
            else
            {
                http = new HttpClient(options.Handler ?? DefaultHandler(), true)
                {
                    // The SDK's own deadline (a linked CancellationTokenSource) bounds each call,
                    // so that a timeout can be told apart from the caller's cancellation.
                    Timeout = System.Threading.Timeout.InfiniteTimeSpan,
                };
                ownsHttp = true;
            }
        }

        /// <summary>
        /// Sends a request, built afresh for each attempt, under one deadline for the whole call
        /// (retries and their waits included). <paramref name="readOnly"/> calls are retried on
        /// 502/503 and on any failed exchange; the others only when the connection was never opened.
        /// </summary>
        public async Task<HttpAnswer> SendAsync(Func<HttpRequestMessage> build, bool readOnly, TimeSpan? timeout, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                if (timeout.HasValue) deadline.CancelAfter(timeout.Value);
                for (int attempt = 0; ; attempt++)
                {
                    InferenceHubException failure;
                    try
                    {
                        using (var request = build())
                        using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, deadline.Token).ConfigureAwait(false))
                        {
                            byte[] body = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                            if (response.IsSuccessStatusCode) return new HttpAnswer(response, body);
                            failure = ErrorMapping.FromResponse(response, body);
                            if (!(readOnly && failure is UnavailableException)) throw failure;
                        }
                    }
                    catch (Exception e) when (!(e is InferenceHubException))
                    {
                        failure = Classify(e, readOnly, timeout, cancellationToken, deadline.Token);
                        if (failure == null) throw;
                    }
                    if (attempt >= options.Retries) throw failure;
                    await BackoffAsync(attempt, timeout, cancellationToken, deadline.Token).ConfigureAwait(false);
                }
            }
        }

        /// <summary>
        /// The exception for a failed exchange: cancellation stays OperationCanceledException;
        /// the deadline is DeadlineExceeded; a transport failure is Unavailable, returned (to be
        /// retried) when the call may be retried, thrown otherwise. Null: not ours to translate.
        /// </summary>
        private InferenceHubException Classify(Exception e, bool readOnly, TimeSpan? timeout, CancellationToken caller, CancellationToken deadline)
        {
            if (caller.IsCancellationRequested) throw new OperationCanceledException("the call was cancelled", e, caller);
            if (deadline.IsCancellationRequested || e is OperationCanceledException)
                throw new DeadlineExceededException(0, "the call's timeout" + (timeout.HasValue ? " of " + timeout.Value.TotalMilliseconds + " ms" : "") + " passed before the gateway answered", e);
            if (!(e is HttpRequestException || e is WebException || e is System.IO.IOException)) return null;
            var unavailable = new UnavailableException(0, "the gateway at " + baseUri + " could not be reached: " + ErrorMapping.Innermost(e), e);
            if (readOnly || ErrorMapping.IsConnectFailure(e)) return unavailable;
            throw unavailable;
        }

        private async Task BackoffAsync(int attempt, TimeSpan? timeout, CancellationToken caller, CancellationToken deadline)
        {
            try
            {
                await Task.Delay(TimeSpan.FromTicks(options.RetryDelay.Ticks << Math.Min(attempt, 16)), deadline).ConfigureAwait(false);
            }
            catch (OperationCanceledException e)
            {
                if (caller.IsCancellationRequested) throw new OperationCanceledException("the call was cancelled", e, caller);
                throw new DeadlineExceededException(0, "the call's timeout" + (timeout.HasValue ? " of " + timeout.Value.TotalMilliseconds + " ms" : "") + " passed while waiting to retry", e);
            }
        }

        private static HttpMessageHandler DefaultHandler()
        {
            var handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false };
            try
            {
                // .NET Framework and mono allow 2 connections per server by default, which would
                // queue a third concurrent call behind a slow one.
                handler.MaxConnectionsPerServer = 256;
            }
            catch (PlatformNotSupportedException)
            {
                // Runtimes without the setting have no such cap.
            }
            return handler;
        }

        /// <summary>Closes the connections of an HttpClient this transport made (never the caller's).</summary>
        public void Dispose()
        {
            if (ownsHttp) http.Dispose();
        }
    }
}
