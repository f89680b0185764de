namespace InferenceHub.Client
{
    /// <summary>
    /// One model version in the gateway's index (<c>POST /v2/repository/index</c>): one the
    /// caller's tenant may call, with its state.
    /// </summary>
    public sealed class ModelIndexEntry
    {
        internal ModelIndexEntry(string name, string version, string state, string reason)
        {
            Name = name;
            Version = version;
            State = state;
            Reason = reason;
        }

        /// <summary>The model's name.</summary>
        public string Name { get; }

        /// <summary>The version.</summary>
        public string Version { get; }

        /// <summary><c>READY</c> when a node can take its calls now, else <c>UNAVAILABLE</c>.</summary>
        public string State { get; }

        /// <summary>Why it is not ready; empty when it is.</summary>
        public string Reason { get; }
    }
}
