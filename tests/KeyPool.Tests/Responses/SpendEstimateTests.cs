using System.Globalization;
using System.Net;
using System.Text;
using KeyPool.Core.Limits;
using KeyPool.Core.Money;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Responses;

/// <summary>For an upstream that states no cost, a spend limit reserves and settles on the price table's figures.</summary>
public sealed class SpendEstimateTests
{
    private const string Model = "grok-3-mini";
    private const int MaxTokens = 2_000;

    [Fact]
    public async Task WithoutAStatedCost_TheReservationIsSettledOnThePriceOfWhatWasServed()
    {
        // $0.30 per million input = 3,000 ticks a token, $0.10 cached = 1,000, $0.60 output = 6,000.
        var body = GatewayHarness.ChatBody("How much does this cost?", model: Model, extra: $"\"max_tokens\":{MaxTokens}");
        var reserved = (Encoding.UTF8.GetByteCount(body) / 4 * 3_000L) + (MaxTokens * 6_000L); // bytes / 4 as fresh input, max_tokens as output
        await using var probe = await StartAsync(limitTicks: null);
        var served = await ChatAsync(probe, body);
        var actual = ((served.InputTokens - served.CachedTokens) * 3_000L) + (served.CachedTokens * 1_000L) + ((served.OutputTokens + served.ReasoningTokens) * 6_000L);
        Assert.True(actual * 2 < reserved, $"the request was estimated at {reserved} ticks and cost {actual}: the test would prove nothing");

        // Room for one reservation plus what the first request really cost: settled on its estimate, the second would not fit.
        await using var gateway = await StartAsync(limitTicks: reserved + actual);
        var first = await ChatAsync(gateway, body);
        Assert.Equal(0, first.CostInUsdTicks); // the emulator stated no cost
        using var second = await gateway.Http.SendAsync(gateway.ChatRequest(body, "priced-user"));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        using var third = await gateway.Http.SendAsync(gateway.ChatRequest(body, "priced-user"));
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode); // spent ≥ 2 × actual: one more reservation does not fit
    }

    private static Task<GatewayHarness> StartAsync(long? limitTicks)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"KeyPool:Models:Prices:{Model}:InputPerMillion"] = "0.30",
            [$"KeyPool:Models:Prices:{Model}:CachedInputPerMillion"] = "0.10",
            [$"KeyPool:Models:Prices:{Model}:OutputPerMillion"] = "0.60",
        };
        if (limitTicks is { } ticks)
        {
            settings["KeyPool:Tiers:free:UsdPerDay"] = UsdTicks.ToUsd(ticks).ToString(CultureInfo.InvariantCulture);
        }
        return GatewayHarness.StartAsync(keyCount: 1, settings: settings, emulator: e => e.ModelsWithoutCost.Add(Model));
    }

    private static async Task<KeyPool.Emulator.ServedUsage> ChatAsync(GatewayHarness gateway, string body)
    {
        using var response = await gateway.Http.SendAsync(gateway.ChatRequest(body, "priced-user"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return gateway.ChatServed.Last(s => s.Usage is not null).Usage!;
    }
}
