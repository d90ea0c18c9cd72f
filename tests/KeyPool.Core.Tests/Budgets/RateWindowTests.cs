using KeyPool.Core.Budgets;

namespace KeyPool.Core.Tests.Budgets;

public sealed class RateWindowTests
{
    private static RateWindow Window(int rpm = 120, long tpm = 1_000_000, int burst = 1) => new(new BudgetLimits(rpm, tpm, burst));

    [Fact]
    public void TryAcquire_OneSecondBurst_IsASixtiethOfTheMinute()
    {
        var window = Window(rpm: 120); // 2 per second

        Assert.True(window.TryAcquire(100, 1));
        Assert.True(window.TryAcquire(100, 1));
        Assert.False(window.TryAcquire(100, 1));
        Assert.True(window.TryAcquire(101, 1));
    }

    [Fact]
    public void Reserved_CountsOpenReservations_UntilEachIsSettledOnce()
    {
        var window = Window(rpm: 600);

        Assert.True(window.TryAcquire(100, 300));
        Assert.True(window.TryAcquire(100, 200));
        Assert.Equal((2L, 500L), window.Reserved);

        window.Settle(100, 300, 120); // what it really cost does not change what was held
        Assert.Equal((1L, 200L), window.Reserved);
        window.Settle(130, 200, 0); // settled late, or refused by the upstream
        Assert.Equal((0L, 0L), window.Reserved);
    }

    [Fact]
    public void TryAcquire_MinuteBudget_NeverExceededOverAnySixtySeconds()
    {
        var window = Window(rpm: 120);
        var admitted = new List<long>();
        for (var second = 0L; second < 300; second++)
        {
            for (var i = 0; i < 10; i++)
            {
                if (window.TryAcquire(second, 1))
                {
                    admitted.Add(second);
                }
            }
        }

        // Any 60-second span (the upstream's window) holds at most 120.
        for (var start = 0L; start < 300; start++)
        {
            Assert.True(admitted.Count(s => s >= start && s < start + 60) <= 120);
        }
        Assert.True(admitted.Count >= 590, $"admitted {admitted.Count}: the budget should be used, not wasted");
    }

    [Fact]
    public void TryAcquire_FullMinute_FreesWhenTheOldestSecondLeaves()
    {
        var window = Window(rpm: 60); // 1 per second
        for (var s = 0L; s < 60; s++)
        {
            Assert.True(window.TryAcquire(s, 1));
        }

        Assert.False(window.TryAcquire(60, 1));
        Assert.Equal(1, window.SecondsUntilFree(60));
        Assert.True(window.TryAcquire(61, 1)); // second 0 left the 61-bucket window
    }

    [Fact]
    public void TryAcquire_Tokens_PerMinuteAndPerSecond()
    {
        var window = Window(rpm: 6000, tpm: 6000); // 100 tokens a second

        Assert.True(window.TryAcquire(0, 80));
        Assert.False(window.TryAcquire(0, 30));
        Assert.True(window.TryAcquire(1, 30));
        Assert.True(window.TryAcquire(2, 5000)); // a big request passes into an empty second
    }

    [Fact]
    public void Settle_ReplacesTheReservation()
    {
        var window = Window();
        window.TryAcquire(10, 1000);

        window.Settle(10, 1000, 250);

        Assert.Equal((1, 250), window.Used(10));
    }

    [Fact]
    public void Settle_AfterTheWindowMoved_DoesNothing()
    {
        var window = Window();
        window.TryAcquire(10, 1000);
        window.Used(200);

        window.Settle(10, 1000, 5000);

        Assert.Equal((0, 0), window.Used(200));
    }

    [Fact]
    public void Observe_UpstreamHasLessLeft_ChargesTheDifference()
    {
        var window = Window(rpm: 120, tpm: 1000);
        window.TryAcquire(5, 10);

        window.Observe(5, remainingRequests: 20, remainingTokens: 490);

        Assert.Equal((100, 510), window.Used(5));
    }

    [Fact]
    public void Observe_UpstreamHasNoneLeft_TheWindowIsFull()
    {
        var window = Window(rpm: 600);
        window.TryAcquire(5, 10);

        window.Observe(5, remainingRequests: 0, remainingTokens: null);

        Assert.Equal(0, window.Headroom(5));
        Assert.False(window.TryAcquire(6, 1));
    }

    [Fact]
    public void Observe_UpstreamHasMoreLeft_ChangesNothing()
    {
        var window = Window();
        window.TryAcquire(5, 10);
        window.TryAcquire(5, 10);

        window.Observe(5, 10_000, 10_000_000);

        Assert.Equal((2, 20), window.Used(5));
    }

    [Fact]
    public void Observe_AnAnswerWrittenWhileRequestsLeft_IsComparedWithTheWindowTheUpstreamCountedIn()
    {
        // One request a second for a minute: full. At 61 the first one has left and a request takes its place; the
        // upstream, full again, says 0 left. The answer comes at 66, when five more have left here and there.
        RateWindow Full()
        {
            var window = Window(rpm: 60);
            for (var second = 0; second < 60; second++)
            {
                Assert.True(window.TryAcquire(second, 10));
            }
            Assert.True(window.TryAcquire(61, 10));
            return window;
        }
        var compared = Full();
        var readNow = Full();

        compared.Observe(66, remainingRequests: 0, remainingTokens: null, countedAt: 61);
        readNow.Observe(66, remainingRequests: 0, remainingTokens: null);

        Assert.Equal(55, compared.Used(66).Requests); // what left while the answer was written is free
        Assert.Equal(60, readNow.Used(66).Requests); // read against now, the five were charged again for a minute
    }

    [Fact]
    public void Observe_UsageElsewhereBeforeTheRequest_IsChargedToTheSecondTheUpstreamCountedIt()
    {
        var window = Window(rpm: 60);
        for (var second = 0; second < 30; second++)
        {
            window.TryAcquire(second, 10);
        }
        Assert.True(window.TryAcquire(40, 10)); // 31 here; the upstream counts 40: 9 came from elsewhere

        window.Observe(45, remainingRequests: 20, remainingTokens: null, countedAt: 40);

        Assert.Equal(40, window.Used(45).Requests);
        Assert.Equal(10, window.Used(100).Requests); // the request of 40 and the 9 counted with it
        Assert.Equal(0, window.Used(101).Requests); // leave together, a minute after the upstream counted them
    }

    [Fact]
    public void Observe_CountedLongerAgoThanTheWindowRemembers_IsComparedWithNow()
    {
        var window = Window(rpm: 60);
        window.TryAcquire(0, 10);

        window.Observe(70, remainingRequests: 50, remainingTokens: null, countedAt: 5);

        Assert.Equal(10, window.Used(70).Requests);
    }

    [Fact]
    public void Headroom_FallsAsTheBudgetFills()
    {
        var window = Window(rpm: 600); // 10 per second

        Assert.Equal(1, window.Headroom(0));
        for (var i = 0; i < 5; i++)
        {
            window.TryAcquire(0, 1);
        }

        Assert.Equal(0.5, window.Headroom(0), 3);
    }

    [Fact]
    public void TryAcquire_DefaultBurst_A480RpmTeamTakesAtLeast40AtOnce_ThenTheRefillRate()
    {
        var window = new RateWindow(new BudgetLimits(480, 2_000_000));
        var burst = 0;
        while (window.TryAcquire(0, 100))
        {
            burst++;
        }

        Assert.True(burst >= 40, $"burst {burst}");
        Assert.Equal(new BudgetLimits(480, 2_000_000).BurstRequests, burst);
        Assert.Equal(8, Enumerable.Range(0, 20).Count(_ => window.TryAcquire(1, 100))); // then 480/60 a second
    }

    [Fact]
    public void TryAcquire_LightLoad_TwoRequestsInOneSecond_BothFit_AtRpm30()
    {
        var window = new RateWindow(new BudgetLimits(30, 2_000_000)); // the case that spilled with a per-second cap of 1
        for (var second = 0L; second < 80; second += 10)
        {
            Assert.True(window.TryAcquire(second, 100));
            Assert.True(window.TryAcquire(second, 100));
        }
    }

    [Fact]
    public void TryAcquire_BurstsNeverPassTheMinute_OverAnySixtySeconds()
    {
        var window = Window(rpm: 120, burst: 60); // the whole minute may come at once, but never more
        var admitted = new List<long>();
        var random = new Random(3);
        for (var second = 0L; second < 600; second++)
        {
            var offered = random.Next(4) == 0 ? random.Next(200) : random.Next(3);
            for (var i = 0; i < offered; i++)
            {
                if (window.TryAcquire(second, 1))
                {
                    admitted.Add(second);
                }
            }
        }

        for (var start = 0L; start < 600; start++)
        {
            Assert.True(admitted.Count(s => s >= start && s < start + 60) <= 120);
        }
    }

    [Fact]
    public void TightenBurst_RefusedWithRoomLeft_HalvesTheBurst_DownToOne()
    {
        var window = new RateWindow(new BudgetLimits(480, 2_000_000, 10)); // burst 80

        Assert.True(window.TightenBurst(0, remainingRequests: 300, remainingTokens: 1_000_000));
        Assert.Equal(40, window.BurstRequests);
        Assert.Equal(40, Enumerable.Range(0, 100).Count(_ => window.TryAcquire(0, 1)));
        for (var i = 0; i < 10; i++)
        {
            window.TightenBurst(1, 300, null);
        }
        Assert.Equal(1, window.BurstRequests);
        Assert.False(window.TightenBurst(2, 300, null)); // nothing left to tighten
        Assert.Equal(6, window.Tightenings);
    }

    [Fact]
    public void TightenBurst_RefusedWithTheMinuteSpent_OrWithoutFigures_ChangesNothing()
    {
        var window = new RateWindow(new BudgetLimits(480, 2_000_000, 10));

        Assert.False(window.TightenBurst(0, remainingRequests: 0, remainingTokens: 1_000));
        Assert.False(window.TightenBurst(0, remainingRequests: 10, remainingTokens: 0));
        Assert.False(window.TightenBurst(0, null, null));
        Assert.Equal(80, window.BurstRequests);
        Assert.Equal(0, window.Tightenings);
    }

    [Fact]
    public void ForecastRequests_MatchesWhatGreedyAdmissionGets()
    {
        var forecast = Window(rpm: 60, burst: 10);
        var actual = Window(rpm: 60, burst: 10);
        for (var s = 0L; s < 30; s++)
        {
            forecast.TryAcquire(s, 1);
            actual.TryAcquire(s, 1);
        }

        var perSecond = new int[200];
        forecast.ForecastRequests(30, perSecond);

        for (var i = 0; i < perSecond.Length; i++)
        {
            var got = 0;
            while (actual.TryAcquire(30 + i, 1))
            {
                got++;
            }
            Assert.Equal(got, perSecond[i]);
        }
        Assert.Equal(0, forecast.Used(30).Requests - 30); // the forecast did not charge the window
    }

    [Fact]
    public void SecondsUntilFree_BucketEmpty_IsTheRefillTime()
    {
        var window = new RateWindow(new BudgetLimits(20, 2_000_000, 3)); // burst 1, one request every 3 s

        Assert.True(window.TryAcquire(0, 1));

        Assert.False(window.TryAcquire(1, 1));
        Assert.Equal(2, window.SecondsUntilFree(1));
        Assert.True(window.TryAcquire(3, 1));
    }

    [Fact]
    public void TokenEstimate_PromptBytesPlusMaxTokens()
    {
        var options = new BudgetOptions();

        Assert.Equal(400 / 4 + 50, TokenEstimate.Reserve(400, 50, options));
        Assert.Equal(400 / 4 + 1024, TokenEstimate.Reserve(400, null, options));
    }

    [Fact]
    public void TryAcquire_OverShare_LeavesTheLastSecondsWorthToOthers()
    {
        var window = Window(rpm: 60, burst: 60); // the whole minute may go at once
        for (var i = 0; i < 58; i++)
        {
            Assert.True(window.TryAcquire(100, 1));
        }

        Assert.False(window.TryAcquire(100, 1, overShare: true)); // 2 left: taking one would leave less than a second's worth
        Assert.True(window.TryAcquire(100, 1));
        Assert.True(window.TryAcquire(100, 1));
    }

    [Fact]
    public void TryAcquire_OverShare_KeepsWhatTheOthersNeedUntilTheWindowFrees()
    {
        var window = Window(rpm: 60, burst: 60);
        for (var second = 100; second < 130; second++)
        {
            Assert.True(window.TryAcquire(second, 1)); // the others: one a second for 30 s
        }

        // 30 free, but nothing leaves the window before second 161: the others' pace needs all of it and more.
        Assert.False(window.TryAcquire(130, 1, overShare: true));
        Assert.True(window.TryAcquire(130, 1));
        // When the window frees as fast as the others spend, an over-share user takes what is beyond a second's worth.
        for (var second = 131; second < 200; second += 2)
        {
            Assert.True(window.TryAcquire(second, 1)); // now one every other second
        }
        Assert.True(window.TryAcquire(200, 1, overShare: true));
    }
}
