using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KeyPool.Tests.Infrastructure;

/// <summary>
/// An upstream the emulator cannot play: a raw socket on a free loopback port that answers every connection with
/// the same bytes and hangs up (a JSON answer cut mid-body, bytes that are not HTTP…). Counts the POSTs it got.
/// </summary>
internal sealed class RawUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _server;
    private int _posts;

    public RawUpstream(byte[] answer)
    {
        _listener.Start();
        _server = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                using var socket = await _listener.AcceptSocketAsync(_stop.Token);
                var buffer = new byte[64 * 1024];
                var received = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (Encoding.ASCII.GetString(buffer, 0, received).StartsWith("POST ", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref _posts);
                }
                await socket.SendAsync(answer, SocketFlags.None, _stop.Token);
                socket.Shutdown(SocketShutdown.Both);
            }
        });
    }

    /// <summary>The upstream base URL to give the gateway (<c>KeyPool:Upstream:BaseUrl</c>).</summary>
    public string BaseUrl => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/v1";

    /// <summary>POST requests received so far (the chat attempts; GETs of the start-up checks are not counted).</summary>
    public int Posts => Volatile.Read(ref _posts);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await Task.WhenAny(_server, Task.Delay(TimeSpan.FromSeconds(5)));
        _stop.Dispose();
    }
}
