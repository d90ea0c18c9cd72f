using System.Net;
using System.Text;
using System.Text.Json;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Routing;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace KeyPool.Tests.Reliability;

/// <summary>
/// Each upstream fault a provider shows, on a real gateway in front of the emulator: what the client sees, and
/// that the books balance afterwards — usage recorded once per upstream attempt, no reservation left open, no
/// stream started twice.
/// </summary>
public sealed class UpstreamFaultMatrixTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, string?> ShortDeadline = new()
    {
        ["KeyPool:Upstream:Timeout"] = "00:00:02",
    };

    private static async Task<GatewayHarness> StartAsync(Dictionary<string, string?>? settings = null, FakeTimeProvider? time = null)
    {
        var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: settings, time: time);
        await gateway.PlaceUserAsync("ada", 1); // ada's requests try key 1 first
        return gateway;
    }

    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(GatewayHarness gateway, bool stream)
    {
        using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(stream: stream), "ada"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync()); // throws if the answer did not end cleanly
    }

    private void Report(string fault, HttpStatusCode status, string body, int[] attempts) =>
        output.WriteLine($"{fault}: client {(int)status}, [DONE] {body.Contains("data: [DONE]", StringComparison.Ordinal)}, error event {body.Contains("data: {\"error\"", StringComparison.Ordinal)}, starts {Settlement.StreamStarts(body)}, upstream attempts per key [{string.Join(", ", attempts)}], reservations open 0");

    [Fact]
    public async Task ResetBeforeFirstByte_IsRetriedOnAnotherKey_ClientNeverSeesIt()
    {
        await using var gateway = await StartAsync();
        gateway.Emulator.Faults.ResetNextBeforeFirstByte(1);

        var (status, body) = await SendAsync(gateway, stream: true);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("data: [DONE]", body, StringComparison.Ordinal);
        Assert.DoesNotContain("\"error\"", body, StringComparison.Ordinal);
        Assert.Equal(1, Settlement.StreamStarts(body));
        var attempts = await Settlement.AssertBalancedAsync(gateway);
        Assert.Equal(new[] { 1, 1 }, attempts);
        Assert.Equal("reset_before_first_byte", gateway.Emulator.Served.First(s => s.Key == gateway.Keys[0] && s.Path.EndsWith("/chat/completions", StringComparison.Ordinal)).Reason);
        Report("reset before first byte", status, body, attempts);
    }

    [Fact]
    public async Task ResetMidStream_EndsTheStreamWithAnErrorEvent_NotRetried()
    {
        await using var gateway = await StartAsync();
        gateway.Emulator.Faults.ResetMidStreamAfterChunks = 2;

        var (status, body) = await SendAsync(gateway, stream: true);

        AssertEndedWithErrorEvent(status, body);
        var attempts = await Settlement.AssertBalancedAsync(gateway);
        Assert.Equal(new[] { 1, 0 }, attempts); // the client saw the start: another key would replay it
        Report("reset mid-stream", status, body, attempts);
    }

    [Fact]
    public async Task StallBeforeFirstByte_TimesOutWithA504()
    {
        await using var gateway = await StartAsync(ShortDeadline);
        gateway.Emulator.Faults.FirstByteDelay = TimeSpan.FromMinutes(5);

        var (status, body) = await SendAsync(gateway, stream: true);

        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Equal("upstream_timeout", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
        var attempts = await Settlement.AssertBalancedAsync(gateway);
        Assert.Equal(new[] { 1, 0 }, attempts); // the deadline covers every attempt
        Report("stall before first byte", status, body, attempts);
    }

    [Fact]
    public async Task StallDuringStream_TimesOut_EndsTheStreamWithAnErrorEvent()
    {
        await using var gateway = await StartAsync(ShortDeadline);
        gateway.Emulator.Faults.ChunkDelay = TimeSpan.FromMinutes(5); // the role chunk goes out, then nothing

        var (status, body) = await SendAsync(gateway, stream: true);

        AssertEndedWithErrorEvent(status, body);
        var attempts = await Settlement.AssertBalancedAsync(gateway);
        Assert.Equal(new[] { 1, 0 }, attempts);
        Report("stall during stream", status, body, attempts);
    }

    [Fact]
    public async Task TruncatedStream_WithoutDone_EndsWithAnErrorEvent()
    {
        await using var gateway = await StartAsync();
        gateway.Emulator.Faults.TruncateStreamAfterChunks = 2; // the upstream's answer ends cleanly, but without [DONE]

        var (status, body) = await SendAsync(gateway, stream: true);

        AssertEndedWithErrorEvent(status, body);
        var attempts = await Settlement.AssertBalancedAsync(gateway);
        Assert.Equal(new[] { 1, 0 }, attempts);
        Report("truncated SSE (no [DONE])", status, body, attempts);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task GarbageInsteadOfSseOrJson_IsRetriedOnAnotherKey(bool stream)
    {
        await using var gateway = await StartAsync();
        gateway.Emulator.Faults.GarbleNext(1);

        var (status, body) = await SendAsync(gateway, stream);

        Assert.Equal(HttpStatusCode.OK, status);
        if (stream)
        {
            Assert.Contains("data: [DONE]", body, StringComparison.Ordinal);
            Assert.Equal(1, Settlement.StreamStarts(body));
        }
        else
        {
            Assert.Equal("chat.completion", JsonDocument.Parse(body).RootElement.GetProperty("object").GetString());
        }
        var attempts = await Settlement.AssertBalancedAsync(gateway);
        Assert.Equal(new[] { 1, 1 }, attempts);
        Report($"garbage instead of {(stream ? "SSE" : "JSON")}", status, body, attempts);
    }

    [Fact]
    public async Task ServerErrorBurst_OpensTheBreaker_ClientsServedByAnotherKey_ThenTheKeyRecovers()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await StartAsync(new Dictionary<string, string?>
        {
            ["KeyPool:Health:BreakerFailures"] = "3",
            ["KeyPool:Health:BreakerOpenFor"] = "00:00:30",
            ["KeyPool:Routing:MaxQueueWait"] = "00:00:00", // the fake clock does not move by itself
        }, time);
        var key1 = gateway.App.Services.GetRequiredService<KeyPoolRouter>().Pool.Find(1)!;
        gateway.Emulator.Faults.FailNextForKey(gateway.Keys[0], 3, 503);

        var burst = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            burst.Add((await SendAsync(gateway, stream: i % 2 == 0)).Status);
        }

        Assert.All(burst, s => Assert.Equal(HttpStatusCode.OK, s)); // each 503 was retried on key 2
        Assert.Equal(KeyState.CircuitOpen, key1.Health.State); // open after 3 failures: the 4th went to key 2 directly
        Assert.Equal(new[] { 3, 4 }, await Settlement.AssertBalancedAsync(gateway));

        time.Advance(TimeSpan.FromSeconds(31)); // the half-open probe is let through, and succeeds
        var (status, body) = await SendAsync(gateway, stream: true);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(KeyState.Active, key1.Health.State);
        var attempts = await Settlement.AssertBalancedAsync(gateway);
        Assert.Equal(new[] { 4, 4 }, attempts);
        Report("5xx burst (3 × 503), breaker open then closed", status, body, attempts);
    }

    [Fact]
    public async Task KeyRevokedMidStream_TheStreamFinishes_TheNextRequestMovesToAnotherKey()
    {
        await using var gateway = await StartAsync();
        gateway.Emulator.Faults.ChunkDelay = TimeSpan.FromMilliseconds(50);
        var key1 = gateway.App.Services.GetRequiredService<KeyPoolRouter>().Pool.Find(1)!;

        using var streaming = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(stream: true), "ada"), HttpCompletionOption.ResponseHeadersRead);
        gateway.Emulator.Faults.Revoke(gateway.Keys[0]); // while the stream is being served
        var streamed = await streaming.Content.ReadAsStringAsync();
        gateway.Emulator.Faults.ChunkDelay = TimeSpan.Zero;
        var (status, body) = await SendAsync(gateway, stream: true);

        Assert.Equal(HttpStatusCode.OK, streaming.StatusCode);
        Assert.Contains("data: [DONE]", streamed, StringComparison.Ordinal); // admitted before: the upstream finishes it
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("data: [DONE]", body, StringComparison.Ordinal);
        Assert.Equal(1, Settlement.StreamStarts(body));
        Assert.Equal(KeyState.Revoked, key1.Health.State);
        var attempts = await Settlement.AssertBalancedAsync(gateway);
        Assert.Equal(new[] { 2, 1 }, attempts); // the stream, then the refused try; the retry on key 2
        Report("key revoked mid-stream", status, body, attempts);
    }

    [Fact]
    public async Task GarbageInsteadOfHttp_EveryKeyTried_ThenA502_NothingLeftOpen()
    {
        await using var upstream = new RawUpstream("\u0016\u0003\u0001garbage, not HTTP\r\n\r\n"u8.ToArray());
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Upstream:BaseUrl"] = upstream.BaseUrl,
            ["KeyPool:Keys:CheckOnStart"] = "false",
        });

        var (status, body) = await SendAsync(gateway, stream: true);

        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Equal("upstream_unreachable", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(2, upstream.Posts);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Settlement.Recorded(gateway, 1) + Settlement.Recorded(gateway, 2) < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Equal((0L, 0L), Settlement.Reserved(gateway));
        Assert.Equal(1, Settlement.Recorded(gateway, 1));
        Assert.Equal(1, Settlement.Recorded(gateway, 2));
        Report("garbage instead of HTTP (raw socket)", status, body, [1, 1]);
    }

    private static void AssertEndedWithErrorEvent(HttpStatusCode status, string body)
    {
        Assert.Equal(HttpStatusCode.OK, status); // the stream had begun: its status was already sent
        Assert.Equal(1, Settlement.StreamStarts(body));
        Assert.DoesNotContain("data: [DONE]", body, StringComparison.Ordinal);
        var last = body.TrimEnd().Split("\n\n").Last();
        Assert.StartsWith("data: {\"error\"", last, StringComparison.Ordinal);
        Assert.Equal("upstream_stream_failed", JsonDocument.Parse(last["data: ".Length..]).RootElement.GetProperty("error").GetProperty("code").GetString());
    }
}
