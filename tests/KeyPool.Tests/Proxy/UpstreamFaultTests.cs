using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Proxy;

/// <summary>Upstream faults a real provider shows and the emulator cannot: a raw socket plays the upstream.</summary>
public sealed class UpstreamFaultTests
{
    [Fact]
    public async Task JsonAnswerCutMidBody_IsRetriedOnAnotherKey_ThenAClearError()
    {
        using var upstream = new TcpListener(IPAddress.Loopback, 0);
        upstream.Start();
        var chatAttempts = 0;
        using var stop = new CancellationTokenSource();
        var server = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var socket = await upstream.AcceptSocketAsync(stop.Token);
                var buffer = new byte[64 * 1024];
                var received = await socket.ReceiveAsync(buffer, SocketFlags.None, stop.Token);
                if (Encoding.ASCII.GetString(buffer, 0, received).StartsWith("POST ", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref chatAttempts);
                }
                // Promise 1,000 bytes of JSON, send 20, and hang up.
                await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":\"chatcmpl-1\",\""), SocketFlags.None, stop.Token);
                socket.Shutdown(SocketShutdown.Both);
            }
        });
        try
        {
            await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>
            {
                ["KeyPool:Upstream:BaseUrl"] = $"http://127.0.0.1:{((IPEndPoint)upstream.LocalEndpoint).Port}/v1",
                ["KeyPool:Keys:CheckOnStart"] = "false",
            });

            using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "ivy"));
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.Equal("upstream_failed", body.RootElement.GetProperty("error").GetProperty("code").GetString());
            Assert.Equal(2, Volatile.Read(ref chatAttempts)); // the second key was tried: nothing had reached the client
        }
        finally
        {
            await stop.CancelAsync();
            upstream.Stop();
            await Task.WhenAny(server, Task.Delay(TimeSpan.FromSeconds(5)));
        }
    }
}
