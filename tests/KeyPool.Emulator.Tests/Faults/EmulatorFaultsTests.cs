using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.Faults;

public sealed class EmulatorFaultsTests
{
    [Fact]
    public async Task FailNext_FailsTheNextRequestsOfAnyKeyThenRecovers()
    {
        await using var h = await EmulatorHarness.StartAsync();
        h.Emulator.Faults.FailNext(2, 503);

        using var first = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody());
        using var second = await h.PostChatAsync(EmulatorHarness.KeyB, EmulatorHarness.ChatBody());
        using var third = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody());

        Assert.Equal([503, 503, 200], new[] { first, second, third }.Select(r => (int)r.StatusCode));
        Assert.Equal("The service is currently unavailable", (await EmulatorHarness.JsonAsync(first)).GetProperty("code").GetString());
        Assert.Equal("480", EmulatorHarness.Header(first, "x-ratelimit-remaining-requests")); // failures are not charged
        Assert.Equal("479", EmulatorHarness.Header(third, "x-ratelimit-remaining-requests"));
        Assert.Equal(["injected_5xx", "injected_5xx", null], h.Emulator.Served.Select(s => s.Reason));
        Assert.Equal(1, h.Emulator.CountServedBy(EmulatorHarness.KeyA));
    }

    [Fact]
    public async Task FailNext_CallsQueueUp()
    {
        await using var h = await EmulatorHarness.StartAsync();
        h.Emulator.Faults.FailNext(1, 500);
        h.Emulator.Faults.FailNext(1, 429);

        var statuses = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            using var r = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody());
            statuses.Add((int)r.StatusCode);
        }

        Assert.Equal([500, 429, 200], statuses);
    }

    [Fact]
    public async Task FailNextForKey_OnlyThatKeyFails()
    {
        await using var h = await EmulatorHarness.StartAsync();
        h.Emulator.Faults.FailNextForKey(EmulatorHarness.KeyB, 1, 502);

        using var a = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody());
        using var b = await h.PostChatAsync(EmulatorHarness.KeyB, EmulatorHarness.ChatBody());
        using var bAgain = await h.PostChatAsync(EmulatorHarness.KeyB, EmulatorHarness.ChatBody());

        Assert.Equal([200, 502, 200], new[] { a, b, bAgain }.Select(r => (int)r.StatusCode));
    }

    [Fact]
    public async Task ServerErrorRate_IsSeededAndRepeatable()
    {
        await using var h = await EmulatorHarness.StartAsync();
        h.Emulator.Faults.ServerErrorStatus = 502;
        h.Emulator.Faults.ServerErrorRate = 0.5;

        var firstRun = await StatusesAsync(h, 20);
        h.Emulator.Faults.Seed = 1;
        var secondRun = await StatusesAsync(h, 20);
        h.Emulator.Faults.ServerErrorRate = 1;
        var always = await StatusesAsync(h, 3);
        h.Emulator.Faults.ServerErrorRate = 0;
        var never = await StatusesAsync(h, 3);

        Assert.Equal(firstRun, secondRun);
        Assert.Contains(502, firstRun);
        Assert.Contains(200, firstRun);
        Assert.All(always, s => Assert.Equal(502, s));
        Assert.All(never, s => Assert.Equal(200, s));
    }

    [Fact]
    public async Task Latency_WaitsOnTheInjectedClock()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.Latency = TimeSpan.FromSeconds(5));

        var pending = h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody());
        var advanced = TimeSpan.Zero;
        while (!pending.IsCompleted && advanced < TimeSpan.FromMinutes(1))
        {
            h.Time.Advance(TimeSpan.FromSeconds(1));
            advanced += TimeSpan.FromSeconds(1);
            // Real time only lets the server reach its timer; the fake clock decides when it fires.
            await Task.WhenAny(pending, Task.Delay(20));
        }
        using var response = await pending;

        Assert.Equal(200, (int)response.StatusCode);
        Assert.True(advanced >= TimeSpan.FromSeconds(5), $"answered after {advanced} of fake time");
    }

    [Fact]
    public async Task Dispose_EndsStreamsStillDelayed()
    {
        var h = await EmulatorHarness.StartAsync();
        h.Emulator.Faults.ChunkDelay = TimeSpan.FromHours(1);
        using var response = await h.PostAsync(
            "chat/completions", EmulatorHarness.KeyA, EmulatorHarness.ChatBody(stream: true).ToJsonString(),
            completion: HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await reader.ReadLineAsync()); // the role chunk; the handler now waits

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        await h.DisposeAsync();
        stopwatch.Stop();

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"dispose took {stopwatch.Elapsed}");
        try
        {
            var rest = await reader.ReadToEndAsync();
            Assert.DoesNotContain("[DONE]", rest);
        }
        catch (IOException)
        {
            // Either way the stream ends without [DONE].
        }
        reader.Dispose();
    }

    [Fact]
    public void Knobs_RejectNonsense()
    {
        var faults = new EmulatorFaults();

        Assert.Throws<ArgumentOutOfRangeException>(() => faults.ServerErrorRate = 1.5);
        Assert.Throws<ArgumentOutOfRangeException>(() => faults.FailNext(1, 200));
        Assert.Throws<ArgumentOutOfRangeException>(() => faults.FailNext(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => faults.ChunkDelay = TimeSpan.FromSeconds(-1));
    }

    private static async Task<List<int>> StatusesAsync(EmulatorHarness h, int count)
    {
        var statuses = new List<int>();
        for (var i = 0; i < count; i++)
        {
            using var response = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody());
            statuses.Add((int)response.StatusCode);
        }
        return statuses;
    }
}
