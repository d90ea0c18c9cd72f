using KeyPool.Emulator.Tests.TestSupport;

namespace KeyPool.Emulator.Tests.Accounts;

public sealed class ApiKeyEndpointTests
{
    [Fact]
    public async Task ApiKey_ReportsTeamAndRedactedKey()
    {
        await using var h = await EmulatorHarness.StartAsync(o => o.Teams[EmulatorHarness.KeyB] = "team-shared");

        using var a = await h.GetAsync("api-key", EmulatorHarness.KeyA);
        using var b = await h.GetAsync("api-key", EmulatorHarness.KeyB);

        Assert.Equal(200, (int)a.StatusCode);
        var bodyA = await EmulatorHarness.JsonAsync(a);
        var bodyB = await EmulatorHarness.JsonAsync(b);
        Assert.Equal("team-1", bodyA.GetProperty("team_id").GetString());
        Assert.Equal("team-shared", bodyB.GetProperty("team_id").GetString());
        Assert.Equal("xai-…0001", bodyA.GetProperty("redacted_api_key").GetString());
        Assert.False(bodyA.GetProperty("api_key_blocked").GetBoolean());
        Assert.False(bodyA.GetProperty("api_key_disabled").GetBoolean());
        Assert.False(bodyA.GetProperty("team_blocked").GetBoolean());
        Assert.Equal(["api-key:model:*", "api-key:endpoint:*"], bodyA.GetProperty("acls").EnumerateArray().Select(e => e.GetString()));
        foreach (var field in new[] { "user_id", "name", "create_time", "modify_time", "modified_by", "api_key_id" })
        {
            Assert.False(string.IsNullOrEmpty(bodyA.GetProperty(field).GetString()), field);
        }
        Assert.DoesNotContain(EmulatorHarness.KeyA, bodyA.GetRawText());
    }

    [Fact]
    public async Task ApiKey_RevokedAndBlocked_StillAnswer200WithFlags()
    {
        await using var h = await EmulatorHarness.StartAsync();
        h.Emulator.Faults.Revoke(EmulatorHarness.KeyA);
        h.Emulator.Faults.Block(EmulatorHarness.KeyB);

        var revoked = await EmulatorHarness.JsonAsync(await h.GetAsync("api-key", EmulatorHarness.KeyA));
        var blocked = await EmulatorHarness.JsonAsync(await h.GetAsync("api-key", EmulatorHarness.KeyB));

        Assert.True(revoked.GetProperty("api_key_disabled").GetBoolean());
        Assert.False(revoked.GetProperty("api_key_blocked").GetBoolean());
        Assert.True(blocked.GetProperty("api_key_blocked").GetBoolean());
        Assert.False(blocked.GetProperty("api_key_disabled").GetBoolean());
    }

    [Fact]
    public async Task ApiKey_UnknownKey_Returns400()
    {
        await using var h = await EmulatorHarness.StartAsync();

        using var response = await h.GetAsync("api-key", "xai-nobody-knows-me");

        Assert.Equal(400, (int)response.StatusCode);
        Assert.StartsWith("Incorrect API key provided: xa***me.", (await EmulatorHarness.JsonAsync(response)).GetProperty("error").GetString());
    }
}
