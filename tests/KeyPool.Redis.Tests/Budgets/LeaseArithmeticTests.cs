using KeyPool.Core.Budgets;
using KeyPool.Core.Keys;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Requests;
using KeyPool.Redis.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Redis.Tests.Budgets;

/// <summary>
/// Three instances' routers share one key's budget through a real Redis, on one fake clock, under an offered
/// load far above the limit: the sum of what they admit never passes the limit in any sliding minute or second,
/// and most of the budget is used.
/// </summary>
public sealed class LeaseArithmeticTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private const int Rpm = 590;          // 10 per second: 60 full seconds would pass the minute
    private const long Tpm = 3_000_000;
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(50);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));
    private readonly List<Instance> _instances = [];
    private readonly Dictionary<long, (long Requests, long Tokens)> _admitted = [];
    private readonly string _prefix = $"kp{Guid.NewGuid():N}"[..12];

    public async Task InitializeAsync()
    {
        var ring = new KeyRing([new UpstreamKey(1, "xai-lease-test-key-000000000001")]);
        for (var i = 0; i < 3; i++)
        {
            _instances.Add(await Instance.StartAsync(redis.Server.ConnectionString, _prefix, $"i{i}", _time,
                new BudgetOptions { RequestsPerMinute = Rpm, TokensPerMinute = Tpm }, ring));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var instance in _instances)
        {
            await instance.DisposeAsync();
        }
        await redis.Server.StartAgainAsync(); // a test that stopped it leaves it running for the next
    }

    [Fact]
    public async Task Lease_ThreeInstancesOverloaded_NeverPassTheLimit_AndUseMostOfIt()
    {
        var perInstance = await RunAsync(seconds: 90, offeredPerStep: 2);

        AssertWithinLimits();
        // Once warmed up, the pool uses most of its minute: leases are not wasted.
        var lastMinute = Enumerable.Range(0, 60).Sum(back => _admitted.GetValueOrDefault(Second - 1 - back).Requests);
        Assert.InRange(lastMinute, Rpm * 8 / 10, Rpm);
        // Every instance gets a fair part, none starves.
        Assert.All(perInstance, count => Assert.InRange(count, lastMinute / 6, lastMinute));
    }

    [Fact]
    public async Task Lease_RedisStoppedAndRestarted_FallsBackToAThird_ThenResynchronises_NeverPassingTheLimit()
    {
        await RunAsync(seconds: 20, offeredPerStep: 2);
        Assert.All(_instances, i => Assert.Equal(3, i.Budgets.Health.Instances));

        await redis.Server.StopAsync();
        var beforeOutage = Second;
        await RunAsync(seconds: 30, offeredPerStep: 2);

        Assert.All(_instances, i => Assert.Contains("Redis unreachable", i.Budgets.Health.DegradedReason));
        Assert.All(_instances, i => Assert.All(i.Budgets.All, b => Assert.True(b.OnFallback)));
        // Each instance served at most a third of the budget per minute during the outage.
        var outageMinute = Enumerable.Range(0, 60).Sum(back => _admitted.GetValueOrDefault(Second - 1 - back).Requests);
        Assert.True(outageMinute <= Rpm, $"{outageMinute} requests in the minute across the outage");
        Assert.True(Enumerable.Range(0, 25).Sum(back => _admitted.GetValueOrDefault(Second - 1 - back).Requests) > 0, "the fallback kept serving");

        await redis.Server.StartAgainAsync(); // empty: it had no persistence
        await WaitUntilAsync(() => _instances.All(i => i.Connection.IsConnected));
        await RunAsync(seconds: 40, offeredPerStep: 2);

        Assert.All(_instances, i => Assert.Null(i.Budgets.Health.DegradedReason));
        Assert.All(_instances, i => Assert.All(i.Budgets.All, b => Assert.False(b.OnFallback)));
        Assert.True(Second > beforeOutage);
        AssertWithinLimits();
        var lastMinute = Enumerable.Range(0, 30).Sum(back => _admitted.GetValueOrDefault(Second - 1 - back).Requests);
        Assert.True(lastMinute >= Rpm / 4, $"leasing resumed: {lastMinute} requests in the last 30 s");
    }

    private long Second => _time.GetUtcNow().ToUnixTimeSeconds();

    // Each step: every instance runs its round with the ledger, then is offered requests (more than the budget).
    private async Task<long[]> RunAsync(int seconds, int offeredPerStep)
    {
        var perInstance = new long[_instances.Count];
        var steps = (int)(TimeSpan.FromSeconds(seconds) / Step);
        for (var step = 0; step < steps; step++)
        {
            for (var i = 0; i < _instances.Count; i++)
            {
                var instance = _instances[(i + step) % _instances.Count]; // no instance always first
                await instance.Budgets.RefreshAsync(CancellationToken.None);
                var model = instance.Router.Pool.ModelId("grok-4.3");
                for (var r = 0; r < offeredPerStep; r++)
                {
                    if (instance.Router.TryAdmit(1, model, 1_500) is { } admission)
                    {
                        var budget = new RequestBudget(); // used less than reserved: the rest goes back to the ledger
                        budget.Admit(admission);
                        budget.EndAttempt(new UpstreamOutcome(OutcomeKind.Answered, 200, Tokens: 1_000), admission.Second);
                        budget.Settle();
                        var (requests, tokens) = _admitted.GetValueOrDefault(admission.Second);
                        _admitted[admission.Second] = (requests + 1, tokens + 1_000);
                        perInstance[(i + step) % _instances.Count]++;
                    }
                }
            }
            _time.Advance(Step);
        }
        return perInstance;
    }

    private void AssertWithinLimits()
    {
        var first = _admitted.Keys.Min();
        var last = _admitted.Keys.Max();
        var perSecond = new BudgetLimits(Rpm, Tpm).RequestsPerSecond;
        for (var start = first - 60; start <= last; start++)
        {
            var window = Enumerable.Range(0, 60).Select(k => _admitted.GetValueOrDefault(start + k)).ToArray();
            Assert.True(window.Sum(w => w.Requests) <= Rpm, $"{window.Sum(w => w.Requests)} requests in the minute from {start}");
            Assert.True(window.Sum(w => w.Tokens) <= Tpm, $"{window.Sum(w => w.Tokens)} tokens in the minute from {start}");
        }
        // The 1/N fallback caps each instance at ceil(RPM/N/60) a second, a little above a third of the cap.
        Assert.All(_admitted.Values, v => Assert.True(v.Requests <= perSecond * 3 / 2, $"{v.Requests} requests in one second"));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 15 s");
            await Task.Delay(25);
        }
    }
}
