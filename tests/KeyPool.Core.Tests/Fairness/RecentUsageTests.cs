using KeyPool.Core.Fairness;

namespace KeyPool.Core.Tests.Fairness;

public sealed class RecentUsageTests
{
    private const long Start = 1_800_000_000 - (1_800_000_000 % RecentUsage.EpochSeconds); // an epoch's first second

    [Fact]
    public void Of_CountsTheUsersRequests_AndForgetsThemAfterTwoEpochs()
    {
        var usage = new RecentUsage();
        var alice = FairShare.Hash("alice");
        for (var i = 0; i < 5; i++)
        {
            usage.Record(alice, 1, Start);
        }

        Assert.Equal(5, usage.Of(alice, Start));
        Assert.Equal(0, usage.Of(FairShare.Hash("bob"), Start));
        Assert.Equal(2.5, usage.Of(alice, Start + RecentUsage.EpochSeconds + (RecentUsage.EpochSeconds / 2))); // half of the last epoch still counts
        Assert.Equal(0, usage.Of(alice, Start + (2 * RecentUsage.EpochSeconds)));
    }

    [Fact]
    public void AverageAt_IsPerActiveUser_EstimatedWithoutAListOfUsers()
    {
        var usage = new RecentUsage();
        for (var user = 0; user < 1_000; user++)
        {
            usage.Record(FairShare.Hash($"user-{user}"), user % 2 == 0 ? 1 : 3, Start);
        }

        var (perUser, users) = usage.AverageAt(Start);

        Assert.InRange(users, 970, 1_030);
        Assert.InRange(perUser, 1.94, 2.06);
    }

    [Fact]
    public void Memory_IsFixed_WhateverTheNumberOfUsers()
    {
        var usage = new RecentUsage();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var user = 0; user < 100_000; user++)
        {
            usage.Record(user * 7919, 1, Start);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
