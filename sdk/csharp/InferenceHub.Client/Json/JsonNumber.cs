using System;
using System.Globalization;

namespace InferenceHub.Client.Json
{
    /// <summary>
    /// A JSON number kept as its text, so that a 64-bit integer with more digits than a double
    /// holds (INT64 and UINT64 tensors, written with every digit by the server) is read exactly,
    /// and a float is parsed once, to the type its tensor needs.
    /// </summary>
    internal sealed class JsonNumber
    {
        public JsonNumber(string text)
        {
            Text = text;
        }

        /// <summary>The number as it appeared in the JSON text.</summary>
        public string Text { get; }

        public double ToDouble()
        {
            double value = double.Parse(Text, NumberStyles.Float, CultureInfo.InvariantCulture);
            // "-0" and "-0.0" are negative zero; .NET Framework and mono parse them as +0.
            return value == 0 && Text[0] == '-' ? -0.0 : value;
        }

        /// <summary>The integer the text stands for; also accepts "3.0" or "1e3" when the value is integral.</summary>
        public long ToInt64()
        {
            long value;
            if (long.TryParse(Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value)) return value;
            return checked((long)Integral());
        }

        /// <summary>As <see cref="ToInt64"/>, unsigned.</summary>
        public ulong ToUInt64()
        {
            ulong value;
            if (ulong.TryParse(Text, NumberStyles.None, CultureInfo.InvariantCulture, out value)) return value;
            return checked((ulong)Integral());
        }

        public override string ToString() => Text;

        private double Integral()
        {
            double d = ToDouble();
            if (Math.Floor(d) != d) throw new FormatException("'" + Text + "' is not an integer");
            return d;
        }
    }
}
