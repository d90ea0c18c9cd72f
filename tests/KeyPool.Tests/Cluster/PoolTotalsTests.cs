using System.Text.Json;
using KeyPool.Tests.Infrastructure;
using Xunit.Abstractions;

namespace KeyPool.Tests.Cluster;

/// <summary>
/// Three real instances on one PostgreSQL and one Redis: whichever instance is asked, health shows the pool's totals,
/// equal to what the upstream served once the instances have flushed (about a second), also after an instance restarts.
/// </summary>
public sealed class PoolTotalsTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ClusterTestBed _bed = null!;

    public async Task InitializeAsync() => _bed = await ClusterTestBed.StartAsync(instances: 3, keys: 3);

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Fact]
    public async Task Health_OnEveryInstance_ShowsThePoolsTotals_EqualToWhatTheUpstreamServed_AlsoAfterARestart()
    {
        await SendAsync(12, "first");
        var first = await WaitForAgreementAsync();
        output.WriteLine($"after 12 requests: every instance showed {_bed.UpstreamChatAttempts} within {ClusterTestBed.Seconds(first)} of the last answer");

        // Instance 1 stops (its last flush goes to the store) and starts again on an empty memory.
        Assert.True(await _bed.TerminateAsync(1, TimeSpan.FromSeconds(60)), "instance 1 did not stop within 60 s");
        await _bed.StartInstanceAsync(1);
        await SendAsync(9, "second");
        var second = await WaitForAgreementAsync();
        output.WriteLine($"after a restart and 9 more: every instance showed {_bed.UpstreamChatAttempts} within {ClusterTestBed.Seconds(second)}");

        var health = await ClusterTestBed.HealthAsync(_bed.Instance(2).Http);
        var pool = health.GetProperty("pool");
        Assert.Equal("store + this instance's unflushed usage", pool.GetProperty("totals_source").GetString());
        Assert.True(pool.GetProperty("totals_as_of").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddSeconds(-30));
        Assert.False(pool.TryGetProperty("totals_stale_since", out var stale) && stale.ValueKind != JsonValueKind.Null);
        // This instance's own figures are apart, and differ from the pool's.
        Assert.True(health.GetProperty("instance").GetProperty("requests_since_start").GetInt64() < 21);
    }

    private async Task SendAsync(int count, string prefix)
    {
        for (var i = 0; i < count; i++)
        {
            var (status, body) = await ClusterTestBed.SendChatAsync(_bed.Instance(i % 3).Http, $"{prefix}-user-{i}", stream: i % 2 == 1);
            Assert.True(status == 200, $"request {i} answered {status}: {body}");
        }
    }

    /// <summary>
    /// Waits until every instance's health shows what the upstream served (the promise is about a second: the flush
    /// interval plus the read after it; the bound is generous for a loaded machine), then checks they all agree.
    /// </summary>
    private async Task<TimeSpan?> WaitForAgreementAsync()
    {
        var served = _bed.UpstreamChatAttempts;
        var shown = new long[3];
        var took = await Poll.TimeUntilAsync(async () =>
        {
            for (var i = 0; i < 3; i++)
            {
                shown[i] = ClusterTestBed.TotalRequests(await ClusterTestBed.HealthAsync(_bed.Instance(i).Http));
            }
            return shown.All(s => s == served) && await _bed.StoredRequestsAsync() == served;
        }, TimeSpan.FromSeconds(15));
        Assert.True(took is not null, $"the upstream served {served}; the instances showed {string.Join(", ", shown)}");
        return took;
    }
}
