// The C# half of bench/sdk-clients.ts: InferenceHubClient (REST, binary tensors) against a
// hand-built HttpClient request of the same bytes (C# has no stock KServe client), both through
// the gateway, in alternating rounds of one run. Reads the stack from the environment
// (test/lib/sdk-stack.ts) and BENCH_CALLS, BENCH_ROUNDS, BENCH_ROWS; prints the figures as JSON on
// stdout (progress on stderr), one entry per client and size.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Tasks;
using InferenceHub.Client;

static class CsharpBench
{
    const int Width = 4;
    static readonly int Calls = Env("BENCH_CALLS", 300);
    static readonly int Rounds = Env("BENCH_ROUNDS", 4);
    static readonly int BigRows = Env("BENCH_ROWS", 1024);

    sealed class Figures
    {
        public string Size, Client;
        public bool Baseline;
        public readonly List<double> LatenciesMs = new List<double>();
        public double WallMs;
    }

    static int Env(string name, int fallback)
    {
        var v = Environment.GetEnvironmentVariable(name);
        return string.IsNullOrEmpty(v) ? fallback : int.Parse(v, CultureInfo.InvariantCulture);
    }

    static void Main() => Run().GetAwaiter().GetResult();

    static async Task Run()
    {
        var baseUri = new Uri(Environment.GetEnvironmentVariable("INFERENCEHUB_URL"));
        var apiKey = Environment.GetEnvironmentVariable("INFERENCEHUB_API_KEY");
        var handler = new HttpClientHandler();
        var http = new HttpClient(handler) { BaseAddress = baseUri };
        var all = new List<Figures>();
        using (var sdk = new InferenceHubClient(baseUri, apiKey))
        {
            foreach (var rows in new[] { 1, BigRows })
            {
                var size = rows == 1 ? "1 row" : rows + " rows";
                var data = Enumerable.Range(0, rows * Width).Select(i => (i % 64) / 8f).ToArray();
                var inputs = new Dictionary<string, Tensor> { ["input"] = Tensor.FromFp32(data, rows, Width) };
                var raw = new byte[data.Length * 4];
                Buffer.BlockCopy(data, 0, raw, 0, raw.Length);
                var head = Encoding.UTF8.GetBytes(
                    "{\"inputs\":[{\"name\":\"input\",\"shape\":[" + rows + "," + Width +
                    "],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":" + raw.Length +
                    "}}],\"outputs\":[{\"name\":\"output\",\"parameters\":{\"binary_data\":true}}]}");
                var body = head.Concat(raw).ToArray();

                Func<Task> stock = async () =>
                {
                    var req = new HttpRequestMessage(HttpMethod.Post, "v2/models/scale/versions/1/infer")
                    {
                        Content = new ByteArrayContent(body),
                    };
                    req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
                    req.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                    req.Content.Headers.Add("Inference-Header-Content-Length", head.Length.ToString(CultureInfo.InvariantCulture));
                    using (var res = await http.SendAsync(req).ConfigureAwait(false))
                    {
                        var bytes = await res.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                        if (!res.IsSuccessStatusCode || bytes.Length < raw.Length) throw new Exception("wrong answer: " + res.StatusCode);
                    }
                };
                Func<Task> sdkCall = async () =>
                {
                    var result = await sdk.InferAsync("scale", inputs, "1").ConfigureAwait(false);
                    if (result["output"].AsFp32().Length != data.Length) throw new Exception("wrong output");
                };
                all.AddRange(await Measure(size, new[]
                {
                    Tuple.Create("HttpClient (hand-built binary request)", true, stock),
                    Tuple.Create("InferenceHubClient", false, sdkCall),
                }).ConfigureAwait(false));
            }
        }
        http.Dispose();
        Console.WriteLine(ToJson(all));
    }

    static async Task<List<Figures>> Measure(string size, Tuple<string, bool, Func<Task>>[] clients)
    {
        var figures = clients.Select(c => new Figures { Size = size, Client = c.Item1, Baseline = c.Item2 }).ToList();
        foreach (var c in clients) for (var i = 0; i < 20; i++) await c.Item3().ConfigureAwait(false);
        for (var r = 0; r < Rounds; r++)
        {
            Console.Error.WriteLine("[C# bench] " + size + ": round " + (r + 1) + "/" + Rounds);
            var order = Enumerable.Range(0, clients.Length).ToList();
            if (r % 2 == 1) order.Reverse();
            foreach (var i in order)
            {
                var wall = Stopwatch.StartNew();
                for (var n = 0; n < Calls; n++)
                {
                    var t = Stopwatch.StartNew();
                    await clients[i].Item3().ConfigureAwait(false);
                    figures[i].LatenciesMs.Add(t.Elapsed.TotalMilliseconds);
                }
                figures[i].WallMs += wall.Elapsed.TotalMilliseconds;
            }
        }
        return figures;
    }

    static string ToJson(List<Figures> all)
    {
        var sb = new StringBuilder("[");
        for (var i = 0; i < all.Count; i++)
        {
            var f = all[i];
            if (i > 0) sb.Append(',');
            sb.Append("{\"size\":\"").Append(f.Size).Append("\",\"client\":\"").Append(f.Client)
              .Append("\",\"baseline\":").Append(f.Baseline ? "true" : "false")
              .Append(",\"wallMs\":").Append(f.WallMs.ToString("R", CultureInfo.InvariantCulture))
              .Append(",\"latenciesMs\":[")
              .Append(string.Join(",", f.LatenciesMs.Select(x => x.ToString("R", CultureInfo.InvariantCulture))))
              .Append("]}");
        }
        return sb.Append(']').ToString();
    }
}
