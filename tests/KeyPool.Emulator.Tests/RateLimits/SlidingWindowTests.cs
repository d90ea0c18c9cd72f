using KeyPool.Emulator.RateLimits;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Emulator.Tests.RateLimits;

public sealed class SlidingWindowTests
{
    [Fact]
    public void TryAdmit_EntriesLeaveOneByOne()
    {
        var time = new FakeTimeProvider();
        var window = new SlidingWindow(time);

        Assert.True(window.TryAdmit(10, 2, 1000).Admitted);
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(window.TryAdmit(10, 2, 1000).Admitted);
        var full = window.TryAdmit(10, 2, 1000);
        time.Advance(TimeSpan.FromSeconds(30));
        var freed = window.TryAdmit(10, 2, 1000);
        var fullAgain = window.TryAdmit(10, 2, 1000);

        Assert.Equal(RateLimitKind.Requests, full.Exceeded);
        Assert.Equal(TimeSpan.FromSeconds(30), full.ResetRequests);
        Assert.True(freed.Admitted);
        Assert.Equal(0, freed.RemainingRequests);
        Assert.Equal(980, freed.RemainingTokens);
        Assert.False(fullAgain.Admitted);
    }
}
