using System;
using System.Collections.Generic;
using System.Text;
using InferenceHub.Client.Json;
using NUnit.Framework;

namespace InferenceHub.Client.Tests
{
    /// <summary>Pure unit tests of the SDK's own JSON reader and writer.</summary>
    [TestFixture]
    public class JsonTests
    {
        [Test]
        public void ReadsEveryKindOfValue()
        {
            var top = (Dictionary<string, object>)JsonReader.Parse(
                " {\"s\":\"a\\\"b\\\\c\\/\\n\\u00e9\\ud83d\\ude00\",\"n\":-12.5e2,\"big\":18446744073709551615,\"t\":true,\"f\":false,\"z\":null,\"a\":[1,[2],{}],\"o\":{}} ");
            Assert.AreEqual("a\"b\\c/\né😀", top["s"]);
            Assert.AreEqual(-1250.0, ((JsonNumber)top["n"]).ToDouble());
            Assert.AreEqual(ulong.MaxValue, ((JsonNumber)top["big"]).ToUInt64());
            Assert.AreEqual(true, top["t"]);
            Assert.AreEqual(false, top["f"]);
            Assert.IsNull(top["z"]);
            Assert.AreEqual(3, ((List<object>)top["a"]).Count);
            Assert.AreEqual(0, ((Dictionary<string, object>)top["o"]).Count);
            Assert.AreEqual(3L, ((JsonNumber)JsonReader.Parse("3.0")).ToInt64(), "an integral value written as a float");
        }

        [Test]
        public void RefusesWhatIsNotJson()
        {
            foreach (var bad in new[] { "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"\\x\"", "tru", "[1] 2", "\"a\nb\"", "{a:1}", new string('[', 200) + new string(']', 200) })
            {
                Assert.Throws<FormatException>(() => JsonReader.Parse(bad), bad);
            }
            Assert.Throws<FormatException>(() => ((JsonNumber)JsonReader.Parse("1.5")).ToInt64());
        }

        [Test]
        public void WritesStringsEscapedAndNumbersExactly()
        {
            var json = new StringBuilder();
            json.AppendString("q\"b\\n\n\u0001é").Append(' ').AppendNumber(long.MinValue).Append(' ').AppendNumber(ulong.MaxValue)
                .Append(' ').AppendNumber(0.1).Append(' ').AppendBool(false);
            Assert.AreEqual("\"q\\\"b\\\\n\\n\\u0001é\" -9223372036854775808 18446744073709551615 0.1 false", json.ToString());
            Assert.AreEqual("q\"b\\n\n\u0001é", JsonReader.Parse(json.ToString().Substring(0, json.ToString().IndexOf(' '))));
        }
    }
}
