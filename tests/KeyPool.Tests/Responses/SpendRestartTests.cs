using System.Globalization;
using System.Text.Json;
using KeyPool.Core.Limits;
using KeyPool.Core.Money;
using KeyPool.Emulator;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KeyPool.Tests.Responses;

/// <summary>A day's spend is not lost with the process: a new spend counter starts from the user's stored cost.</summary>
public sealed class SpendRestartTests
{
    private const string User = "returning-spender";
    private const int Spent = 8; // requests before the restart
    private const int MaxTokens = 5; // small requests: only the stored spend can refuse the last one

    [Fact]
    public async Task UsdPerDay_SurvivesARestart_ThroughTheStoredCost()
    {
        await using var before = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?> { ["KeyPool:Tiers:free:UsdPerDay"] = "1" });
        for (var i = 0; i < Spent; i++)
        {
            Assert.Equal(200, (await before.ChatAsync(User, maxTokens: MaxTokens)).Status);
        }
        var billed = before.ChatServed.Where(Mine).Select(s => s.Usage!.CostInUsdTicks).ToArray();
        Assert.Equal(Spent, billed.Length);
        await before.App.StopAsync(); // usage (and its cost) is written at the stop

        // What was spent plus half a request: one more request fits in what is left, the one after it does not.
        var limit = billed.Sum() + (billed[^1] / 2);
        await using var after = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Tiers:free:UsdPerDay"] = UsdTicks.ToUsd(limit).ToString(CultureInfo.InvariantCulture),
            ["ConnectionStrings:KeyPool"] = $"Data Source={before.DatabasePath}",
        });
        var limiter = after.App.Services.GetRequiredService<SpendLimiter>();

        // The first request does not wait for the store: it fits what is left, and starts the read of the stored spend.
        Assert.Equal(200, (await after.ChatAsync(User, maxTokens: MaxTokens)).Status);
        await Poll.UntilAsync(() => limiter.SeedsInFlight == 0, TimeSpan.FromSeconds(10));
        var third = after.ChatServed.Where(Mine).Single().Usage!.CostInUsdTicks;
        // Counted from memory alone (the third request, and the next one's estimate: a few requests' cost at most, as the
        // body's size over-counts its prompt), the next request would fit: only the stored spend refuses it.
        Assert.True(4 * third <= limit, $"{third} ticks a request against a limit of {limit}: the test would prove nothing");

        var refused = await after.ChatAsync(User, maxTokens: MaxTokens);
        Assert.Equal(429, refused.Status);
        var error = JsonDocument.Parse(refused.Body).RootElement.GetProperty("error");
        Assert.Equal("user_budget_exceeded", error.GetProperty("code").GetString());
        Assert.Single(after.ChatServed, Mine); // the refused request never reached the upstream
        Assert.Equal(0, limiter.SeedFailures);
    }

    private static bool Mine(ServedRequest served) =>
        served.Usage is not null && (served.User == User || served.ConversationId == global::KeyPool.Proxy.ConversationId.For(User));
}
