using System;
using System.Collections.Generic;

namespace InferenceHub.Client
{
    /// <summary>What a single <see cref="InferenceHubClient.InferAsync(string, IDictionary{string, Tensor}, InferOptions, System.Threading.CancellationToken)"/> call may set beyond its inputs.</summary>
    public sealed class InferOptions
    {
        /// <summary>
        /// Pins the version (in the URL, <c>/v2/models/M/versions/V/infer</c>, and the
        /// <c>inferencehub-model-version</c> header); null lets the gateway's weights pick.
        /// </summary>
        public string Version { get; set; }

        /// <summary>Ask for these outputs only (default: all the model has).</summary>
        public IList<string> Outputs { get; set; }

        /// <summary>
        /// Send inputs as binary tensor data (Triton's extension; the default): exact bytes, no
        /// number formatting. false sends JSON <c>data</c>, except FP16, which is always binary
        /// (JSON has no half-precision form that every server reads the same way).
        /// </summary>
        public bool BinaryInputs { get; set; } = true;

        /// <summary>
        /// Ask for outputs as binary data (the default: exact and fast); false asks for JSON
        /// <c>data</c>, which the SDK reads back into the same typed arrays.
        /// </summary>
        public bool BinaryOutputs { get; set; } = true;

        /// <summary>A request id, echoed in <see cref="InferResult.Id"/>.</summary>
        public string Id { get; set; }

        /// <summary>This call's timeout, overriding the client's <see cref="InferenceHubClientOptions.Timeout"/>.</summary>
        public TimeSpan? Timeout { get; set; }
    }
}
