using System.Net;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Responses;

/// <summary>A tier's spend limit in money refuses locally with <c>user_budget_exceeded</c>, the upstream untouched.</summary>
public sealed class SpendLimitTests
{
    // The client token names the user in a header: the upstream sees KeyPool's conversation id for her.
    private static bool Dana(KeyPool.Emulator.ServedRequest served) =>
        served.User == "dana" || served.ConversationId == global::KeyPool.Proxy.ConversationId.For("dana");

    [Fact]
    public async Task UsdPerDay_Reached_Is429UserBudgetExceeded_UntilMidnight_UpstreamUntouched()
    {
        // The emulator charges about 0.00001 USD for a short chat: a tenth of a cent a day is a few dozen requests at most.
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Tiers:free:UsdPerDay"] = "0.0001",
        });
        (int Status, string? RetryAfter, string Body) last = (0, null, "");
        var sent = 0;
        while (sent < 100)
        {
            using var request = gateway.ChatRequest(GatewayHarness.ChatBody(extra: "\"max_tokens\":16"), "dana");
            using var response = await gateway.Http.SendAsync(request);
            last = ((int)response.StatusCode, response.Headers.RetryAfter?.ToString(), await response.Content.ReadAsStringAsync());
            sent++;
            if (last.Status != 200)
            {
                break;
            }
        }
        var served = gateway.ChatServed.Where(Dana).ToArray();

        Assert.Equal(429, last.Status);
        Assert.Equal("user_budget_exceeded", JsonDocument.Parse(last.Body).RootElement.GetProperty("error").GetProperty("code").GetString());
        var untilMidnight = (DateTime.UtcNow.Date.AddDays(1) - DateTime.UtcNow).TotalSeconds;
        Assert.InRange(int.Parse(last.RetryAfter!, System.Globalization.CultureInfo.InvariantCulture), untilMidnight - 60, untilMidnight + 60);
        Assert.Equal(sent - 1, served.Length); // the refused request never reached the upstream
        var spent = served.Sum(s => s.Usage!.CostInUsdTicks);
        Assert.InRange(spent, 1, 1_000_000 + served.Max(s => s.Usage!.CostInUsdTicks)); // within the limit but for the last estimate's error
        using var again = gateway.ChatRequest(GatewayHarness.ChatBody(), "dana");
        Assert.Equal(HttpStatusCode.TooManyRequests, (await gateway.Http.SendAsync(again)).StatusCode);
        Assert.Equal(served.Length, gateway.ChatServed.Count(Dana));
        using var other = gateway.ChatRequest(GatewayHarness.ChatBody(), "erin");
        Assert.Equal(HttpStatusCode.OK, (await gateway.Http.SendAsync(other)).StatusCode); // per user
    }
}
