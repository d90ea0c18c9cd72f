using KeyPool.Core.Health;

namespace KeyPool.Core.Tests.Health;

public sealed class HealthGraderTests
{
    [Fact]
    public void Grade_31Keys_IsExcellent_WithTheOriginalFigures()
    {
        var health = HealthGrader.Grade(31, 31, new CapacityOptions());

        Assert.True(health.Healthy);
        Assert.Equal(31, health.TotalKeys);
        Assert.Equal("EXCELLENT", health.Status);
        Assert.Equal("Excellent capacity - ready for viral scale!", health.Message);
        Assert.Equal(new EstimatedCapacity(930_000, 31_000, 11_904_000), health.EstimatedCapacity);
    }

    [Theory]
    [InlineData(25, "EXCELLENT")]
    [InlineData(24, "GOOD")]
    [InlineData(10, "GOOD")]
    [InlineData(9, "FAIR")]
    [InlineData(3, "FAIR")]
    [InlineData(2, "LIMITED")]
    [InlineData(1, "LIMITED")]
    [InlineData(0, "CRITICAL")]
    public void Grade_Thresholds(int keys, string status)
    {
        var health = HealthGrader.Grade(keys, keys, new CapacityOptions());

        Assert.Equal(status, health.Status);
        Assert.Equal(keys > 0, health.Healthy);
    }

    [Fact]
    public void Grade_CapacityIsConfigurable()
    {
        var health = HealthGrader.Grade(2, 2, new CapacityOptions { DailyUsersPerKey = 10, ConcurrentUsersPerKey = 3, RequestsPerDayPerKey = 100 });

        Assert.Equal(new EstimatedCapacity(20, 6, 200), health.EstimatedCapacity);
    }

    [Fact]
    public void Grade_UnusableKeys_LowerTheGrade_AndSayWhy()
    {
        var health = HealthGrader.Grade(31, 20, new CapacityOptions(), "11 keys revoked");

        Assert.Equal("GOOD", health.Status);
        Assert.Contains("11 keys revoked", health.Message, StringComparison.Ordinal);
        Assert.Equal(600_000, health.EstimatedCapacity.DailyUsers);
    }
}
