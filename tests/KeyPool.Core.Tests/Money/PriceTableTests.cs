using KeyPool.Core.Money;

namespace KeyPool.Core.Tests.Money;

public sealed class PriceTableTests
{
    private static readonly PriceTable Prices = new(new Dictionary<string, ModelPrice>
    {
        ["grok-4.3"] = new() { InputPerMillion = 0.20m, CachedInputPerMillion = 0.05m, OutputPerMillion = 0.50m },
        ["no-cache-price"] = new() { InputPerMillion = 1m, OutputPerMillion = 2m },
    });

    [Fact]
    public void Estimate_FreshCachedAndOutputAtTheirPrices_ReasoningAsOutput()
    {
        // 0.20 USD per million = 2,000 ticks per token; cached 500; output 5,000.
        var ticks = Prices.Estimate("grok-4.3", prompt: 100, cached: 60, completion: 10, reasoning: 20);

        Assert.Equal(40 * 2_000 + 60 * 500 + 30 * 5_000, ticks);
    }

    [Fact]
    public void Estimate_UnknownModel_Null()
    {
        Assert.Null(Prices.Estimate("other", 100, 0, 10, 0));
        Assert.Null(Prices.Estimate(null, 100, 0, 10, 0));
        Assert.Null(PriceTable.Empty.Estimate("grok-4.3", 100, 0, 10, 0));
    }

    [Fact]
    public void Saved_CachedTokensTimesThePriceDifference()
    {
        Assert.Equal(60 * (2_000 - 500), Prices.Saved("grok-4.3", 60));
        Assert.Equal(0, Prices.Saved("no-cache-price", 60)); // no cached price: nothing saved
        Assert.Equal(0, Prices.Saved("other", 60));
    }

    [Fact]
    public void UsdTicks_ExactToTheTick()
    {
        Assert.Equal(1m, UsdTicks.ToUsd(UsdTicks.PerUsd));
        Assert.Equal(0.0000000001m, UsdTicks.ToUsd(1));
        Assert.Equal(2_000m, UsdTicks.PerToken(0.20m));
    }
}
