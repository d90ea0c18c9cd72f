using KeyPool.Core.Cluster;

namespace KeyPool.Core.Tests.Cluster;

public sealed class ClusterOptionsTests
{
    [Fact]
    public void Problems_Defaults_None()
    {
        Assert.Empty(new ClusterOptions().Problems());
    }

    [Fact]
    public void Problems_ListsEveryBadValue_WithItsSetting()
    {
        var options = new ClusterOptions
        {
            Instances = -1,
            LeaseInterval = TimeSpan.FromSeconds(5),
            HeartbeatInterval = TimeSpan.FromSeconds(2),
            HeartbeatTimeout = TimeSpan.FromSeconds(1),
            Prefix = "two words",
        };

        var problems = options.Problems();

        Assert.Equal(4, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("KeyPool:Cluster:Instances", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("KeyPool:Cluster:LeaseInterval", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("KeyPool:Cluster:HeartbeatTimeout", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("KeyPool:Cluster:Prefix", StringComparison.Ordinal));
    }

    [Fact]
    public void ResolveInstanceId_ConfiguredWins_ElseUniquePerCall()
    {
        Assert.Equal("web-1", new ClusterOptions { InstanceId = "web-1" }.ResolveInstanceId());
        Assert.NotEqual(new ClusterOptions().ResolveInstanceId(), new ClusterOptions().ResolveInstanceId());
    }
}
