using KeyPool.Core.Cluster;

namespace KeyPool.Core.Tests.Cluster;

public sealed class SpendLogTests
{
    [Fact]
    public void Granted_IsKnownToTheLedger_GiveBacksAndFallbackSpendsAreOwed()
    {
        var log = new SpendLog();
        log.Granted(100, 5, 500);
        log.Spent(100, -2, -200); // two requests of the lease not spent
        log.Spent(101, 1, 80);    // spent on the fallback

        Assert.True(log.Owes(101));
        Assert.Equal([(100L, -2L, -200L), (101L, 1L, 80L)], log.TakeOwed(101).OrderBy(o => o.Second));
        Assert.False(log.Owes(101));
        Assert.Empty(log.TakeOwed(101));
        Assert.Equal((3, 300), log.SpentAt(100));
    }

    [Fact]
    public void Unwrite_AfterAFailedWrite_IsOwedAgain()
    {
        var log = new SpendLog();
        log.Spent(100, 1, 10);
        var owed = Assert.Single(log.TakeOwed(100));

        log.Unwrite(owed.Second, owed.Requests, owed.Tokens);

        Assert.Equal([(100L, 1L, 10L)], log.TakeOwed(100));
    }

    [Fact]
    public void LedgerLost_EverythingSpentInTheLastMinuteIsOwedAgain_OlderSecondsAreNot()
    {
        var log = new SpendLog();
        log.Granted(10, 1, 100);   // long out of every window by second 100
        log.Granted(40, 2, 200);
        log.Granted(99, 3, 300);
        log.Spent(99, -1, -100);
        log.TakeOwed(99);

        log.LedgerLost();

        Assert.Equal([(40L, 2L, 200L), (99L, 2L, 200L)], log.TakeOwed(100).OrderBy(o => o.Second));
    }
}
