using KeyPool.Core.Users;

namespace KeyPool.Core.Tests.Users;

public sealed class RebalancePlanTests
{
    [Fact]
    public void For_RemovedGroupMovesFirst_AndAllOfIt()
    {
        var counts = new Dictionary<int, long> { [1] = 10, [2] = 10, [3] = 10 };

        var plan = RebalancePlan.For(counts, [1, 2]);

        Assert.Equal(10, plan.Moves);
        Assert.Equal(10, plan.Give[3]);
        Assert.Equal((5, 5), (plan.Take[1], plan.Take[2]));
        Assert.Equal(3, plan.GiveOrder[0]);
    }

    [Fact]
    public void For_AlreadyBalanced_MovesNobody()
    {
        var plan = RebalancePlan.For(new Dictionary<int, long> { [1] = 4, [2] = 3, [3] = 4 }, [1, 2, 3]);

        Assert.Equal(0, plan.Moves);
    }

    [Fact]
    public void For_NewEmptyGroups_TakeJustEnough_ResultWithinOne()
    {
        var counts = new Dictionary<int, long> { [1] = 100, [2] = 101 };

        var plan = RebalancePlan.For(counts, [1, 2, 3, 4]);

        var after = new[] { 1, 2, 3, 4 }.Select(g => counts.GetValueOrDefault(g) - plan.Give.GetValueOrDefault(g) + plan.Take.GetValueOrDefault(g)).ToArray();
        Assert.True(after.Max() - after.Min() <= 1);
        Assert.Equal(201, after.Sum());
        Assert.Equal(plan.Give.Values.Sum(), plan.Take.Values.Sum());
        Assert.Equal(100 - 50 + 101 - 51, plan.Moves); // the extra user stays on the fuller group
    }

    [Fact]
    public void For_IsTheFewestMoves()
    {
        var counts = new Dictionary<int, long> { [1] = 7, [2] = 1, [3] = 1 };

        Assert.Equal(4, RebalancePlan.For(counts, [1, 2, 3]).Moves); // 7,1,1 → 3,3,3
    }
}
