using KeyPool.Core.Simulation;

namespace KeyPool.Core.Tests.Simulation;

public sealed class PoolSimulatorTests
{
    private static readonly double[] Flat = Enumerable.Repeat(1.0, 24).ToArray();

    /// <summary>Single-message sessions at a constant <paramref name="perSecond"/> (users × 1 session a day).</summary>
    private static TrafficProfile Constant(double perSecond, int tokens = 100) => new()
    {
        Users = (long)(perSecond * 86_400),
        SessionsPerUserPerDay = 1,
        MessagesPerSession = 1,
        TokensPerMessage = tokens,
        TokensSigma = 0,
        HourlyCurve = Flat,
    };

    [Fact]
    public void OneKey_OfferedExactlyWhatItCarries_NothingRefusedOrDelayed_PeakIsTheLimit()
    {
        // KeyPool's window is 61 one-second buckets (a request's second is all it knows, and the upstream counts
        // exactly 60 s), so a key carries RPM requests per 61 s: at RPM 61, exactly one a second.
        var result = PoolSimulator.Run(new PoolModel { Keys = 1, RequestsPerMinute = 61 }, Constant(1), seconds: 3_600, evenArrivals: true);

        Assert.Equal(3_600, result.Requests);
        Assert.Equal((0L, 0L), (result.Refused, result.Delayed));
        Assert.Equal(60, result.PeakRpmPerKey.Single()); // one a second: 60 in every clock minute
        Assert.Equal(6_000, result.PeakTpmPerKey.Single());
        Assert.Equal((0, 0), (result.WaitP50Seconds, result.WaitP99Seconds));
    }

    [Fact]
    public void OneKey_OfferedItsNominalLimit_FallsBehindBy1In61_NeverPastTheLimit()
    {
        var result = PoolSimulator.Run(new PoolModel { Keys = 1, RequestsPerMinute = 60 }, Constant(1), seconds: 3_600, evenArrivals: true);

        Assert.InRange(result.Immediate + result.Delayed, (3_600 * 60 / 61) - 2, (3_600 * 60 / 61) + 60); // 60 per 61 s, plus the last minute
        Assert.Equal(60, result.PeakRpmPerKey.Single());
    }

    [Fact]
    public void Pool_AtTwiceItsCapacity_RefusesAboutHalf()
    {
        var result = PoolSimulator.Run(new PoolModel { Keys = 4, RequestsPerMinute = 60 }, Constant(8), seconds: 3_600);

        Assert.InRange(result.RefusedRatio, 0.47, 0.53);
        Assert.All(result.PeakRpmPerKey, peak => Assert.True(peak <= 60, $"peak {peak}")); // never past the limit
    }

    [Fact]
    public void TokenLimit_Binds_WhenMessagesAreLarge()
    {
        // 1 request a second of 2,000 tokens against 60,000 TPM: the token budget carries half.
        var result = PoolSimulator.Run(new PoolModel { Keys = 1, RequestsPerMinute = 600, TokensPerMinute = 60_000, MaxQueueWaitSeconds = 0 }, Constant(1, tokens: 2_000), seconds: 3_600, evenArrivals: true);

        Assert.InRange(result.RefusedRatio, 0.47, 0.53);
        Assert.True(result.PeakTpmPerKey.Single() <= 60_000);
    }

    [Fact]
    public void HalfLoad_WithSessions_StaysSticky_NothingRefused()
    {
        var traffic = new TrafficProfile { Users = 20_000, SessionsPerUserPerDay = 2, MessagesPerSession = 6, ThinkSeconds = 30, HourlyCurve = Flat };

        var result = PoolSimulator.Run(new PoolModel { Keys = 4, RequestsPerMinute = 480 }, traffic); // ≈ 167 RPM offered of 1,920

        Assert.Equal(0, result.Refused);
        Assert.True(result.StickyRatio >= 0.999, $"sticky {result.StickyRatio}");
        Assert.InRange(result.Requests, 200_000, 280_000);
    }

    [Fact]
    public void SameSeed_SameRun()
    {
        var traffic = new TrafficProfile { Users = 50_000 };
        var pool = new PoolModel { Keys = 2 };

        var a = PoolSimulator.Run(pool, traffic, seconds: 7_200, seed: 9);
        var b = PoolSimulator.Run(pool, traffic, seconds: 7_200, seed: 9);

        Assert.Equal((a.Requests, a.Refused, a.Delayed, a.Spills), (b.Requests, b.Refused, b.Delayed, b.Spills));
    }

    [Fact]
    public void SmallestKeyCount_IsTheFirstCountUnderTheTarget()
    {
        var traffic = Constant(10); // 600 RPM offered, constant
        var pool = new PoolModel { RequestsPerMinute = 60 };

        var found = PoolSimulator.SmallestKeyCount(pool, traffic, targetRefused: 0.001, seconds: 1_800);

        Assert.NotNull(found);
        Assert.Equal(11, found.Value.Keys); // 10 keys carry 10 × 60 per 61 s: just short of 600 a minute
        Assert.True(PoolSimulator.Run(new PoolModel { Keys = 10, RequestsPerMinute = 60 }, traffic, seconds: 1_800).RefusedRatio > 0.001);
    }

    [Fact]
    public void Problems_ListEveryBadSetting()
    {
        var problems = new TrafficProfile { Users = 0, MessagesPerSession = 0, HourlyCurve = [1] }.Problems();

        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("users", StringComparison.Ordinal));
        Assert.Single(new PoolModel { Keys = 0 }.Problems());
    }
}
