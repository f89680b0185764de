using System.Runtime.CompilerServices;

// The unit tests exercise the encoders and the JSON reader directly, without a server.
[assembly: InternalsVisibleTo("InferenceHub.Client.Tests")]
