using System;

namespace InferenceHub.Client
{
    /// <summary>
    /// A tensor that does not fit its datatype or shape, or data asked for as the wrong type.
    /// Thrown before anything is sent (an <see cref="ArgumentException"/>: the caller's input is
    /// wrong, not the server's answer), or when a response's tensor cannot be decoded.
    /// </summary>
    public class TensorException : ArgumentException
    {
        /// <summary>Creates the exception with its message.</summary>
        public TensorException(string message) : base(message)
        {
        }
    }
}
