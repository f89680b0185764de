using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace InferenceHub.Client.Tests
{
    /// <summary>One request as it arrived on the socket.</summary>
    internal sealed class RawRequest
    {
        public string Method;
        public string Path;
        public Dictionary<string, string> Headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        public byte[] Body;
    }

    /// <summary>
    /// A real HTTP/1.1 server on a loopback socket, small enough to see every byte the client
    /// sends and to misbehave on purpose (close without answering, never answer). Not a mock of
    /// the SDK: the client goes through its real HttpClient stack to a real socket.
    /// </summary>
    internal sealed class RawHttpServer : IDisposable
    {
        private readonly TcpListener listener;
        private readonly Func<RawRequest, string> respond;
        private readonly CancellationTokenSource stop = new CancellationTokenSource();
        private int connections;

        /// <summary>
        /// <paramref name="respond"/> gives the whole response text for a request, or null to close
        /// the connection without answering, or "hang" to hold it open unanswered.
        /// </summary>
        public RawHttpServer(Func<RawRequest, string> respond, int port = 0)
        {
            this.respond = respond;
            listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            Task.Run(AcceptLoopAsync);
        }

        public Uri Url => new Uri("http://127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port + "/");

        public int Connections => Volatile.Read(ref connections);

        public List<RawRequest> Requests { get; } = new List<RawRequest>();

        public static string Answer(int status, string json, params string[] headers) =>
            "HTTP/1.1 " + status + " X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
            Encoding.UTF8.GetByteCount(json) + "\r\n" + string.Join("", Array.ConvertAll(headers, h => h + "\r\n")) + "\r\n" + json;

        /// <summary>A port nothing listens on (bound, then released).</summary>
        public static Uri ClosedPortUrl()
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return new Uri("http://127.0.0.1:" + port + "/");
        }

        public void Dispose()
        {
            stop.Cancel();
            listener.Stop();
        }

        private async Task AcceptLoopAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await listener.AcceptTcpClientAsync();
                }
                catch (Exception)
                {
                    return;
                }
                Interlocked.Increment(ref connections);
                // Each connection served on its own; AcceptLoopAsync does not wait for it.
#pragma warning disable 4014
                Task.Run(() => ServeAsync(client));
#pragma warning restore 4014
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            using (client)
            {
                try
                {
                    var stream = client.GetStream();
                    var request = await ReadRequestAsync(stream);
                    lock (Requests) Requests.Add(request);
                    string response = respond(request);
                    if (response == "hang")
                    {
                        await Task.Delay(Timeout.Infinite, stop.Token);
                        return;
                    }
                    if (response == null) return;
                    var bytes = Encoding.UTF8.GetBytes(response);
                    await stream.WriteAsync(bytes, 0, bytes.Length);
                }
                catch (Exception)
                {
                    // The client went away (a cancelled call) or the server stopped: nothing to answer.
                }
            }
        }

        private static async Task<RawRequest> ReadRequestAsync(Stream stream)
        {
            var head = new MemoryStream();
            var one = new byte[1];
            while (!EndsWithBlankLine(head))
            {
                if (await stream.ReadAsync(one, 0, 1) == 0) throw new EndOfStreamException();
                head.WriteByte(one[0]);
            }
            var lines = Encoding.UTF8.GetString(head.ToArray()).Split(new[] { "\r\n" }, StringSplitOptions.RemoveEmptyEntries);
            var first = lines[0].Split(' ');
            var request = new RawRequest { Method = first[0], Path = first[1] };
            for (int i = 1; i < lines.Length; i++)
            {
                int colon = lines[i].IndexOf(':');
                request.Headers[lines[i].Substring(0, colon).Trim()] = lines[i].Substring(colon + 1).Trim();
            }
            string length;
            int n = request.Headers.TryGetValue("Content-Length", out length) ? int.Parse(length) : 0;
            request.Body = new byte[n];
            for (int read = 0; read < n;)
            {
                int got = await stream.ReadAsync(request.Body, read, n - read);
                if (got == 0) throw new EndOfStreamException();
                read += got;
            }
            return request;
        }

        private static bool EndsWithBlankLine(MemoryStream head)
        {
            if (head.Length < 4) return false;
            var b = head.GetBuffer();
            long n = head.Length;
            return b[n - 4] == '\r' && b[n - 3] == '\n' && b[n - 2] == '\r' && b[n - 1] == '\n';
        }
    }
}
