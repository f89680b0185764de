using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Http;
using System.Text;
using System.Threading.Tasks;
using InferenceHub.Client.Json;
using NUnit.Framework;

namespace InferenceHub.Client.Tests
{
    /// <summary>
    /// The live stack the integration tests call, described by environment variables
    /// (test/lib/sdk-stack.ts sets them). A missing variable fails the test that needs it: these
    /// tests never skip, so a run without the stack cannot pass by accident.
    /// </summary>
    internal static class Stack
    {
        public static Uri Url => new Uri(Require("INFERENCEHUB_URL"));
        public static string ApiKey => Require("INFERENCEHUB_API_KEY");
        public static string OtherApiKey => Require("INFERENCEHUB_OTHER_API_KEY");
        public static string LimitedApiKey => Require("INFERENCEHUB_LIMITED_API_KEY");
        public static string VectorsPath => Require("INFERENCEHUB_VECTORS");
        public static Uri FaultsUrl => new Uri(Require("INFERENCEHUB_FAULTS_URL").TrimEnd('/') + "/");
        public static int SlowMs => int.Parse(Require("INFERENCEHUB_SLOW_MS"));

        /// <summary>A client of the stack with the acme tenant's key (or <paramref name="apiKey"/>).</summary>
        public static InferenceHubClient Client(string apiKey = null, TimeSpan? timeout = null) =>
            new InferenceHubClient(Url, new InferenceHubClientOptions { ApiKey = apiKey ?? ApiKey, Timeout = timeout ?? TimeSpan.FromSeconds(20) });

        public static string Require(string name)
        {
            string value = Environment.GetEnvironmentVariable(name);
            if (string.IsNullOrEmpty(value))
                Assert.Fail(name + " is not set: run these tests through test/sdk-csharp.test.ts, which starts the stack (test/lib/sdk-stack.ts)");
            return value;
        }
    }

    /// <summary>The faults server of the stack: kills nodes and reads counters (test/lib/sdk-stack.ts).</summary>
    internal static class Faults
    {
        private static readonly HttpClient Http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        public static Task<Dictionary<string, object>> PostAsync(string pathAndQuery) => SendAsync(HttpMethod.Post, pathAndQuery);

        public static Task<Dictionary<string, object>> GetAsync(string pathAndQuery) => SendAsync(HttpMethod.Get, pathAndQuery);

        /// <summary>A counter of a JSON answer (a missing key reads as 0: a node that never served).</summary>
        public static long Count(Dictionary<string, object> answer, string key)
        {
            object value;
            return answer.TryGetValue(key, out value) ? ((JsonNumber)value).ToInt64() : 0;
        }

        private static async Task<Dictionary<string, object>> SendAsync(HttpMethod method, string pathAndQuery)
        {
            using (var response = await Http.SendAsync(new HttpRequestMessage(method, new Uri(Stack.FaultsUrl, pathAndQuery))))
            {
                string text = await response.Content.ReadAsStringAsync();
                Assert.IsTrue(response.IsSuccessStatusCode, method + " " + pathAndQuery + ": HTTP " + (int)response.StatusCode + " " + text);
                return (Dictionary<string, object>)JsonReader.Parse(text);
            }
        }
    }

    /// <summary>One case of sdk/vectors/vectors.json.</summary>
    internal sealed class VectorCase
    {
        public string Name;
        public string Model;
        public string Version;
        public Dictionary<string, Tensor> Inputs = new Dictionary<string, Tensor>();
        public List<ExpectedOutput> Outputs = new List<ExpectedOutput>();
    }

    internal sealed class ExpectedOutput
    {
        public string Name;
        public string Datatype;
        public long[] Shape;
        public byte[] Raw;
    }

    /// <summary>The shared test vectors (every SDK's suite reads the same file).</summary>
    internal static class Vectors
    {
        private static List<VectorCase> cases;

        public static List<VectorCase> All
        {
            get
            {
                if (cases == null) cases = Load(File.ReadAllText(Stack.VectorsPath, Encoding.UTF8));
                return cases;
            }
        }

        public static VectorCase Get(string name)
        {
            foreach (var c in All)
            {
                if (c.Name == name) return c;
            }
            Assert.Fail("no case '" + name + "' in " + Stack.VectorsPath);
            return null;
        }

        private static List<VectorCase> Load(string json)
        {
            var result = new List<VectorCase>();
            var top = (Dictionary<string, object>)JsonReader.Parse(json);
            foreach (Dictionary<string, object> c in (List<object>)top["cases"])
            {
                var vc = new VectorCase { Name = (string)c["name"], Model = (string)c["model"], Version = (string)c["version"] };
                foreach (Dictionary<string, object> input in (List<object>)c["inputs"])
                {
                    string datatype = (string)input["datatype"];
                    long[] shape = Shape(input["shape"]);
                    // The inputs' JSON data read by the SDK's own JSON decoder into typed arrays
                    // (FP16 numbers are exact halves, so their bits are exact too).
                    Array data = JsonTensorCodec.ReadData((string)input["name"], datatype, shape, input["data"]);
                    vc.Inputs[(string)input["name"]] = Tensor.Create(null, datatype, shape, data);
                }
                foreach (Dictionary<string, object> output in (List<object>)c["outputs"])
                {
                    vc.Outputs.Add(new ExpectedOutput
                    {
                        Name = (string)output["name"],
                        Datatype = (string)output["datatype"],
                        Shape = Shape(output["shape"]),
                        Raw = Convert.FromBase64String((string)output["raw"]),
                    });
                }
                result.Add(vc);
            }
            return result;
        }

        private static long[] Shape(object value)
        {
            var list = (List<object>)value;
            var shape = new long[list.Count];
            for (int i = 0; i < list.Count; i++) shape[i] = ((JsonNumber)list[i]).ToInt64();
            return shape;
        }
    }

    internal static class Expect
    {
        /// <summary>
        /// Awaits <paramref name="call"/> and returns the exception it threw, failing unless it is
        /// exactly a <typeparamref name="T"/> (NUnit 2.6 has no Assert.ThrowsAsync).
        /// </summary>
        public static async Task<T> ThrowsAsync<T>(Func<Task> call) where T : Exception
        {
            try
            {
                await call();
            }
            catch (Exception e)
            {
                if (e.GetType() == typeof(T)) return (T)e;
                Assert.Fail("expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e);
            }
            Assert.Fail("expected " + typeof(T).Name + ", but the call succeeded");
            return null;
        }

        /// <summary>As <see cref="ThrowsAsync{T}"/>, accepting subclasses (TaskCanceledException for OperationCanceledException).</summary>
        public static async Task<T> ThrowsKindAsync<T>(Func<Task> call) where T : Exception
        {
            try
            {
                await call();
            }
            catch (T e)
            {
                return e;
            }
            catch (Exception e)
            {
                Assert.Fail("expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e);
            }
            Assert.Fail("expected " + typeof(T).Name + ", but the call succeeded");
            return null;
        }

        public static T Throws<T>(Action call) where T : Exception
        {
            try
            {
                call();
            }
            catch (Exception e)
            {
                if (e.GetType() == typeof(T)) return (T)e;
                Assert.Fail("expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e);
            }
            Assert.Fail("expected " + typeof(T).Name + ", but nothing was thrown");
            return null;
        }

        public static string Hex(byte[] bytes) => BitConverter.ToString(bytes);
    }
}
