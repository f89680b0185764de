using System.Collections.Generic;
using System.Linq;

namespace InferenceHub.Client
{
    /// <summary>
    /// One inference's answer: which model and version answered (the version the gateway's
    /// routing chose, or the pin), the request id, and the output tensors by name.
    /// </summary>
    public sealed class InferResult
    {
        internal InferResult(string modelName, string modelVersion, string id, IReadOnlyDictionary<string, Tensor> outputs)
        {
            ModelName = modelName;
            ModelVersion = modelVersion;
            Id = id;
            Outputs = outputs;
        }

        /// <summary>The model that answered.</summary>
        public string ModelName { get; }

        /// <summary>The version that answered.</summary>
        public string ModelVersion { get; }

        /// <summary>The request id the call sent (empty when it sent none).</summary>
        public string Id { get; }

        /// <summary>The outputs by name.</summary>
        public IReadOnlyDictionary<string, Tensor> Outputs { get; }

        /// <summary>The output <paramref name="name"/>; the error names the outputs there are.</summary>
        public Tensor this[string name]
        {
            get
            {
                Tensor tensor;
                if (Outputs.TryGetValue(name, out tensor)) return tensor;
                throw new KeyNotFoundException(
                    "no output '" + name + "' (outputs: " + string.Join(", ", Outputs.Keys.ToArray()) + ")");
            }
        }
    }
}
