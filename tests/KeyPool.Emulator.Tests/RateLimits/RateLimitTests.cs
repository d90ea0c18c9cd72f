using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.RateLimits;

public sealed class RateLimitTests
{
    [Fact]
    public async Task Requests_OverLimit_429UntilWindowSlides()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.RequestsPerMinute = 3);

        var remaining = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            using var ok = await Chat(h, EmulatorHarness.KeyA);
            Assert.Equal(200, (int)ok.StatusCode);
            remaining.Add(EmulatorHarness.Header(ok, "x-ratelimit-remaining-requests"));
        }
        using var limited = await Chat(h, EmulatorHarness.KeyA);
        h.Time.Advance(TimeSpan.FromSeconds(59));
        using var stillLimited = await Chat(h, EmulatorHarness.KeyA);
        h.Time.Advance(TimeSpan.FromSeconds(1));
        using var recovered = await Chat(h, EmulatorHarness.KeyA);

        Assert.Equal(["2", "1", "0"], remaining);
        Assert.Equal(429, (int)limited.StatusCode);
        var body = await EmulatorHarness.JsonAsync(limited);
        Assert.Equal("Some resource has been exhausted", body.GetProperty("code").GetString());
        Assert.Contains("rate limit", body.GetProperty("error").GetString());
        Assert.Equal("3", EmulatorHarness.Header(limited, "x-ratelimit-limit-requests"));
        Assert.Equal("0", EmulatorHarness.Header(limited, "x-ratelimit-remaining-requests"));
        Assert.NotEmpty(EmulatorHarness.Header(limited, "x-request-id"));
        Assert.Equal(429, (int)stillLimited.StatusCode);
        Assert.Equal(200, (int)recovered.StatusCode);
        Assert.Equal(["rate_limited", "rate_limited"], h.Emulator.Served.Where(s => s.Status == 429).Select(s => s.Reason));
    }

    [Fact]
    public async Task RequestsPerSecond_AFinerWindow_429WhileTheMinuteStillShowsRoom()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.RequestsPerSecond = 2);

        using var first = await Chat(h, EmulatorHarness.KeyA);
        using var second = await Chat(h, EmulatorHarness.KeyA);
        using var third = await Chat(h, EmulatorHarness.KeyA);
        h.Time.Advance(TimeSpan.FromSeconds(1));
        using var nextSecond = await Chat(h, EmulatorHarness.KeyA);

        Assert.Equal((200, 200), ((int)first.StatusCode, (int)second.StatusCode));
        Assert.Equal(429, (int)third.StatusCode);
        Assert.Equal("478", EmulatorHarness.Header(third, "x-ratelimit-remaining-requests")); // the minute has room
        Assert.Contains("requests per second", (await EmulatorHarness.JsonAsync(third)).GetProperty("error").GetString());
        Assert.Equal(200, (int)nextSecond.StatusCode);
    }

    [Fact]
    public async Task Tokens_OverLimit_429UntilWindowSlides()
    {
        // Each reply counts 23 tokens: the first two are admitted (0 and 23 < 30), the third is not.
        await using var h = await EmulatorHarness.StartAsync(o => o.TokensPerMinute = 30);

        using var first = await Chat(h, EmulatorHarness.KeyA);
        using var second = await Chat(h, EmulatorHarness.KeyA);
        using var third = await Chat(h, EmulatorHarness.KeyA);
        h.Time.Advance(TimeSpan.FromSeconds(60));
        using var recovered = await Chat(h, EmulatorHarness.KeyA);

        Assert.Equal("7", EmulatorHarness.Header(first, "x-ratelimit-remaining-tokens"));
        Assert.Equal(200, (int)second.StatusCode);
        Assert.Equal(429, (int)third.StatusCode);
        Assert.Equal("30", EmulatorHarness.Header(third, "x-ratelimit-limit-tokens"));
        Assert.Equal("0", EmulatorHarness.Header(third, "x-ratelimit-remaining-tokens"));
        Assert.Contains("tokens per minute", (await EmulatorHarness.JsonAsync(third)).GetProperty("error").GetString());
        Assert.Equal(200, (int)recovered.StatusCode);
    }

    [Fact]
    public async Task KeysOfOneTeam_ShareTheBudget_OtherTeamsDoNot()
    {
        await using var h = await EmulatorHarness.StartAsync(o =>
        {
            o.RequestsPerMinute = 2;
            o.Teams[EmulatorHarness.KeyA] = "team-x";
            o.Teams[EmulatorHarness.KeyB] = "team-x";
        });

        using var a1 = await Chat(h, EmulatorHarness.KeyA);
        using var b1 = await Chat(h, EmulatorHarness.KeyB);
        using var a2 = await Chat(h, EmulatorHarness.KeyA);
        using var b2 = await Chat(h, EmulatorHarness.KeyB);
        using var c1 = await Chat(h, EmulatorHarness.KeyC);

        Assert.Equal([200, 200, 429, 429, 200], new[] { a1, b1, a2, b2, c1 }.Select(r => (int)r.StatusCode));
        Assert.Equal(1, h.Emulator.CountServedBy(EmulatorHarness.KeyA));
        Assert.Equal(1, h.Emulator.CountServedBy(EmulatorHarness.KeyB));
    }

    [Fact]
    public async Task Models_HaveSeparateBudgets()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.RequestsPerMinute = 1);

        using var mini = await Chat(h, EmulatorHarness.KeyA, "grok-3-mini");
        using var big = await Chat(h, EmulatorHarness.KeyA, "grok-4.3");
        using var miniAgain = await Chat(h, EmulatorHarness.KeyA, "grok-3-mini");

        Assert.Equal([200, 200, 429], new[] { mini, big, miniAgain }.Select(r => (int)r.StatusCode));
    }

    [Fact]
    public async Task Success_CarriesXaiHeaders_WithoutResetByDefault()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var response = await Chat(h, EmulatorHarness.KeyA);

        Assert.Equal("480", EmulatorHarness.Header(response, "x-ratelimit-limit-requests"));
        Assert.Equal("479", EmulatorHarness.Header(response, "x-ratelimit-remaining-requests"));
        Assert.Equal("2000000", EmulatorHarness.Header(response, "x-ratelimit-limit-tokens"));
        Assert.Equal((2_000_000 - 23).ToString(System.Globalization.CultureInfo.InvariantCulture), EmulatorHarness.Header(response, "x-ratelimit-remaining-tokens"));
        Assert.NotEmpty(EmulatorHarness.Header(response, "x-request-id"));
        Assert.False(response.Headers.Contains("x-ratelimit-reset-requests"));
        Assert.False(response.Headers.Contains("x-ratelimit-reset-tokens"));
        Assert.False(response.Headers.Contains("retry-after"));
    }

    [Fact]
    public async Task ResetHeaders_WhenEnabled_TellTimeUntilOldestLeavesWindow()
    {
        await using var h = await EmulatorHarness.StartAsync(o =>
        {
            o.RateLimitResetHeaders = true;
            o.RequestsPerMinute = 2;
        });

        using var first = await Chat(h, EmulatorHarness.KeyA);
        h.Time.Advance(TimeSpan.FromMilliseconds(59_750));
        using var second = await Chat(h, EmulatorHarness.KeyA);
        using var limited = await Chat(h, EmulatorHarness.KeyA);

        Assert.Equal("1m0s", EmulatorHarness.Header(first, "x-ratelimit-reset-requests"));
        Assert.Equal("1m0s", EmulatorHarness.Header(first, "x-ratelimit-reset-tokens"));
        Assert.Equal("250ms", EmulatorHarness.Header(second, "x-ratelimit-reset-requests"));
        Assert.Equal(429, (int)limited.StatusCode);
        Assert.Equal("250ms", EmulatorHarness.Header(limited, "x-ratelimit-reset-requests"));
    }

    [Fact]
    public async Task Limits_AreReadLive()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var before = await Chat(h, EmulatorHarness.KeyA);
        h.Emulator.Options.RequestsPerMinute = 1;
        using var after = await Chat(h, EmulatorHarness.KeyA);

        Assert.Equal(200, (int)before.StatusCode);
        Assert.Equal(429, (int)after.StatusCode);
    }

    private static Task<HttpResponseMessage> Chat(EmulatorHarness h, string key, string model = "grok-3-mini") =>
        h.PostChatAsync(key, EmulatorHarness.ChatBody(model));
}
