using System.Collections.Generic;

namespace InferenceHub.Client
{
    /// <summary>A model's metadata as its nodes describe it (<c>GET /v2/models/M[/versions/V]</c>).</summary>
    public sealed class ModelMetadata
    {
        internal ModelMetadata(string name, IReadOnlyList<string> versions, string platform, IReadOnlyList<TensorMetadata> inputs, IReadOnlyList<TensorMetadata> outputs)
        {
            Name = name;
            Versions = versions;
            Platform = platform;
            Inputs = inputs;
            Outputs = outputs;
        }

        /// <summary>The model's name.</summary>
        public string Name { get; }

        /// <summary>The versions the answering node knows of the model.</summary>
        public IReadOnlyList<string> Versions { get; }

        /// <summary>The runtime, e.g. <c>onnxruntime_onnx</c>.</summary>
        public string Platform { get; }

        /// <summary>The inputs the model takes.</summary>
        public IReadOnlyList<TensorMetadata> Inputs { get; }

        /// <summary>The outputs the model gives.</summary>
        public IReadOnlyList<TensorMetadata> Outputs { get; }
    }

    /// <summary>One input or output of a model: name, datatype and shape (-1: any size).</summary>
    public sealed class TensorMetadata
    {
        internal TensorMetadata(string name, string datatype, IReadOnlyList<long> shape)
        {
            Name = name;
            Datatype = datatype;
            Shape = shape;
        }

        /// <summary>The tensor's name.</summary>
        public string Name { get; }

        /// <summary>The protocol's datatype.</summary>
        public string Datatype { get; }

        /// <summary>The shape; -1 marks a dimension of any size.</summary>
        public IReadOnlyList<long> Shape { get; }
    }
}
