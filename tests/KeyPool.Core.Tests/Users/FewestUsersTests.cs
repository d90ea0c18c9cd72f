using KeyPool.Core.Users;

namespace KeyPool.Core.Tests.Users;

public sealed class FewestUsersTests
{
    [Fact]
    public void Pick_FewestUsers()
    {
        var counts = new Dictionary<int, long> { [1] = 5, [2] = 3, [3] = 4 };

        Assert.Equal(2, FewestUsers.Pick([1, 2, 3], g => counts[g]));
    }

    [Fact]
    public void Pick_TiesGoToTheLowestGroup_RegardlessOfOrder()
    {
        var counts = new Dictionary<int, long> { [4] = 2, [9] = 1, [7] = 1 };

        Assert.Equal(7, FewestUsers.Pick([9, 4, 7], g => counts[g]));
    }

    [Fact]
    public void Pick_OnlyAvailableGroups_MissingCountIsZero()
    {
        var counts = new Dictionary<int, long> { [1] = 10, [3] = 0 };

        Assert.Equal(2, FewestUsers.Pick([1, 2], g => counts.GetValueOrDefault(g)));
    }

    [Fact]
    public void Pick_NoGroups_Throws() => Assert.Throws<InvalidOperationException>(() => FewestUsers.Pick([], _ => 0));

    [Fact]
    public void Pick_RepeatedAssignments_StayWithinOne()
    {
        var counts = new long[32];
        int[] groups = [.. Enumerable.Range(1, 31)];
        for (var i = 0; i < 10_000; i++)
        {
            counts[FewestUsers.Pick(groups, g => counts[g])]++;
        }

        Assert.True(counts.Skip(1).Max() - counts.Skip(1).Min() <= 1);
    }
}
