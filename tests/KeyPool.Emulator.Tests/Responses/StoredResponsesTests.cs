using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.Responses;

public sealed class StoredResponsesTests
{
    [Fact]
    public async Task Get_SameTeam_ReturnsTheAnswer_OtherTeam404()
    {
        await using var h = await EmulatorHarness.StartAsync();
        var id = await CreateAsync(h, EmulatorHarness.KeyA, """{"model":"grok-4.3","input":"Hello"}""");

        using var own = await h.GetAsync($"responses/{id}", EmulatorHarness.KeyA);
        using var other = await h.GetAsync($"responses/{id}", EmulatorHarness.KeyB);

        Assert.Equal(200, (int)own.StatusCode);
        Assert.Equal(id, (await EmulatorHarness.JsonAsync(own)).GetProperty("id").GetString());
        Assert.Equal(404, (int)other.StatusCode);
        Assert.True((await EmulatorHarness.JsonAsync(other)).TryGetProperty("error", out _)); // xAI's shape
    }

    [Fact]
    public async Task Get_KeyOfTheSameTeam_SeesIt()
    {
        await using var h = await EmulatorHarness.StartAsync(o =>
        {
            o.Teams[EmulatorHarness.KeyA] = "shared";
            o.Teams[EmulatorHarness.KeyB] = "shared";
        });
        var id = await CreateAsync(h, EmulatorHarness.KeyA, """{"model":"grok-4.3","input":"Hello"}""");

        using var response = await h.GetAsync($"responses/{id}", EmulatorHarness.KeyB);

        Assert.Equal(200, (int)response.StatusCode);
    }

    [Fact]
    public async Task StoreFalse_IsNotKept()
    {
        await using var h = await EmulatorHarness.StartAsync();
        var id = await CreateAsync(h, EmulatorHarness.KeyA, """{"model":"grok-4.3","input":"Hello","store":false}""");

        using var response = await h.GetAsync($"responses/{id}", EmulatorHarness.KeyA);

        Assert.Equal(404, (int)response.StatusCode);
    }

    [Fact]
    public async Task Delete_OtherTeam404_OwnTeamDeletesOnce()
    {
        await using var h = await EmulatorHarness.StartAsync();
        var id = await CreateAsync(h, EmulatorHarness.KeyA, """{"model":"grok-4.3","input":"Hello"}""");

        using var other = await h.DeleteAsync($"responses/{id}", EmulatorHarness.KeyB);
        using var own = await h.DeleteAsync($"responses/{id}", EmulatorHarness.KeyA);
        using var again = await h.DeleteAsync($"responses/{id}", EmulatorHarness.KeyA);
        using var read = await h.GetAsync($"responses/{id}", EmulatorHarness.KeyA);

        Assert.Equal(404, (int)other.StatusCode);
        Assert.Equal(200, (int)own.StatusCode);
        Assert.True((await EmulatorHarness.JsonAsync(own)).GetProperty("deleted").GetBoolean());
        Assert.Equal(404, (int)again.StatusCode);
        Assert.Equal(404, (int)read.StatusCode);
    }

    [Fact]
    public async Task Stored_ExpiresAfterThirtyDays()
    {
        await using var h = await EmulatorHarness.StartAsync();
        var id = await CreateAsync(h, EmulatorHarness.KeyA, """{"model":"grok-4.3","input":"Hello"}""");

        h.Time.Advance(TimeSpan.FromDays(30) - TimeSpan.FromSeconds(1));
        using (var before = await h.GetAsync($"responses/{id}", EmulatorHarness.KeyA))
        {
            Assert.Equal(200, (int)before.StatusCode);
        }
        h.Time.Advance(TimeSpan.FromSeconds(1));
        using var after = await h.GetAsync($"responses/{id}", EmulatorHarness.KeyA);

        Assert.Equal(404, (int)after.StatusCode);
    }

    [Fact]
    public async Task PreviousResponseId_BillsTheHistoryAgainMostlyCached()
    {
        await using var h = await EmulatorHarness.StartAsync();
        var first = await CreateAsync(h, EmulatorHarness.KeyA, """{"model":"grok-4.3","input":"Tell me a long story about a lighthouse keeper."}""");

        using var second = await h.PostAsync("responses", EmulatorHarness.KeyA, $$"""{"model":"grok-4.3","input":"And then?","previous_response_id":"{{first}}"}""");

        Assert.Equal(200, (int)second.StatusCode);
        var usage = (await EmulatorHarness.JsonAsync(second)).GetProperty("usage");
        var input = usage.GetProperty("input_tokens").GetInt32();
        var cached = usage.GetProperty("input_tokens_details").GetProperty("cached_tokens").GetInt32();
        var firstInput = h.Emulator.Served[0].Usage!.InputTokens;
        Assert.True(input > firstInput, $"the history is billed again: {input} > {firstInput}");
        Assert.True(cached > input / 2, $"mostly cached: {cached} of {input}");
        Assert.Equal(h.Emulator.Served[1].Usage!.CachedTokens, cached);
        Assert.Equal(h.Emulator.Served[1].Usage!.CostInUsdTicks, usage.GetProperty("cost_in_usd_ticks").GetInt64());
    }

    [Fact]
    public async Task PreviousResponseId_OtherTeam_404_NotCharged()
    {
        await using var h = await EmulatorHarness.StartAsync();
        var first = await CreateAsync(h, EmulatorHarness.KeyA, """{"model":"grok-4.3","input":"Hello"}""");

        using var response = await h.PostAsync("responses", EmulatorHarness.KeyB, $$"""{"model":"grok-4.3","input":"More","previous_response_id":"{{first}}"}""");

        Assert.Equal(404, (int)response.StatusCode);
        var served = h.Emulator.Served[1];
        Assert.Equal((404, "not_found"), (served.Status, served.Reason));
        Assert.Null(served.Usage);
    }

    private static async Task<string> CreateAsync(EmulatorHarness h, string key, string body)
    {
        using var response = await h.PostAsync("responses", key, body);
        Assert.Equal(200, (int)response.StatusCode);
        return (await EmulatorHarness.JsonAsync(response)).GetProperty("id").GetString()!;
    }
}
