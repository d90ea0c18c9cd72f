using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Configuration;

/// <summary>Every section is checked at start, and one failed start lists every problem.</summary>
public sealed class OptionsValidationTests
{
    [Fact]
    public async Task BadHealthCapacityAndTierSettings_RefuseToStart_NamingEachOne()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(keyCount: 1, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Health:BreakerFailures"] = "0",
            ["KeyPool:Health:CooldownBase"] = "00:00:10",
            ["KeyPool:Health:CooldownMax"] = "00:00:05",
            ["KeyPool:Capacity:DailyUsersPerKey"] = "0",
            ["KeyPool:Tiers:pro:Model"] = " ",
            ["KeyPool:Tiers:free:RequestsPerMinute"] = "0",
            ["KeyPool:Tiers:free:TokensPerDay"] = "-5",
            ["KeyPool:Users:LimitCounters"] = "1",
        }));

        Assert.Contains("KeyPool:Health:BreakerFailures must be at least 1", exception.Message, StringComparison.Ordinal);
        Assert.Contains("KeyPool:Health:CooldownMax", exception.Message, StringComparison.Ordinal);
        Assert.Contains("KeyPool:Capacity:DailyUsersPerKey must be at least 1", exception.Message, StringComparison.Ordinal);
        Assert.Contains("KeyPool:Tiers:pro:Model", exception.Message, StringComparison.Ordinal);
        Assert.Contains("KeyPool:Tiers:free:RequestsPerMinute must be at least 1 or unset, not 0", exception.Message, StringComparison.Ordinal);
        Assert.Contains("KeyPool:Tiers:free:TokensPerDay must be at least 1 or unset, not -5", exception.Message, StringComparison.Ordinal);
        Assert.Contains("KeyPool:Users:LimitCounters must be at least 2", exception.Message, StringComparison.Ordinal);
    }
}
