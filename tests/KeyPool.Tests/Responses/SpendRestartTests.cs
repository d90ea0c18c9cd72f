using System.Globalization;
using System.Net;
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

    [Fact]
    public async Task UsdPerDay_SurvivesARestart_ThroughTheStoredCost()
    {
        await using var before = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?> { ["KeyPool:Tiers:free:UsdPerDay"] = "1" });
        for (var i = 0; i < Spent; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await ChatAsync(before));
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
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(after));
        await UntilAsync(() => limiter.SeedsInFlight == 0);
        var third = after.ChatServed.Where(Mine).Single().Usage!.CostInUsdTicks;
        // Counted from memory alone (the third request, and the next one's estimate: a few requests' cost at most, as the
        // body's size over-counts its prompt), the next request would fit: only the stored spend refuses it.
        Assert.True(4 * third <= limit, $"{third} ticks a request against a limit of {limit}: the test would prove nothing");

        using var refused = await after.Http.SendAsync(Request(after));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("user_budget_exceeded", error.GetProperty("code").GetString());
        Assert.Single(after.ChatServed, Mine); // the refused request never reached the upstream
        Assert.Equal(0, limiter.SeedFailures);
    }

    private static bool Mine(ServedRequest served) =>
        served.Usage is not null && (served.User == User || served.ConversationId == global::KeyPool.Proxy.ConversationId.For(User));

    private static HttpRequestMessage Request(GatewayHarness gateway) =>
        gateway.ChatRequest(GatewayHarness.ChatBody(extra: "\"max_tokens\":5"), User);

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
