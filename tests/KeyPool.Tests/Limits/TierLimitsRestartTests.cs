using System.Text.Json;
using KeyPool.Core.Limits;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KeyPool.Tests.Limits;

/// <summary>The day's token total is not lost with the process: a new counter is seeded from the stored usage.</summary>
public sealed class TierLimitsRestartTests
{
    private const string User = "returning-user";
    // Small requests: without the stored total, the second request after the restart would fit easily.
    private const int MaxTokens = 5;
    private static readonly Dictionary<string, string?> Settings = new() { ["KeyPool:Tiers:free:TokensPerDay"] = "300" };

    [Fact]
    public async Task TokensPerDay_SurviveARestart_ThroughTheStoredUsage()
    {
        await using var before = await GatewayHarness.StartAsync(keyCount: 2, settings: Settings);
        var spent = 0;
        while ((await before.ChatAsync(User, maxTokens: MaxTokens)).Status == 200)
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
        Assert.Equal(200, (await after.ChatAsync(User, maxTokens: MaxTokens)).Status);
        await Poll.UntilAsync(() => limiter.SeedsInFlight == 0, TimeSpan.FromSeconds(10));

        var refused = await after.ChatAsync(User, maxTokens: MaxTokens);
        Assert.Equal(429, refused.Status);
        var error = JsonDocument.Parse(refused.Body).RootElement.GetProperty("error");
        Assert.Equal("user_rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Contains("tokens per day limit (300)", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, limiter.SeedFailures);
    }
}
