using System;
using System.Collections.Generic;
using System.Text;
using NUnit.Framework;

namespace InferenceHub.Client.Tests
{
    /// <summary>Pure unit tests: every datatype to the raw and JSON forms and back, and FP16.</summary>
    [TestFixture]
    public class TensorCodecTests
    {
        /// <summary>One tensor per datatype, with edge values, and its raw bytes written out by hand.</summary>
        private static IEnumerable<KeyValuePair<Tensor, string>> Samples()
        {
            yield return Pair(Tensor.FromBool(new[] { true, false, true }, 3), "01-00-01");
            yield return Pair(Tensor.FromUInt8(new byte[] { 0, 255 }, 2), "00-FF");
            yield return Pair(Tensor.FromUInt16(new ushort[] { 1, 65535 }, 2), "01-00-FF-FF");
            yield return Pair(Tensor.FromUInt32(new uint[] { 1, uint.MaxValue }, 2), "01-00-00-00-FF-FF-FF-FF");
            yield return Pair(Tensor.FromUInt64(new ulong[] { ulong.MaxValue }, 1), "FF-FF-FF-FF-FF-FF-FF-FF");
            yield return Pair(Tensor.FromInt8(new sbyte[] { -128, 127 }, 2), "80-7F");
            yield return Pair(Tensor.FromInt16(new short[] { -2, 258 }, 2), "FE-FF-02-01");
            yield return Pair(Tensor.FromInt32(new[] { -1, int.MinValue }, 1, 2), "FF-FF-FF-FF-00-00-00-80");
            yield return Pair(Tensor.FromInt64(new[] { long.MinValue }, 1), "00-00-00-00-00-00-00-80");
            yield return Pair(Tensor.FromFp16Bits(new ushort[] { 0x3c00, 0xc000 }, 2), "00-3C-00-C0");
            yield return Pair(Tensor.FromFp32(new[] { 1f, -2.5f }, 2), "00-00-80-3F-00-00-20-C0");
            yield return Pair(Tensor.FromFp64(new[] { 1.0 }, 1), "00-00-00-00-00-00-F0-3F");
            yield return Pair(Tensor.FromBytes(new[] { new byte[] { 0xff }, new byte[0] }, 2), "01-00-00-00-FF-00-00-00-00");
        }

        private static KeyValuePair<Tensor, string> Pair(Tensor t, string hex) => new KeyValuePair<Tensor, string>(t, hex);

        [Test]
        public void EveryDatatypeEncodesToTheProtocolsRawBytesAndBack()
        {
            var seen = new HashSet<string>();
            foreach (var sample in Samples())
            {
                Tensor t = sample.Key;
                seen.Add(t.Datatype);
                byte[] raw = t.ToRaw();
                Assert.AreEqual(sample.Value, Expect.Hex(raw), t.Datatype);
                Tensor back = Tensor.FromRaw(t.Datatype, new List<long>(t.Shape).ToArray(), raw, "x");
                Assert.AreEqual(t.Datatype, back.Datatype);
                CollectionAssert.AreEqual(t.Shape, back.Shape);
                Assert.AreEqual(t.Data.GetType(), back.Data.GetType(), t.Datatype);
                if (t.Datatype == Datatype.Bytes) CollectionAssert.AreEqual(t.AsBytes(), back.AsBytes());
                else CollectionAssert.AreEqual(t.Data, back.Data, t.Datatype);
                Assert.AreEqual("x", back.Name);
            }
            CollectionAssert.AreEquivalent(Datatype.All, seen);
        }

        [Test]
        public void EveryDatatypeGoesThroughJsonDataAndBackUnchanged()
        {
            foreach (var sample in Samples())
            {
                Tensor t = sample.Key;
                if (t.Datatype == Datatype.UInt64 || t.Datatype == Datatype.Int64 || (t.Datatype == Datatype.Bytes))
                    continue; // beyond 2^53 / not UTF-8: refused, see the tests below
                var json = new StringBuilder();
                JsonTensorCodec.AppendData(json, "x", t.Datatype, t.Data);
                long[] shape = new List<long>(t.Shape).ToArray();
                Array back = JsonTensorCodec.ReadData("x", t.Datatype, shape, Json.JsonReader.Parse(json.ToString()));
                CollectionAssert.AreEqual(t.Data, back, t.Datatype + ": " + json);
            }
            var ints = Tensor.FromInt64(new[] { 9007199254740992L, -9007199254740992L, 0 }, 3);
            var uints = Tensor.FromUInt64(new ulong[] { 9007199254740992UL, 1 }, 2);
            var text = Tensor.FromStrings(new[] { "hello", "wörld ✓", "quote \" backslash \\ tab \t nul \0" }, 3);
            foreach (var t in new[] { ints, uints, text })
            {
                var json = new StringBuilder();
                JsonTensorCodec.AppendData(json, "x", t.Datatype, t.Data);
                Array back = JsonTensorCodec.ReadData("x", t.Datatype, new List<long>(t.Shape).ToArray(), Json.JsonReader.Parse(json.ToString()));
                if (t.Datatype == Datatype.Bytes) CollectionAssert.AreEqual(t.AsBytes(), (byte[][])back);
                else CollectionAssert.AreEqual(t.Data, back, json.ToString());
            }
        }

        [Test]
        public void FloatsReadBackBitForBitFromJson()
        {
            var floats = new[] { 0.1f, 1.1f, -0.9f, 3.4028235e38f, 1.401298e-45f, -0f, 100.1f };
            var doubles = new[] { 0.1, 1.0 / 3, double.MaxValue, double.Epsilon, 5e-324, -1.7976931348623157e308 };
            var json = new StringBuilder();
            JsonTensorCodec.AppendData(json, "f", Datatype.Fp32, floats);
            var back = (float[])JsonTensorCodec.ReadData("f", Datatype.Fp32, new long[] { floats.Length }, Json.JsonReader.Parse(json.ToString()));
            for (int i = 0; i < floats.Length; i++)
                Assert.AreEqual(BitConverter.GetBytes(floats[i]), BitConverter.GetBytes(back[i]), json.ToString());
            json.Clear();
            JsonTensorCodec.AppendData(json, "d", Datatype.Fp64, doubles);
            var backD = (double[])JsonTensorCodec.ReadData("d", Datatype.Fp64, new long[] { doubles.Length }, Json.JsonReader.Parse(json.ToString()));
            for (int i = 0; i < doubles.Length; i++)
                Assert.AreEqual(BitConverter.DoubleToInt64Bits(doubles[i]), BitConverter.DoubleToInt64Bits(backD[i]), json.ToString());
        }

        [Test]
        public void JsonRefusesWhatItCannotCarryExactly()
        {
            var json = new StringBuilder();
            StringAssert.Contains("2^53", Expect.Throws<TensorException>(() => JsonTensorCodec.AppendData(json, "b", Datatype.Int64, new[] { 9007199254740993L })).Message);
            StringAssert.Contains("2^53", Expect.Throws<TensorException>(() => JsonTensorCodec.AppendData(json, "b", Datatype.UInt64, new[] { ulong.MaxValue })).Message);
            StringAssert.Contains("binary", Expect.Throws<TensorException>(() => JsonTensorCodec.AppendData(json, "f", Datatype.Fp32, new[] { float.NaN })).Message);
            StringAssert.Contains("binary", Expect.Throws<TensorException>(() => JsonTensorCodec.AppendData(json, "d", Datatype.Fp64, new[] { double.PositiveInfinity })).Message);
            StringAssert.Contains("not UTF-8", Expect.Throws<TensorException>(() => JsonTensorCodec.AppendData(json, "t", Datatype.Bytes, new[] { new byte[] { 0xff, 0xfe } })).Message);
        }

        [Test]
        public void JsonDataIsCheckedAgainstTheShapeAndDatatype()
        {
            var parsed = Json.JsonReader.Parse("[[1,2],[3,4]]");
            CollectionAssert.AreEqual(new[] { 1, 2, 3, 4 }, (int[])JsonTensorCodec.ReadData("n", Datatype.Int32, new long[] { 2, 2 }, parsed));
            StringAssert.Contains("needs 3 elements", Expect.Throws<TensorException>(() => JsonTensorCodec.ReadData("n", Datatype.Int32, new long[] { 3 }, parsed)).Message);
            Expect.Throws<TensorException>(() => JsonTensorCodec.ReadData("n", Datatype.UInt8, new long[] { 1 }, Json.JsonReader.Parse("[256]")));
            Expect.Throws<TensorException>(() => JsonTensorCodec.ReadData("n", Datatype.Int32, new long[] { 1 }, Json.JsonReader.Parse("[1.5]")));
            Expect.Throws<TensorException>(() => JsonTensorCodec.ReadData("n", Datatype.Bool, new long[] { 1 }, Json.JsonReader.Parse("[1]")));
            Expect.Throws<TensorException>(() => JsonTensorCodec.ReadData("n", Datatype.Bytes, new long[] { 1 }, Json.JsonReader.Parse("[null]")));
            Expect.Throws<TensorException>(() => JsonTensorCodec.ReadData("n", Datatype.Fp32, new long[] { 1 }, Json.JsonReader.Parse("1")));
            // Every digit of a 64-bit integer, as the server writes them.
            CollectionAssert.AreEqual(new[] { long.MaxValue, long.MinValue }, (long[])JsonTensorCodec.ReadData("n", Datatype.Int64, new long[] { 2 }, Json.JsonReader.Parse("[9223372036854775807,-9223372036854775808]")));
            CollectionAssert.AreEqual(new[] { ulong.MaxValue }, (ulong[])JsonTensorCodec.ReadData("n", Datatype.UInt64, new long[] { 1 }, Json.JsonReader.Parse("[18446744073709551615]")));
        }

        [Test]
        public void RawBytesThatDoNotFitTheirDatatypeAreRefused()
        {
            StringAssert.Contains("whole number", Expect.Throws<TensorException>(() => Tensor.FromRaw(Datatype.Fp32, new long[] { 1 }, new byte[3])).Message);
            StringAssert.Contains("malformed", Expect.Throws<TensorException>(() => Tensor.FromRaw(Datatype.Bytes, new long[] { 1 }, new byte[] { 5, 0, 0, 0, 1 })).Message);
            StringAssert.Contains("malformed", Expect.Throws<TensorException>(() => Tensor.FromRaw(Datatype.Bytes, new long[] { 1 }, new byte[] { 5, 0 })).Message);
            StringAssert.Contains("needs 2 elements", Expect.Throws<TensorException>(() => Tensor.FromRaw(Datatype.Int32, new long[] { 2 }, new byte[4])).Message);
            StringAssert.Contains("not an Open Inference Protocol datatype", Expect.Throws<TensorException>(() => Tensor.FromRaw("BF16", new long[] { 1 }, new byte[2])).Message);
        }

        [Test]
        public void TensorsCheckTheirShapeAndTheDatatypeTheyAreReadAs()
        {
            StringAssert.Contains("needs 6 elements", Expect.Throws<TensorException>(() => Tensor.FromFp32(new float[5], 2, 3)).Message);
            Expect.Throws<TensorException>(() => Tensor.FromFp32(new float[0], -1));
            Expect.Throws<TensorException>(() => Tensor.FromStrings(new[] { "a", null }, 2));
            var t = Tensor.FromInt32(new[] { 1, 2 }, 2).WithName("n");
            Assert.AreEqual("n", t.Name);
            StringAssert.Contains("is INT32, not FP32", Expect.Throws<TensorException>(() => t.AsFp32()).Message);
            Assert.AreEqual(1, Tensor.FromFp64(new[] { 1.0 }).ElementCount(), "no shape: a scalar");
            Assert.AreEqual(0, Tensor.FromFp32(new float[0], 0, 4).ElementCount());
            CollectionAssert.AreEqual(new[] { "hello", "wörld ✓" }, Tensor.FromStrings(new[] { "hello", "wörld ✓" }, 2).AsStrings());
            CollectionAssert.AreEqual(new[] { 0.5f, -2f }, Tensor.FromFp16(new[] { 0.5f, -2f }, 2).AsFp16());
        }

        [Test]
        public void Float16ConvertsExactlyAndRoundsToNearestEven()
        {
            Assert.AreEqual(0x3c00, Float16.FromSingle(1f));
            Assert.AreEqual(0xc000, Float16.FromSingle(-2f));
            Assert.AreEqual(0x7bff, Float16.FromSingle(65504f), "the largest half");
            Assert.AreEqual(0x7c00, Float16.FromSingle(65520f), "halfway past the largest rounds to infinity");
            Assert.AreEqual(0x7bff, Float16.FromSingle(65519f));
            Assert.AreEqual(0x0001, Float16.FromSingle(5.9604645e-8f), "the smallest subnormal");
            Assert.AreEqual(0x0000, Float16.FromSingle(2.9802322e-8f), "half the smallest subnormal: a tie, to even (zero)");
            Assert.AreEqual(0x0400, Float16.FromSingle(6.1035156e-5f), "the smallest normal");
            Assert.AreEqual(0x8000, Float16.FromSingle(-0f));
            Assert.AreEqual(0x3c00, Float16.FromSingle(1.00048828125f), "1 + 2^-11: a tie, to even (1)");
            Assert.AreEqual(0x3c02, Float16.FromSingle(1.00146484375f), "1 + 3*2^-11: a tie, to even (up)");
            Assert.AreEqual(0xfc00, Float16.FromSingle(float.NegativeInfinity));
            Assert.IsTrue(float.IsNaN(Float16.ToSingle(Float16.FromSingle(float.NaN))));
            Assert.AreEqual(0.0999755859375f, Float16.ToSingle(Float16.FromSingle(0.1f)));
            // Every half's bits come back through float unchanged (NaNs keep being NaN).
            for (int bits = 0; bits <= 0xffff; bits++)
            {
                float f = Float16.ToSingle((ushort)bits);
                if (float.IsNaN(f)) continue;
                Assert.AreEqual(bits, (int)Float16.FromSingle(f), "bits " + bits.ToString("x4"));
            }
        }
    }
}
