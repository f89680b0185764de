using System;
using System.Collections.Generic;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace InferenceHub.Client
{
    /// <summary>
    /// A client of the InferenceHub gateway over the Open Inference Protocol's REST form (KServe
    /// v2 HTTP, with Triton's binary tensor data extension), on the port Envoy serves gRPC on.
    /// Thread-safe: share one per process (it holds the connection pool). Every call takes a
    /// CancellationToken; failures throw the <see cref="InferenceHubException"/> subclass for the
    /// HTTP status; the retry rules are in the README ("Retries").
    /// </summary>
    public sealed class InferenceHubClient : IDisposable
    {
        /// <summary>The header that pins a version (the gateway's routing contract).</summary>
        public const string VersionHeader = "inferencehub-model-version";

        private readonly Uri baseUri;
        private readonly HttpTransport transport;
        private readonly InferenceHubClientOptions options;
        private readonly string bearer;
        private int disposed;

        /// <summary>A client of the gateway at <paramref name="baseUri"/> (e.g. http://127.0.0.1:8080) with an API key.</summary>
        public InferenceHubClient(Uri baseUri, string apiKey = null)
            : this(baseUri, new InferenceHubClientOptions { ApiKey = apiKey })
        {
        }

        /// <summary>A client of the gateway at <paramref name="baseUri"/> with the given options.</summary>
        public InferenceHubClient(Uri baseUri, InferenceHubClientOptions options)
        {
            if (baseUri == null) throw new ArgumentNullException(nameof(baseUri));
            if (!baseUri.IsAbsoluteUri) throw new ArgumentException("the gateway's address must be an absolute URI, e.g. http://127.0.0.1:8080", nameof(baseUri));
            this.options = options ?? new InferenceHubClientOptions();
            if (this.options.Retries < 0) throw new ArgumentOutOfRangeException(nameof(options), "Retries must be 0 or more");
            // A trailing slash, so that relative paths extend the base rather than replace its last segment.
            this.baseUri = baseUri.AbsoluteUri.EndsWith("/", StringComparison.Ordinal) ? baseUri : new Uri(baseUri.AbsoluteUri + "/");
            bearer = this.options.Token ?? this.options.ApiKey;
            transport = new HttpTransport(this.options, this.baseUri);
        }

        /// <summary>
        /// Runs <paramref name="model"/> once on <paramref name="inputs"/> (keyed by input name),
        /// pinned to <paramref name="version"/> when given, else on the version the gateway's
        /// weights pick. Never retried once anything was sent (see the README, "Retries").
        /// </summary>
        public Task<InferResult> InferAsync(string model, IDictionary<string, Tensor> inputs, string version = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return InferAsync(model, inputs, new InferOptions { Version = version }, cancellationToken);
        }

        /// <summary>As the other overload, with the requested outputs, wire forms, id and timeout of <paramref name="options"/>.</summary>
        public async Task<InferResult> InferAsync(string model, IDictionary<string, Tensor> inputs, InferOptions options, CancellationToken cancellationToken = default(CancellationToken))
        {
            ThrowIfDisposed();
            CheckModel(model);
            options = options ?? new InferOptions();
            // Encoded before anything is sent: a tensor that does not fit throws here, not on the wire.
            InferRequestBody body = RestMessages.BuildInferRequest(inputs, options);
            Uri uri = ModelUri(model, options.Version, "infer");
            Func<HttpRequestMessage> build = () =>
            {
                var request = NewRequest(HttpMethod.Post, uri, options.Version);
                var content = new ByteArrayContent(body.Body);
                content.Headers.ContentType = new MediaTypeHeaderValue(body.HeaderLength.HasValue ? "application/octet-stream" : "application/json");
                request.Content = content;
                if (body.HeaderLength.HasValue)
                    request.Headers.TryAddWithoutValidation(RestMessages.HeaderLengthHeader, body.HeaderLength.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
                return request;
            };
            HttpAnswer answer = await transport.SendAsync(build, false, options.Timeout ?? this.options.Timeout, cancellationToken).ConfigureAwait(false);
            return RestMessages.ParseInferResponse(answer.Body, answer.Header(RestMessages.HeaderLengthHeader));
        }

        /// <summary>
        /// Whether the gateway is ready (no model: every model has a version with a node up) or
        /// the model (or its <paramref name="version"/>) is. A "not ready" answer is false; an
        /// unknown model throws <see cref="NotFoundException"/> (or 403 for another tenant's).
        /// </summary>
        public async Task<bool> ReadyAsync(string model = null, string version = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            ThrowIfDisposed();
            Uri uri;
            if (model == null)
            {
                if (version != null) throw new ArgumentException("a version needs a model", nameof(version));
                uri = new Uri(baseUri, "v2/health/ready");
            }
            else
            {
                CheckModel(model);
                uri = ModelUri(model, version, "ready");
            }
            try
            {
                await transport.SendAsync(() => NewRequest(HttpMethod.Get, uri, version), true, options.Timeout, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (InvalidArgumentException)
            {
                // The protocol's "not ready" is a 4xx; the gateway and the nodes answer 400, as Triton.
                return false;
            }
        }

        /// <summary>Whether the gateway is live (it answers at all).</summary>
        public async Task<bool> LiveAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            ThrowIfDisposed();
            var uri = new Uri(baseUri, "v2/health/live");
            HttpAnswer answer = await transport.SendAsync(() => NewRequest(HttpMethod.Get, uri, null), true, options.Timeout, cancellationToken).ConfigureAwait(false);
            return !answer.JsonFlagIs("live", false);
        }

        /// <summary>The model's metadata: versions, platform, inputs and outputs with datatypes and shapes.</summary>
        public async Task<ModelMetadata> MetadataAsync(string model, string version = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            ThrowIfDisposed();
            CheckModel(model);
            var uri = ModelUri(model, version, null);
            HttpAnswer answer = await transport.SendAsync(() => NewRequest(HttpMethod.Get, uri, version), true, options.Timeout, cancellationToken).ConfigureAwait(false);
            return RestMessages.ParseMetadata(answer.Body);
        }

        /// <summary>
        /// The model versions this caller's tenant may call, with their state
        /// (<c>POST /v2/repository/index</c>, which the gateway answers itself). Read-only, so
        /// retried like <see cref="MetadataAsync"/>. <paramref name="readyOnly"/>: only the versions
        /// a node can take calls for now.
        /// </summary>
        public async Task<IReadOnlyList<ModelIndexEntry>> ModelsAsync(bool readyOnly = false, CancellationToken cancellationToken = default(CancellationToken))
        {
            ThrowIfDisposed();
            var uri = new Uri(baseUri, "v2/repository/index");
            byte[] body = Encoding.UTF8.GetBytes(readyOnly ? "{\"ready\":true}" : "{}");
            Func<HttpRequestMessage> build = () =>
            {
                var request = NewRequest(HttpMethod.Post, uri, null);
                request.Content = new ByteArrayContent(body);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                return request;
            };
            HttpAnswer answer = await transport.SendAsync(build, true, options.Timeout, cancellationToken).ConfigureAwait(false);
            return RestMessages.ParseIndex(answer.Body);
        }

        /// <summary>Closes the connections (when the client created its HttpClient).</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 1) return;
            transport.Dispose();
        }

        private static void CheckModel(string model)
        {
            if (string.IsNullOrEmpty(model)) throw new ArgumentException("a model name is required", nameof(model));
        }

        private Uri ModelUri(string model, string version, string action)
        {
            string path = "v2/models/" + Uri.EscapeDataString(model);
            if (!string.IsNullOrEmpty(version)) path += "/versions/" + Uri.EscapeDataString(version);
            if (action != null) path += "/" + action;
            return new Uri(baseUri, path);
        }

        private HttpRequestMessage NewRequest(HttpMethod method, Uri uri, string version)
        {
            var request = new HttpRequestMessage(method, uri);
            // No "Expect: 100-continue" round trip before each body (.NET Framework and mono add it to POSTs).
            request.Headers.ExpectContinue = false;
            if (!string.IsNullOrEmpty(bearer)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            if (!string.IsNullOrEmpty(version)) request.Headers.TryAddWithoutValidation(VersionHeader, version);
            return request;
        }

        private void ThrowIfDisposed()
        {
            if (Volatile.Read(ref disposed) == 1) throw new ObjectDisposedException(nameof(InferenceHubClient));
        }
    }
}
