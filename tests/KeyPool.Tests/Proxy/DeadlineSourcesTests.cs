using KeyPool.Proxy;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Tests.Proxy;

public sealed class DeadlineSourcesTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Rent_FiresAtTheDeadline_OnTheGatewaysClock()
    {
        var deadlines = new DeadlineSources(_time);
        using var lease = deadlines.Rent(TimeSpan.FromMinutes(15), CancellationToken.None);

        _time.Advance(TimeSpan.FromMinutes(15) - TimeSpan.FromTicks(1));
        Assert.False(lease.Token.IsCancellationRequested);
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.True(lease.Token.IsCancellationRequested);
    }

    [Fact]
    public void Rent_FiresWhenTheClientLeaves()
    {
        var deadlines = new DeadlineSources(_time);
        using var client = new CancellationTokenSource();
        using var lease = deadlines.Rent(TimeSpan.FromMinutes(15), client.Token);

        client.Cancel();

        Assert.True(lease.Token.IsCancellationRequested);
    }

    [Fact]
    public void Return_AResetSourceIsReused_WithoutTheOldDeadline()
    {
        var deadlines = new DeadlineSources(_time);
        CancellationToken first;
        using (var lease = deadlines.Rent(TimeSpan.FromSeconds(1), CancellationToken.None))
        {
            first = lease.Token;
        }
        using var second = deadlines.Rent(TimeSpan.FromSeconds(10), CancellationToken.None);

        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.False(second.Token.IsCancellationRequested);
        Assert.False(first.IsCancellationRequested);
    }
}
