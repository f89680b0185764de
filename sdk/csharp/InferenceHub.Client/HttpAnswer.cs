using System;
using System.Collections.Generic;
using System.Net.Http;
using InferenceHub.Client.Json;

namespace InferenceHub.Client
{
    /// <summary>A successful answer, read whole (its headers copied: the response is disposed).</summary>
    internal sealed class HttpAnswer
    {
        private readonly Dictionary<string, string> headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        public HttpAnswer(HttpResponseMessage response, byte[] body)
        {
            Body = body;
            // HttpClient files unknown headers under the response or the content, by runtime.
            foreach (var h in response.Content.Headers) headers[h.Key] = string.Join(",", h.Value);
            foreach (var h in response.Headers) headers[h.Key] = string.Join(",", h.Value);
        }

        public byte[] Body { get; }

        /// <summary>A response header's value; null when absent.</summary>
        public string Header(string name)
        {
            string value;
            return headers.TryGetValue(name, out value) ? value : null;
        }

        /// <summary>Whether the JSON body has <paramref name="key"/> set to <paramref name="value"/>.</summary>
        public bool JsonFlagIs(string key, bool value)
        {
            if (Body.Length == 0) return false;
            try
            {
                var obj = JsonReader.Parse(System.Text.Encoding.UTF8.GetString(Body)) as Dictionary<string, object>;
                object flag;
                return obj != null && obj.TryGetValue(key, out flag) && flag is bool && (bool)flag == value;
            }
            catch (FormatException)
            {
                return false;
            }
        }
    }
}
