using System;
using System.Globalization;
using System.Text;

namespace InferenceHub.Client.Json
{
    /// <summary>
    /// Appends JSON tokens to a <see cref="StringBuilder"/>; the caller writes the structure
    /// (the protocol's request has a fixed shape, so no object model is needed to write it).
    /// Numbers are written so that they read back as the same value: integers with every digit,
    /// floats as "R"/"G17" round-trip text, never in the current culture's format.
    /// </summary>
    internal static class JsonWriter
    {
        /// <summary>A JSON string literal of <paramref name="value"/>, escaped.</summary>
        public static StringBuilder AppendString(this StringBuilder builder, string value)
        {
            builder.Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': builder.Append("\\\""); break;
                    case '\\': builder.Append("\\\\"); break;
                    case '\n': builder.Append("\\n"); break;
                    case '\r': builder.Append("\\r"); break;
                    case '\t': builder.Append("\\t"); break;
                    default:
                        if (c < 0x20) builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else builder.Append(c);
                        break;
                }
            }
            return builder.Append('"');
        }

        /// <summary>An integer, every digit.</summary>
        public static StringBuilder AppendNumber(this StringBuilder builder, long value) =>
            builder.Append(value.ToString(CultureInfo.InvariantCulture));

        /// <summary>An unsigned integer, every digit.</summary>
        public static StringBuilder AppendNumber(this StringBuilder builder, ulong value) =>
            builder.Append(value.ToString(CultureInfo.InvariantCulture));

        /// <summary>
        /// A double that reads back as the same double (G17 always does; "R" is shorter but
        /// has had round-trip bugs on .NET Framework). Non-finite values have no JSON form.
        /// </summary>
        public static StringBuilder AppendNumber(this StringBuilder builder, double value)
        {
            if (double.IsNaN(value) || double.IsInfinity(value))
                throw new TensorException(value + " has no JSON form; send the tensor as binary data");
            // Negative zero: .NET Framework and mono format it as "0", losing the sign bit.
            if (value == 0 && 1 / value < 0) return builder.Append("-0.0");
            string text = value.ToString("R", CultureInfo.InvariantCulture);
            if (double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture) != value)
                text = value.ToString("G17", CultureInfo.InvariantCulture);
            return builder.Append(text);
        }

        /// <summary><c>true</c> or <c>false</c>.</summary>
        public static StringBuilder AppendBool(this StringBuilder builder, bool value) =>
            builder.Append(value ? "true" : "false");
    }
}
