using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using KeyPool.Proxy;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KeyPool.Tests.Proxy;

/// <summary>What one caller with a valid credential must not do to the request path: smuggle fields past it, or hold others' slots.</summary>
public sealed class RequestPathHostileTests
{
    [Theory]
    [InlineData(false, "\"model\":\"grok-4\"")]
    [InlineData(false, "\"Model\":\"grok-4\"")]
    [InlineData(false, "\"mod\\u0065l\":\"grok-4\"")]
    [InlineData(false, "\"user\":\"mallory\",\"USER\":\"victim\"")]
    [InlineData(false, "\"max_tokens\":10,\"max_tokens\":100000")]
    [InlineData(true, "\"stream_options\":{\"include_usage\":false},\"stream_options\":null")]
    [InlineData(true, "\"stream_options\":{\"include_usage\":false,\"Include_Usage\":true}")]
    [InlineData(true, "\"stream_options\":{},\"temperature\":1,\"temperature\":2")]
    public async Task DuplicateMembers_Are400_BeforeAnythingIsForwarded(bool stream, string extra)
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1);

        var (status, code) = await HostileCallerTests.SendAsync(gateway, gateway.ChatRequest(GatewayHarness.ChatBody(stream: stream, extra: extra), "dup-user"));

        Assert.Equal((HttpStatusCode.BadRequest, ChatRequest.DuplicateMember), (status, code));
        Assert.Empty(gateway.ChatServed);
    }

    [Fact]
    public async Task OneCallersSlowBodies_HoldOnlyItsShare_OthersAreServed()
    {
        // A cap of 8 requests at once: one caller gets at most 4 (the floor of a sixteenth), the rest answered 429 at once.
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Limits:MaxConcurrentRequests"] = "8",
            ["KeyPool:Limits:MinRequestBodyBytesPerSecond"] = "1",
            ["KeyPool:Limits:MinRequestBodyGracePeriod"] = "00:02:00",
        });
        var slow = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 8; i++)
            {
                slow.Add(await SlowBodyAsync(gateway.BaseAddress, "slow-sender"));
            }
            var refused = 0;
            foreach (var client in slow)
            {
                if (await StatusLineAsync(client, TimeSpan.FromSeconds(2)) is { } line)
                {
                    Assert.StartsWith("HTTP/1.1 429", line, StringComparison.Ordinal);
                    refused++;
                }
            }
            Assert.Equal(4, refused);
            Assert.Equal(4, gateway.App.Services.GetRequiredService<ProxyGate>().InFlight);

            var other = await HostileCallerTests.SendAsync(gateway, gateway.ChatRequest(GatewayHarness.ChatBody(), "patient-user"));

            Assert.Equal((HttpStatusCode.OK, (string?)null), other);
        }
        finally
        {
            slow.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task StreamCutByTheClient_IsChargedWhatTheUpstreamBilled()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1);
        gateway.Emulator.Faults.ChunkDelay = TimeSpan.FromMilliseconds(100);

        using (var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody("Tell me a long story", stream: true), "cutter"), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var events = 0;
            while (events < 2 && await reader.ReadLineAsync() is { } line)
            {
                events += line.StartsWith("data: {", StringComparison.Ordinal) ? 1 : 0;
            }
            Assert.Equal(2, events);
        } // hangs up after two events

        var billed = 0L;
        var recorded = -1L;
        for (var waited = 0; waited < 300 && (billed == 0 || recorded != billed); waited++)
        {
            await Task.Delay(100);
            billed = gateway.ChatServed.Where(s => s.Usage is not null).Sum(s => (long)s.Usage!.TotalTokens);
            using var user = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Get, "/api/admin/users/cutter"));
            recorded = (await user.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("usage").GetProperty("today").GetProperty("totalTokens").GetInt64();
        }
        Assert.True(billed > 0, "the upstream billed nothing");
        Assert.Equal(billed, recorded);
    }

    [Fact]
    public async Task TooLargeBody_Is413_InOpenAIsShape_AndClosesTheConnection()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1);
        using var client = await SlowBodyAsync(gateway.BaseAddress, "big-sender", declared: 11 * 1024 * 1024, send: 1024);

        var answer = new StringBuilder();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            int read;
            while ((read = await client.GetStream().ReadAsync(buffer, timeout.Token)) > 0)
            {
                answer.Append(Encoding.ASCII.GetString(buffer, 0, read)); // ends when the gateway closes the connection
            }
        }
        catch (IOException)
        {
            // closed with a reset: what arrived before it is the answer
        }

        var text = answer.ToString();
        Assert.StartsWith("HTTP/1.1 413", text, StringComparison.Ordinal);
        Assert.Contains("Connection: close", text, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\"code\":\"request_too_large\"", text, StringComparison.Ordinal);
    }

    /// <summary>A connection that sent a request's head and ten bytes of a body that declares 1,000 (and sends no more).</summary>
    internal static async Task<TcpClient> SlowBodyAsync(Uri baseAddress, string user, long declared = 1000, int send = 10)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, baseAddress.Port);
        var head = $"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {GatewayHarness.ClientToken}\r\n"
            + $"X-KeyPool-User: {user}\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n";
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(Encoding.ASCII.GetBytes(new string(' ', send)));
        return client;
    }

    /// <summary>The answer's status line, or null when none came within <paramref name="wait"/>.</summary>
    internal static async Task<string?> StatusLineAsync(TcpClient client, TimeSpan wait)
    {
        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            var read = await client.GetStream().ReadAsync(buffer, timeout.Token);
            return read == 0 ? "" : Encoding.ASCII.GetString(buffer, 0, read).Split("\r\n")[0];
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
