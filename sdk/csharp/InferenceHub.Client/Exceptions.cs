using System;

namespace InferenceHub.Client
{
    /// <summary>
    /// A call the gateway (or the way to it) failed. <see cref="StatusCode"/> is the HTTP status
    /// of the answer, 0 when none came (the gateway was unreachable, the deadline passed);
    /// <see cref="ServerMessage"/> is the server's own words (the <c>error</c> of its JSON body).
    /// Catch the subclass for what you act on; anything else is this class itself (e.g. 413, a
    /// body over the gateway's limit; 501, an endpoint or version not served over REST).
    /// </summary>
    public class InferenceHubException : Exception
    {
        /// <summary>Creates the exception for a status and the server's message.</summary>
        public InferenceHubException(int statusCode, string serverMessage, Exception innerException = null)
            : base(Describe(statusCode, serverMessage), innerException)
        {
            StatusCode = statusCode;
            ServerMessage = serverMessage ?? "";
        }

        /// <summary>The HTTP status of the answer; 0 when no answer came.</summary>
        public int StatusCode { get; }

        /// <summary>What the server said (its JSON <c>error</c>, else the body or the reason phrase).</summary>
        public string ServerMessage { get; }

        private static string Describe(int statusCode, string message) =>
            statusCode == 0 ? message ?? "" : "HTTP " + statusCode + ": " + message;
    }

    /// <summary>400: the server refused the request as malformed (input names, shapes, datatypes, versions that disagree).</summary>
    public class InvalidArgumentException : InferenceHubException
    {
        /// <inheritdoc />
        public InvalidArgumentException(int statusCode, string serverMessage, Exception innerException = null)
            : base(statusCode, serverMessage, innerException)
        {
        }
    }

    /// <summary>401: no API key or token, or one the gateway does not accept.</summary>
    public class UnauthenticatedException : InferenceHubException
    {
        /// <inheritdoc />
        public UnauthenticatedException(int statusCode, string serverMessage, Exception innerException = null)
            : base(statusCode, serverMessage, innerException)
        {
        }
    }

    /// <summary>403: the key is valid, but its tenant may not call this model or version.</summary>
    public class PermissionDeniedException : InferenceHubException
    {
        /// <inheritdoc />
        public PermissionDeniedException(int statusCode, string serverMessage, Exception innerException = null)
            : base(statusCode, serverMessage, innerException)
        {
        }
    }

    /// <summary>404: the gateway serves no such model, version or path.</summary>
    public class NotFoundException : InferenceHubException
    {
        /// <inheritdoc />
        public NotFoundException(int statusCode, string serverMessage, Exception innerException = null)
            : base(statusCode, serverMessage, innerException)
        {
        }
    }

    /// <summary>
    /// 429: over the tenant's rate limit. Not retried by the SDK: wait <see cref="RetryAfter"/>
    /// (from the Retry-After header, else "retry in N ms" in the message) and call again.
    /// </summary>
    public class ResourceExhaustedException : InferenceHubException
    {
        /// <summary>Creates the exception with the server's retry hint, when it gave one.</summary>
        public ResourceExhaustedException(int statusCode, string serverMessage, TimeSpan? retryAfter, Exception innerException = null)
            : base(statusCode, serverMessage, innerException)
        {
            RetryAfter = retryAfter;
        }

        /// <summary>How long the server asked the caller to wait; null when it gave no hint.</summary>
        public TimeSpan? RetryAfter { get; }
    }

    /// <summary>
    /// 503 (or 502): no node could take the call, or a node failed while holding it; or, with
    /// <see cref="InferenceHubException.StatusCode"/> 0, the gateway could not be reached at all.
    /// An inference that fails this way may have run on a node: see the README's "Retries".
    /// </summary>
    public class UnavailableException : InferenceHubException
    {
        /// <inheritdoc />
        public UnavailableException(int statusCode, string serverMessage, Exception innerException = null)
            : base(statusCode, serverMessage, innerException)
        {
        }
    }

    /// <summary>
    /// The call's timeout passed before the answer came (status 0: the client's own timeout;
    /// 504 or 408: the gateway's). Distinct from the caller's cancellation, which throws
    /// <see cref="OperationCanceledException"/> as everywhere in .NET.
    /// </summary>
    public class DeadlineExceededException : InferenceHubException
    {
        /// <inheritdoc />
        public DeadlineExceededException(int statusCode, string serverMessage, Exception innerException = null)
            : base(statusCode, serverMessage, innerException)
        {
        }
    }
}
