using System.Text.Json.Nodes;
using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.Completions;

public sealed class DeferredCompletionTests
{
    [Fact]
    public async Task Deferred_AnswersRequestId_Then202WhilePending_Then200Once()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.DeferredDelay = TimeSpan.FromSeconds(5));
        var id = await DeferAsync(h, EmulatorHarness.KeyA);

        using var pending = await h.GetAsync($"chat/deferred-completion/{id}", EmulatorHarness.KeyA);
        Assert.Equal(202, (int)pending.StatusCode);

        h.Time.Advance(TimeSpan.FromSeconds(5));
        using var done = await h.GetAsync($"chat/deferred-completion/{id}", EmulatorHarness.KeyA);
        using var again = await h.GetAsync($"chat/deferred-completion/{id}", EmulatorHarness.KeyA);

        Assert.Equal(200, (int)done.StatusCode);
        var completion = await EmulatorHarness.JsonAsync(done);
        Assert.Equal("chat.completion", completion.GetProperty("object").GetString());
        var usage = completion.GetProperty("usage");
        Assert.Equal(404, (int)again.StatusCode);

        var served = h.Emulator.Served;
        Assert.Equal([200, 202, 200, 404], served.Select(s => s.Status));
        Assert.Null(served[0].Usage); // the acceptance reports no usage: the poll that hands out the answer does
        Assert.Null(served[1].Usage);
        Assert.Equal(usage.GetProperty("total_tokens").GetInt32(), served[2].Usage!.TotalTokens);
        Assert.Equal(usage.GetProperty("cost_in_usd_ticks").GetInt64(), served[2].Usage!.CostInUsdTicks);
        Assert.Equal("/v1/chat/deferred-completion/" + id, served[2].Path);
        Assert.Equal("grok-3-mini", served[2].Model);
    }

    [Fact]
    public async Task Deferred_OtherTeam404_SameTeamOtherKey200()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.Teams[EmulatorHarness.KeyC] = "team-1");
        var id = await DeferAsync(h, EmulatorHarness.KeyA);

        using var other = await h.GetAsync($"chat/deferred-completion/{id}", EmulatorHarness.KeyB);
        using var sameTeam = await h.GetAsync($"chat/deferred-completion/{id}", EmulatorHarness.KeyC);

        Assert.Equal(404, (int)other.StatusCode);
        Assert.Equal(200, (int)sameTeam.StatusCode);
    }

    [Fact]
    public async Task Deferred_PollsCountAgainstTheChatRequestLimit()
    {
        await using var h = await EmulatorHarness.StartAsync(o =>
        {
            o.RequestsPerMinute = 3;
            o.DeferredDelay = TimeSpan.FromMinutes(5);
        });
        var id = await DeferAsync(h, EmulatorHarness.KeyA);

        using var first = await h.GetAsync($"chat/deferred-completion/{id}", EmulatorHarness.KeyA);
        using var second = await h.GetAsync($"chat/deferred-completion/{id}", EmulatorHarness.KeyA);
        using var third = await h.GetAsync($"chat/deferred-completion/{id}", EmulatorHarness.KeyA);
        using var chat = await h.PostChatAsync(EmulatorHarness.KeyA, EmulatorHarness.ChatBody());

        Assert.Equal([202, 202, 429], new[] { first, second, third }.Select(r => (int)r.StatusCode));
        Assert.Equal(429, (int)chat.StatusCode);
    }

    [Fact]
    public async Task Deferred_ExpiresAfter24Hours()
    {
        await using var h = await EmulatorHarness.StartAsync();
        var id = await DeferAsync(h, EmulatorHarness.KeyA);

        h.Time.Advance(TimeSpan.FromHours(24));
        using var response = await h.GetAsync($"chat/deferred-completion/{id}", EmulatorHarness.KeyA);

        Assert.Equal(404, (int)response.StatusCode);
    }

    [Fact]
    public async Task Deferred_Streamed_400()
    {
        await using var h = await EmulatorHarness.StartAsync();
        var body = EmulatorHarness.ChatBody(stream: true);
        body["deferred"] = true;

        using var response = await h.PostChatAsync(EmulatorHarness.KeyA, body);

        Assert.Equal(400, (int)response.StatusCode);
    }

    private static async Task<string> DeferAsync(EmulatorHarness h, string key)
    {
        var body = EmulatorHarness.ChatBody();
        body["deferred"] = true;
        using var response = await h.PostChatAsync(key, body);
        Assert.Equal(200, (int)response.StatusCode);
        var json = await EmulatorHarness.JsonAsync(response);
        Assert.Single(json.EnumerateObject());
        return json.GetProperty("request_id").GetString()!;
    }
}
