using System.Net;
using System.Text.Json;
using KeyPool.Core.Limits;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KeyPool.Tests.Limits;

/// <summary>The day's token total is not lost with the process: a new counter is seeded from the stored usage.</summary>
public sealed class TierLimitsRestartTests
{
    private static readonly Dictionary<string, string?> Settings = new() { ["KeyPool:Tiers:free:TokensPerDay"] = "300" };

    [Fact]
    public async Task TokensPerDay_SurviveARestart_ThroughTheStoredUsage()
    {
        await using var before = await GatewayHarness.StartAsync(keyCount: 2, settings: Settings);
        var spent = 0;
        while (await ChatAsync(before) == HttpStatusCode.OK)
        {
            Assert.True(++spent < 100, "the day limit never refused");
        }
        await before.App.StopAsync(); // usage is written at the stop

        await using var after = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>(Settings)
        {
            ["ConnectionStrings:KeyPool"] = $"Data Source={before.DatabasePath}",
        });
        var limiter = after.App.Services.GetRequiredService<UserLimiter>();

        // The first request does not wait for the store: counted from memory, it starts the read of today's total.
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(after));
        await UntilAsync(() => limiter.SeedsInFlight == 0);

        using var refused = await after.Http.SendAsync(Request(after));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("user_rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Contains("tokens per day limit (300)", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, limiter.SeedFailures);
    }

    // Small requests (max_tokens 5): without the stored total, the second request after the restart would fit easily.
    private static HttpRequestMessage Request(GatewayHarness gateway) =>
        gateway.ChatRequest(GatewayHarness.ChatBody(extra: "\"max_tokens\":5"), "returning-user");

    private static async Task<HttpStatusCode> ChatAsync(GatewayHarness gateway)
    {
        using var response = await gateway.Http.SendAsync(Request(gateway));
        return response.StatusCode;
    }

    private static async Task UntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "not within 10 s");
            await Task.Delay(10);
        }
    }
}
