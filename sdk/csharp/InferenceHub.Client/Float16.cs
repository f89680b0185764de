using System;

namespace InferenceHub.Client
{
    /// <summary>
    /// IEEE 754 half precision to and from <see cref="float"/>. FP16 tensors carry the bits
    /// (<c>ushort</c>) so that values round-trip exactly: netstandard2.0 has no Half type, and
    /// going through float only when the caller asks keeps the rounding a visible choice.
    /// </summary>
    public static class Float16
    {
        /// <summary>The float a half's bits stand for (exact: every half is a float).</summary>
        public static float ToSingle(ushort bits)
        {
            int sign = (bits >> 15) & 1;
            int exponent = (bits >> 10) & 0x1f;
            int mantissa = bits & 0x3ff;
            float value;
            if (exponent == 0)
            {
                // Zero or subnormal: mantissa * 2^-24.
                value = mantissa * (1f / 16777216f);
            }
            else if (exponent == 0x1f)
            {
                value = mantissa == 0 ? float.PositiveInfinity : float.NaN;
            }
            else
            {
                int floatBits = ((exponent - 15 + 127) << 23) | (mantissa << 13);
                value = BitConverter.ToSingle(BitConverter.GetBytes(floatBits), 0);
            }
            return sign == 1 ? -value : value;
        }

        /// <summary>
        /// The half nearest to <paramref name="value"/> (ties to even), as bits; beyond the half
        /// range it is infinity, NaN stays NaN.
        /// </summary>
        public static ushort FromSingle(float value)
        {
            int f = BitConverter.ToInt32(BitConverter.GetBytes(value), 0);
            int sign = (f >> 16) & 0x8000;
            int exponent = (f >> 23) & 0xff;
            int mantissa = f & 0x7fffff;
            if (exponent == 0xff)
            {
                return (ushort)(sign | 0x7c00 | (mantissa != 0 ? 0x200 : 0));
            }
            int e = exponent - 127 + 15;
            if (e >= 0x1f)
            {
                return (ushort)(sign | 0x7c00);
            }
            if (e <= 0)
            {
                // Subnormal half (or zero): shift the full significand into place, rounding.
                if (e < -10) return (ushort)sign;
                int significand = mantissa | 0x800000;
                int shift = 14 - e;
                int half = significand >> shift;
                int rest = significand & ((1 << shift) - 1);
                int midpoint = 1 << (shift - 1);
                if (rest > midpoint || (rest == midpoint && (half & 1) == 1)) half++;
                return (ushort)(sign | half);
            }
            int result = (e << 10) | (mantissa >> 13);
            int remainder = mantissa & 0x1fff;
            // Ties to even; a carry into the exponent is the right next value (up to infinity).
            if (remainder > 0x1000 || (remainder == 0x1000 && (result & 1) == 1)) result++;
            return (ushort)(sign | result);
        }

        /// <summary>Every element of <paramref name="bits"/> as a float.</summary>
        public static float[] ToSingles(ushort[] bits)
        {
            if (bits == null) throw new ArgumentNullException(nameof(bits));
            var values = new float[bits.Length];
            for (int i = 0; i < bits.Length; i++) values[i] = ToSingle(bits[i]);
            return values;
        }

        /// <summary>Every element of <paramref name="values"/> rounded to a half, as bits.</summary>
        public static ushort[] FromSingles(float[] values)
        {
            if (values == null) throw new ArgumentNullException(nameof(values));
            var bits = new ushort[values.Length];
            for (int i = 0; i < values.Length; i++) bits[i] = FromSingle(values[i]);
            return bits;
        }
    }
}
