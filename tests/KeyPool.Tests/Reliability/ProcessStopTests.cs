using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Xunit.Abstractions;

namespace KeyPool.Tests.Reliability;

/// <summary>
/// A real <c>keypool serve</c> stopped by SIGTERM with streams in flight: each stream finishes, requests arriving
/// during the drain are refused, and the usage written equals what the upstream served. Signals go to a child
/// process, so these tests need not run alone.
/// </summary>
public sealed class ProcessStopTests(ITestOutputHelper output)
{
    private const int Streams = 50;
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Sigterm_With50StreamsInFlight_AllEndWithDone_NewRequestsRefused_UsageEqualsUpstream()
    {
        await using var bed = await ProcessTestBed.StartAsync(keyCount: 3, new Dictionary<string, string>
        {
            ["KeyPool__Shutdown__DrainTimeout"] = "00:00:30",
        });
        var gateway = await bed.StartGatewayAsync();
        // One connection per stream, and one warm keep-alive connection to knock on during the drain.
        using var streams = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Streams }) { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        using var warm = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) }) { BaseAddress = gateway.BaseAddress };
        using (var first = await warm.SendAsync(ProcessTestBed.Chat("warm-user", stream: false)))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }
        bed.Emulator.Faults.ChunkDelay = TimeSpan.FromMilliseconds(400); // ≈ 3.6 s a stream

        var responses = await Task.WhenAll(Enumerable.Range(0, Streams).Select(i =>
            streams.SendAsync(ProcessTestBed.Chat($"stream-user-{i}", stream: true), HttpCompletionOption.ResponseHeadersRead)));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var bodies = responses.Select(r => r.Content.ReadAsStringAsync()).ToArray();
        var inFlight = bodies.Count(b => !b.IsCompleted);
        var clock = Stopwatch.StartNew();
        await gateway.SignalAsync("TERM");
        // kill returns once the signal is sent; the drain begins when the host has taken it.
        while (!gateway.Output.Contains("Application is shutting down", StringComparison.Ordinal))
        {
            Assert.True(clock.Elapsed < Drain, "the host did not begin its drain: " + gateway.Output);
            await Task.Delay(10);
        }

        // Knock during the drain: on the warm connection, and on a new one, until the process is gone.
        var knocks = new List<string>();
        while (!gateway.HasExited && clock.Elapsed < Drain && knocks.Count < 20)
        {
            knocks.Add(await KnockAsync(warm, ProcessTestBed.Chat("late-user", stream: false)));
            using var fresh = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
            knocks.Add(await KnockAsync(fresh, ProcessTestBed.Chat("late-user", stream: false)));
            if (bodies.All(b => b.IsCompleted))
            {
                break;
            }
            await Task.Delay(200);
        }
        var texts = await Task.WhenAll(bodies);
        var drained = clock.Elapsed;
        Assert.True(await gateway.WaitForExitAsync(Drain + TimeSpan.FromSeconds(15)), "the process did not exit after its drain: " + gateway.Output);
        var exited = clock.Elapsed;

        var done = texts.Count(t => t.Contains("data: [DONE]", StringComparison.Ordinal));
        output.WriteLine($"SIGTERM: {Streams} streams open, {inFlight} still streaming at the signal, {done} ended with [DONE] after {drained.TotalSeconds:F1} s; process exited {exited.TotalSeconds:F1} s after the signal with code {gateway.ExitCode}");
        output.WriteLine("knocks during the drain: " + string.Join(", ", knocks.GroupBy(k => k).Select(g => $"{g.Key} ×{g.Count()}")));
        Assert.Equal(0, gateway.ExitCode);
        Assert.Equal(Streams, done);
        Assert.All(texts, t => Assert.Equal(1, Settlement.StreamStarts(t)));
        // Nothing new is served during the drain. Kestrel unbinds and closes idle keep-alive connections as the stop
        // begins, so a knock is refused at the socket; only one that slips in before that meets the gate's 503.
        Assert.NotEmpty(knocks);
        Assert.All(knocks, k => Assert.True(k is "503 shutting_down" or "refused" or "closed", k));

        // Everything the upstream served was written before the process ended: exact, after a restart on the same file.
        await bed.StartGatewayAsync();
        var upstream = bed.UpstreamChatAttempts;
        var recorded = await bed.RecordedRequestsAsync();
        output.WriteLine($"usage: upstream counted {upstream} chat requests, recorded after restart {recorded}");
        Assert.Equal(Streams + 1, upstream);
        Assert.Equal(upstream, recorded);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    /// <summary>One request during the drain: "503 code", another status, "refused" (no connection) or "closed" (dropped).</summary>
    private static async Task<string> KnockAsync(HttpClient client, HttpRequestMessage request)
    {
        try
        {
            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                return "503 " + JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString();
            }
            return ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (HttpRequestException exception) when (exception.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            return "refused";
        }
        catch (HttpRequestException)
        {
            return "closed";
        }
        finally
        {
            request.Dispose();
        }
    }
}
