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

        Assert.Equal(5, usage.Of(alice, Start), precision: 3);
        Assert.Equal(0, usage.Of(FairShare.Hash("bob"), Start), precision: 3);
        Assert.Equal(2.5, usage.Of(alice, Start + RecentUsage.EpochSeconds + (RecentUsage.EpochSeconds / 2)), precision: 3); // half of the last epoch still counts
        Assert.Equal(0, usage.Of(alice, Start + (2 * RecentUsage.EpochSeconds)), precision: 3);
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
        usage.Record(1, 1, Start);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var user = 0; user < 100_000; user++)
        {
            usage.Record(user * 7919, 1, Start);
        }

        // Nothing per user (100,000 entries would be megabytes); the runtime itself may allocate a little (tiering).
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 64 * 1024);
    }

    [Fact]
    public void TwentyThousandActiveUsers_OnlyTheHeavyOneIsOverItsShare()
    {
        var fairness = new FairShare();
        var limits = new KeyPool.Core.Budgets.BudgetLimits(480, 2_000_000);
        for (var round = 0; round < 2; round++)
        {
            for (var user = 0; user < 20_000; user++)
            {
                fairness.Record(FairShare.Hash($"user-{user}"), limits, 1_000, Start);
            }
        }
        for (var i = 0; i < 40; i++)
        {
            fairness.Record(FairShare.Hash("script"), limits, 1_000, Start);
        }

        var flagged = Enumerable.Range(0, 20_000).Count(user => fairness.IsHeavy($"user-{user}", Start));

        Assert.True(fairness.IsHeavy("script", Start));
        Assert.True(flagged < 20, $"{flagged} of 20,000 light users taken for heavy");
    }
}
