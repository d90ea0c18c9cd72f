using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KeyPool.Tests.Limits;

public sealed class TierLimitsTests : IAsyncLifetime
{
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHarness.StartAsync(keyCount: 3, settings: new Dictionary<string, string?>
    {
        ["KeyPool:Tiers:free:RequestsPerMinute"] = "2",
        ["KeyPool:Tiers:tiny:TokensPerDay"] = "100",
        ["KeyPool:Tiers:metered:TokensPerDay"] = "1000",
        ["KeyPool:Tiers:pro:RequestsPerMinute"] = "1000",
        ["KeyPool:Tiers:unlimited:Model"] = "grok-4.3",
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Chat_OverRequestsPerMinute_429UserRateLimitExceeded_WithoutTouchingUpstreamOrKeyBudgets()
    {
        Assert.Equal(200, (await _gateway.ChatAsync("heavy")).Status);
        Assert.Equal(200, (await _gateway.ChatAsync("heavy")).Status);
        var served = _gateway.ChatServed.Count;
        var budgets = await KeyBudgetsAsync();

        var (status, retryAfter, body) = await _gateway.ChatAsync("heavy");

        Assert.Equal(429, status);
        Assert.NotNull(retryAfter);
        Assert.InRange(int.Parse(retryAfter, System.Globalization.CultureInfo.InvariantCulture), 1, 60);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal("user_rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
        Assert.Contains("User requests per minute limit (2) of tier free reached", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(served, _gateway.ChatServed.Count); // the upstream never saw it
        Assert.Equal(budgets, await KeyBudgetsAsync()); // nor did any key's budget
        Assert.Equal(200, (await _gateway.ChatAsync("someone-else")).Status); // limits are per user
        var metrics = await _gateway.Http.GetStringAsync("/metrics");
        Assert.Contains("keypool_user_limit_rejections_total{limit=\"requests_per_minute\"} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_OverTokensPerDay_429UntilUtcMidnight()
    {
        await RegisterAsync("daily", "tiny");

        Assert.Equal(200, (await _gateway.ChatAsync("daily")).Status); // the first fits whatever its size: nothing used yet
        var (status, retryAfter, body) = await _gateway.ChatAsync("daily");

        Assert.Equal(429, status);
        var untilMidnight = (DateTimeOffset.UtcNow.Date.AddDays(1) - DateTimeOffset.UtcNow.UtcDateTime).TotalSeconds;
        Assert.InRange(int.Parse(retryAfter!, System.Globalization.CultureInfo.InvariantCulture), untilMidnight - 60, untilMidnight + 1);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal("user_rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Contains("User tokens per day limit (100) of tier tiny reached", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_TokensPerDay_ChargesTheRealUsageOnce_NotTheEstimate_AcrossAFailedAttempt()
    {
        await RegisterAsync("metered", "metered");
        var body = GatewayHarness.ChatBody(extra: "\"max_tokens\":800"); // reserves 800 and more of the day's 1,000
        var served = _gateway.ChatServed.Count;
        _gateway.Emulator.Faults.FailNext(1, 500);

        var (status, answer) = await SendAsync("metered", body);

        Assert.Equal(200, status);
        Assert.Equal(served + 2, _gateway.ChatServed.Count); // the first key failed, another served
        var used = JsonDocument.Parse(answer).RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64();
        Assert.InRange(used, 1, 150);
        // Charged what the upstream counted, not the reservation: a second request of the same size still fits.
        Assert.Equal(200, (await SendAsync("metered", body)).Status);
    }

    [Fact]
    public async Task Chat_TierWithoutLimits_HoldsNoCounter()
    {
        await RegisterAsync("free-spirit", "unlimited");

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(200, (await _gateway.ChatAsync("free-spirit")).Status);
        }
        Assert.Equal(0, _gateway.App.Services.GetRequiredService<KeyPool.Core.Limits.UserLimiter>().Count);
    }

    [Fact]
    public async Task Patch_Tier_NewLimitsApplyAtOnce()
    {
        Assert.Equal(200, (await _gateway.ChatAsync("upgraded")).Status);
        Assert.Equal(200, (await _gateway.ChatAsync("upgraded")).Status);
        Assert.Equal(429, (await _gateway.ChatAsync("upgraded")).Status);

        using var patched = await PatchAsync("upgraded", new { tier = "pro" });
        var user = await patched.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal("pro", user.GetProperty("tier").GetString());
        Assert.Equal(200, (await _gateway.ChatAsync("upgraded")).Status);
        using var downgraded = await PatchAsync("upgraded", new { tier = "free" });
        Assert.Equal(429, (await _gateway.ChatAsync("upgraded")).Status); // three used of two: the same counts, the new limit
    }

    [Fact]
    public async Task Patch_Group_MovesTheUserAndTheHealthCounts()
    {
        await _gateway.PlaceUserAsync("mover", 1);
        var before = await UserCountsAsync();

        using var patched = await PatchAsync("mover", new { apiKeyGroup = 3 });

        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal(3, (await patched.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("apiKeyGroup").GetInt32());
        Assert.Equal(3, await _gateway.GroupOfAsync("mover"));
        var after = await UserCountsAsync();
        Assert.Equal(before[1] - 1, after[1]);
        Assert.Equal(before[3] + 1, after[3]);
        Assert.Equal(200, (await _gateway.ChatAsync("mover")).Status);
        Assert.Equal([3], _gateway.GroupsThatServed("mover"));
    }

    [Theory]
    [InlineData("""{"tier":"gold"}""", 400, "invalid_tier")]
    [InlineData("""{"apiKeyGroup":9}""", 400, "invalid_group")]
    [InlineData("""{}""", 400, "invalid_request")]
    [InlineData("""{"tier":""", 400, "invalid_json")]
    [InlineData("""{"apiKeyGroup":"two"}""", 400, "invalid_json")]
    public async Task Patch_InvalidBody_400InOpenAiShape(string body, int status, string code)
    {
        await _gateway.PlaceUserAsync("target", 1);
        var request = _gateway.Admin(HttpMethod.Patch, "/api/admin/users/target");
        request.Content = new StringContent(body, Encoding.UTF8, "application/json");

        using var response = await _gateway.Http.SendAsync(request);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(code, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(1, await _gateway.GroupOfAsync("target"));
    }

    [Fact]
    public async Task Patch_UnknownUser_404()
    {
        using var response = await PatchAsync("nobody", new { tier = "pro" });

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("user_not_found", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
    }

    private async Task RegisterAsync(string user, string tier)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = user, tier }));
        response.EnsureSuccessStatusCode();
    }

    private async Task<(int Status, string Body)> SendAsync(string user, string body)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(body, user));
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private Task<HttpResponseMessage> PatchAsync(string user, object body) =>
        _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Patch, $"/api/admin/users/{Uri.EscapeDataString(user)}", body));

    private async Task<string> KeyBudgetsAsync() =>
        string.Join(";", (await _gateway.HealthAsync()).GetProperty("keyGroupStats").EnumerateArray()
            .Select(s => $"{s.GetProperty("rpm_used").GetInt64()}/{s.GetProperty("tpm_used").GetInt64()}/{s.GetProperty("total_requests").GetInt64()}"));

    private async Task<Dictionary<int, long>> UserCountsAsync() =>
        (await _gateway.HealthAsync()).GetProperty("keyGroupStats").EnumerateArray()
            .ToDictionary(s => s.GetProperty("key_group").GetInt32(), s => s.GetProperty("user_count").GetInt64());
}
