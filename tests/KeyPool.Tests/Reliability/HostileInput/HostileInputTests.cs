using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Reliability.HostileInput;

/// <summary>One gateway for the whole table: each case is answered on its own, so they may share it.</summary>
public sealed class HostileInputGateway : IAsyncLifetime
{
    public GatewayHarness Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var settings = HostileInputCase.Settings();
        // Short limits so the slow-sender cases end quickly; the defaults are 10 s and 240 B/s after 5 s.
        settings["KeyPool:Limits:RequestHeadersTimeout"] = "00:00:01";
        settings["KeyPool:Limits:MinRequestBodyGracePeriod"] = "00:00:02";
        Gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: settings);
    }

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}

/// <summary>
/// Hostile input (docs/reliability.md): each case gets a clear 4xx — in OpenAI's shape whenever the gateway's code
/// answers — and never reaches the upstream.
/// </summary>
public sealed class HostileInputTests(HostileInputGateway fixture) : IClassFixture<HostileInputGateway>
{
    private GatewayHarness Gateway => fixture.Gateway;

    [Theory]
    [MemberData(nameof(HostileInputCase.Names), MemberType = typeof(HostileInputCase))]
    public async Task HostileInput_IsA4xx_AndNeverReachesTheUpstream(string name)
    {
        var hostile = HostileInputCase.Named(name);
        var servedBefore = Gateway.ChatServed.Count;

        var (status, code) = await SendAsync(Gateway, hostile);

        Assert.Equal((hostile.Status, hostile.Code), (status, code));
        Assert.Equal(servedBefore, Gateway.ChatServed.Count);
        // The gateway still serves a well-behaved caller afterwards.
        Assert.Equal(200, (await Gateway.ChatAsync("well-behaved")).Status);
    }

    [Fact]
    public async Task SlowlorisHeaders_AreCutByKestrel_AndNeverReachTheUpstream()
    {
        var servedBefore = Gateway.ChatServed.Count;
        using var socket = await ConnectAsync(Gateway);
        await socket.SendAsync(Encoding.ASCII.GetBytes("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"));

        // One header line at a time, never the blank line: Kestrel's RequestHeadersTimeout ends it.
        var closed = false;
        for (var i = 0; i < 100 && !closed; i++)
        {
            closed = !await TrySendAsync(socket, $"X-Slow-{i}: {i}\r\n") || await ClosedWithinAsync(socket, TimeSpan.FromMilliseconds(200));
        }

        Assert.True(closed, "the slow header sender was never cut off");
        Assert.Equal(servedBefore, Gateway.ChatServed.Count);
    }

    [Fact]
    public async Task SlowlorisBody_IsCutAt408_AndNeverReachesTheUpstream()
    {
        var servedBefore = Gateway.ChatServed.Count;
        using var socket = await ConnectAsync(Gateway);
        var head = $"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {GatewayHarness.ClientToken}\r\n"
            + "X-KeyPool-User: slow-body\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
        await socket.SendAsync(Encoding.ASCII.GetBytes(head));

        // A byte now and then: far below the minimum data rate once its grace period is over.
        var answer = new StringBuilder();
        for (var i = 0; i < 100 && answer.Length == 0; i++)
        {
            if (!await TrySendAsync(socket, " "))
            {
                break;
            }
            answer.Append(await ReadAvailableAsync(socket, TimeSpan.FromMilliseconds(200)));
        }
        answer.Append(await ReadAvailableAsync(socket, TimeSpan.FromSeconds(2)));

        var text = answer.ToString();
        Assert.StartsWith("HTTP/1.1 408", text, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"request_timeout\"", text, StringComparison.Ordinal);
        Assert.Equal(servedBefore, Gateway.ChatServed.Count);
    }

    internal static async Task<(int Status, string? Code)> SendAsync(GatewayHarness gateway, HostileInputCase hostile, HttpClient? client = null)
    {
        if (hostile.Raw is { } raw)
        {
            return await SendRawAsync(gateway, raw(gateway));
        }
        using var request = hostile.Request!(gateway);
        using var response = await (client ?? gateway.Http).SendAsync(request);
        return ((int)response.StatusCode, CodeOf(await response.Content.ReadAsStringAsync()));
    }

    private static async Task<(int Status, string? Code)> SendRawAsync(GatewayHarness gateway, byte[] request)
    {
        using var socket = await ConnectAsync(gateway);
        try
        {
            await socket.SendAsync(request);
        }
        catch (SocketException)
        {
            // Kestrel may answer and close before the whole request was sent; the answer is still there to read.
        }
        var text = await ReadAvailableAsync(socket, TimeSpan.FromSeconds(10));
        var status = int.Parse(text.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
        var bodyStart = text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
        var body = text[bodyStart..];
        var brace = body.IndexOf('{', StringComparison.Ordinal);
        var close = body.LastIndexOf('}');
        return (status, brace >= 0 && close > brace ? CodeOf(body[brace..(close + 1)]) : null);
    }

    private static string? CodeOf(string body)
    {
        if (!body.StartsWith('{'))
        {
            return null;
        }
        using var document = JsonDocument.Parse(body);
        return document.RootElement.TryGetProperty("error", out var error) && error.TryGetProperty("code", out var code) ? code.GetString() : null;
    }

    private static async Task<Socket> ConnectAsync(GatewayHarness gateway)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(System.Net.IPAddress.Loopback, gateway.BaseAddress.Port);
        return socket;
    }

    private static async Task<bool> TrySendAsync(Socket socket, string text)
    {
        try
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes(text));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task<bool> ClosedWithinAsync(Socket socket, TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (read == 0)
                {
                    return true;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    /// <summary>What arrives until the peer closes or nothing more comes within <paramref name="wait"/>.</summary>
    private static async Task<string> ReadAvailableAsync(Socket socket, TimeSpan wait)
    {
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (read == 0)
                {
                    break;
                }
                received.Write(buffer, 0, read);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException)
        {
        }
        return Encoding.Latin1.GetString(received.ToArray());
    }
}
