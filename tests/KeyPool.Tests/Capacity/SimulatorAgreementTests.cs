using System.Globalization;
using KeyPool.Core.Simulation;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Tests.Capacity;

/// <summary>The simulator and the live gateway (emulator, one fake clock) given the same traffic agree on what is served.</summary>
public sealed class SimulatorAgreementTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero));

    [Theory]
    [InlineData(0.7)] // under capacity: everything served, all of it sticky
    [InlineData(1.5)] // over: the budget served, the rest refused
    public async Task SameTraffic_SameServedAndRefused(double load)
    {
        const int keys = 3, rpm = 60, seconds = 120, seed = 7;
        var traffic = new TrafficProfile
        {
            Users = (long)(load * keys * rpm / 60 * 86_400), // single-message sessions at load × capacity
            MessagesPerSession = 1,
            TokensPerMessage = 100,
            TokensSigma = 0,
            HourlyCurve = Enumerable.Repeat(1.0, 24).ToArray(),
        };
        var pool = new PoolModel { Keys = keys, RequestsPerMinute = rpm, MaxQueueWaitSeconds = 0 };
        var simulated = PoolSimulator.Run(pool, traffic, seconds, seed);

        await using var gateway = await GatewayHarness.StartAsync(keys, new Dictionary<string, string?>
        {
            ["KeyPool:Budgets:RequestsPerMinute"] = rpm.ToString(CultureInfo.InvariantCulture),
            ["KeyPool:Routing:MaxQueueWait"] = "00:00:00",
        }, options => options.RequestsPerMinute = rpm, time: _time);
        for (var i = 0; i < keys; i++)
        {
            using var _ = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = $"user-{i}" })); // user-i in group i + 1
        }
        var generator = new TrafficGenerator(traffic, keys, seed); // the sessions the simulator drew, in the same order
        var sessions = new List<Session>();
        int served = 0, refused = 0, sticky = 0;
        for (var t = 0; t < seconds; t++)
        {
            sessions.Clear();
            generator.SessionsAt(t, sessions);
            var answers = await Task.WhenAll(sessions.Select(s => gateway.ChatAsync($"user-{s.Group - 1}")));
            served += answers.Count(a => a.Status == 200);
            refused += answers.Count(a => a.Status == 429);
            _time.Advance(TimeSpan.FromSeconds(1));
        }
        for (var i = 0; i < keys; i++)
        {
            sticky += gateway.GroupsThatServed($"user-{i}").Count(g => g == i + 1);
        }

        output.WriteLine($"load {load}: simulator {simulated.Requests} requests, {simulated.Immediate} served, {simulated.Refused} refused, {simulated.Spills} spills; gateway {served + refused} requests, {served} served, {refused} refused, {served - sticky} spills");
        Assert.Equal(simulated.Requests, served + refused);
        Assert.DoesNotContain(gateway.ChatServed, s => s.Status == 429);
        Assert.InRange(served, simulated.Immediate - (0.01 * simulated.Requests), simulated.Immediate + (0.01 * simulated.Requests));
        if (load < 1)
        {
            Assert.Equal((0L, 0), (simulated.Refused, refused));
            Assert.Equal(simulated.Spills, served - sticky);
        }
    }
}
