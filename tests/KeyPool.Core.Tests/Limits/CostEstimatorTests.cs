using KeyPool.Core.Limits;
using KeyPool.Core.Money;

namespace KeyPool.Core.Tests.Limits;

/// <summary>One estimate of a request's cost: the price table when it has the model, else the model's recent cost per token.</summary>
public sealed class CostEstimatorTests
{
    // $0.20 per million fresh input = 2,000 ticks a token, $0.05 cached = 500, $0.50 output = 5,000.
    private static readonly PriceTable Prices = new(new Dictionary<string, ModelPrice>
    {
        ["priced"] = new() { InputPerMillion = 0.20m, CachedInputPerMillion = 0.05m, OutputPerMillion = 0.50m },
    });

    [Fact]
    public void APricedModel_IsEstimatedFromThePriceTable_PromptAsFreshInput_EvenAfterBillsWereSeen()
    {
        var estimator = new CostEstimator(Prices);
        Assert.Equal((100 * 2_000) + (50 * 5_000), estimator.Estimate("priced", 100, 50));

        estimator.Observe("priced", 150, 9_999_999); // a bill: learned, but the configured price decides
        Assert.Equal(450_000, estimator.Estimate("priced", 100, 50));
    }

    [Fact]
    public void AnUnpricedModel_IsEstimatedFromItsRecentCostPerToken()
    {
        var estimator = new CostEstimator(Prices);
        Assert.Equal(0, estimator.Estimate("unpriced", 100, 50)); // nothing known yet: nothing reserved

        estimator.Observe("unpriced", 100, 300_000); // 3,000 ticks a token
        Assert.Equal(3_000 * 150, estimator.Estimate("unpriced", 100, 50));

        estimator.Observe("unpriced", 100, 100_000); // 1,000 a token: the average moves a tenth of the way, to 2,800
        Assert.Equal(2_800 * 150, estimator.Estimate("unpriced", 100, 50));
        Assert.Equal(0, estimator.Estimate("other", 100, 50));
        Assert.Equal(0, estimator.Estimate(null, 100, 50));
    }

    [Fact]
    public void NegativeCounts_EstimateNothingForThatPart()
    {
        var estimator = new CostEstimator(Prices);
        Assert.Equal(50 * 5_000, estimator.Estimate("priced", -10, 50));
    }
}
