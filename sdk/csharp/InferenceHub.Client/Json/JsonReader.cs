using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace InferenceHub.Client.Json
{
    /// <summary>
    /// A small, strict JSON parser (RFC 8259) for the protocol's messages: objects become
    /// <c>Dictionary&lt;string, object&gt;</c>, arrays <c>List&lt;object&gt;</c>, numbers
    /// <see cref="JsonNumber"/>, and strings, booleans and null themselves. Hand-written because
    /// netstandard2.0 has no JSON DOM without NuGet packages; iterative nesting is not needed
    /// (tensor JSON is at most as deep as its shape), but depth is capped so that no answer can
    /// exhaust the stack.
    /// </summary>
    internal sealed class JsonReader
    {
        private const int MaxDepth = 128;
        private readonly string text;
        private int position;

        private JsonReader(string text)
        {
            this.text = text;
        }

        /// <summary>Parses one JSON value that must be the whole of <paramref name="text"/>.</summary>
        public static object Parse(string text)
        {
            if (text == null) throw new ArgumentNullException(nameof(text));
            var reader = new JsonReader(text);
            reader.SkipWhitespace();
            object value = reader.ReadValue(0);
            reader.SkipWhitespace();
            if (reader.position != text.Length) throw reader.Error("unexpected text after the value");
            return value;
        }

        private object ReadValue(int depth)
        {
            if (depth > MaxDepth) throw Error("nested deeper than " + MaxDepth);
            if (position >= text.Length) throw Error("unexpected end");
            char c = text[position];
            switch (c)
            {
                case '{': return ReadObject(depth);
                case '[': return ReadArray(depth);
                case '"': return ReadString();
                case 't': Expect("true"); return true;
                case 'f': Expect("false"); return false;
                case 'n': Expect("null"); return null;
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                    throw Error("unexpected '" + c + "'");
            }
        }

        private Dictionary<string, object> ReadObject(int depth)
        {
            var result = new Dictionary<string, object>(StringComparer.Ordinal);
            position++;
            SkipWhitespace();
            if (Peek() == '}')
            {
                position++;
                return result;
            }
            while (true)
            {
                SkipWhitespace();
                if (Peek() != '"') throw Error("expected a member name");
                string key = ReadString();
                SkipWhitespace();
                if (Peek() != ':') throw Error("expected ':'");
                position++;
                SkipWhitespace();
                result[key] = ReadValue(depth + 1);
                SkipWhitespace();
                char c = Peek();
                position++;
                if (c == '}') return result;
                if (c != ',') throw Error("expected ',' or '}'");
            }
        }

        private List<object> ReadArray(int depth)
        {
            var result = new List<object>();
            position++;
            SkipWhitespace();
            if (Peek() == ']')
            {
                position++;
                return result;
            }
            while (true)
            {
                SkipWhitespace();
                result.Add(ReadValue(depth + 1));
                SkipWhitespace();
                char c = Peek();
                position++;
                if (c == ']') return result;
                if (c != ',') throw Error("expected ',' or ']'");
            }
        }

        private string ReadString()
        {
            position++;
            StringBuilder builder = null;
            int start = position;
            while (true)
            {
                if (position >= text.Length) throw Error("unterminated string");
                char c = text[position];
                if (c == '"')
                {
                    string tail = text.Substring(start, position - start);
                    position++;
                    return builder == null ? tail : builder.Append(tail).ToString();
                }
                if (c < 0x20) throw Error("control character in a string");
                if (c != '\\')
                {
                    position++;
                    continue;
                }
                if (builder == null) builder = new StringBuilder();
                builder.Append(text, start, position - start);
                position++;
                if (position >= text.Length) throw Error("unterminated escape");
                char e = text[position++];
                switch (e)
                {
                    case '"': builder.Append('"'); break;
                    case '\\': builder.Append('\\'); break;
                    case '/': builder.Append('/'); break;
                    case 'b': builder.Append('\b'); break;
                    case 'f': builder.Append('\f'); break;
                    case 'n': builder.Append('\n'); break;
                    case 'r': builder.Append('\r'); break;
                    case 't': builder.Append('\t'); break;
                    case 'u':
                        if (position + 4 > text.Length) throw Error("short \\u escape");
                        int code;
                        if (!int.TryParse(text.Substring(position, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out code))
                            throw Error("bad \\u escape");
                        builder.Append((char)code);
                        position += 4;
                        break;
                    default:
                        throw Error("bad escape '\\" + e + "'");
                }
                start = position;
            }
        }

        private JsonNumber ReadNumber()
        {
            int start = position;
            if (Peek() == '-') position++;
            if (Peek() == '0') position++;
            else if (!Digits()) throw Error("bad number");
            if (Peek() == '.')
            {
                position++;
                if (!Digits()) throw Error("bad number: no digits after '.'");
            }
            if (Peek() == 'e' || Peek() == 'E')
            {
                position++;
                if (Peek() == '+' || Peek() == '-') position++;
                if (!Digits()) throw Error("bad number: no exponent digits");
            }
            return new JsonNumber(text.Substring(start, position - start));
        }

        private bool Digits()
        {
            int start = position;
            while (position < text.Length && text[position] >= '0' && text[position] <= '9') position++;
            return position > start;
        }

        private void Expect(string word)
        {
            if (string.CompareOrdinal(text, position, word, 0, word.Length) != 0) throw Error("unexpected token");
            position += word.Length;
        }

        private char Peek() => position < text.Length ? text[position] : '\0';

        private void SkipWhitespace()
        {
            while (position < text.Length)
            {
                char c = text[position];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
                position++;
            }
        }

        private FormatException Error(string what) =>
            new FormatException("invalid JSON at character " + position + ": " + what);
    }
}
