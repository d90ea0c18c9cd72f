using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Routing;

/// <summary>A request pinned to one team (a stored object's follow-up) takes only that team's keys, waits for them, or is refused.</summary>
public sealed class PinnedAdmissionTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    // Groups 1 and 2 are team "a", 3 and 4 team "b"; 60 requests a minute per team, a burst of one second's worth.
    private KeyPoolRouter Router(TimeSpan? queue = null)
    {
        var routing = new RoutingOptions { MaxQueueWait = queue ?? TimeSpan.Zero };
        var groups = new Dictionary<int, GroupSettings>
        {
            [1] = new() { Team = "a" }, [2] = new() { Team = "a" }, [3] = new() { Team = "b" }, [4] = new() { Team = "b" },
        };
        var ring = new KeyRing(new[] { 1, 2, 3, 4 }.Select(g => new UpstreamKey(g, $"xai-test-key-{g:D8}")));
        return new KeyPoolRouter(ring, KeySelectionPolicies.Create(routing.Policy, routing, new Random(7))!, routing,
            new BudgetOptions { RequestsPerMinute = 60, TokensPerMinute = 10_000_000, BurstSeconds = 1 }, new KeyHealthOptions(), groups, _time);
    }

    [Fact]
    public void TryAdmit_Pinned_TakesTheTeamsKey_NotTheUsersOwn()
    {
        var router = Router();

        var admission = router.TryAdmit(router.Pool, 1, router.Pool.ModelId("m"), 1, 0, "alice", "b")!.Value;

        Assert.Equal("b", admission.Member.Team);
    }

    [Fact]
    public void TryAdmit_Pinned_UsersOwnKeyOfTheTeam_First()
    {
        var router = Router();

        Assert.Equal(4, router.TryAdmit(router.Pool, 4, router.Pool.ModelId("m"), 1, 0, "alice", "b")!.Value.Member.Group);
    }

    [Fact]
    public void TryAdmit_PinnedTeamFull_IsNull_ThoughOtherTeamsHaveRoom()
    {
        var router = Router();
        var model = router.Pool.ModelId("m");
        Assert.NotNull(router.TryAdmit(router.Pool, 1, model, 1, 0, "bob", "b")); // team b's second is spent

        Assert.Null(router.TryAdmit(router.Pool, 1, model, 1, 0, "alice", "b"));
        Assert.Equal("a", router.TryAdmit(router.Pool, 1, model, 1, 0, "alice")!.Value.Member.Team); // unpinned: spills as usual
    }

    [Fact]
    public void TryAdmit_PinnedTeamKeysRevoked_IsNull()
    {
        var router = Router();
        router.Pool.Find(3)!.Health.Revoke("revoked");
        router.Pool.Find(4)!.Health.Revoke("revoked");

        Assert.Null(router.TryAdmit(router.Pool, 3, router.Pool.ModelId("m"), 1, 0, "alice", "b"));
    }

    [Fact]
    public async Task AdmitAsync_PinnedTeamFull_WaitsForThatTeam_NeverAnother()
    {
        var router = Router(queue: TimeSpan.FromSeconds(2));
        var model = router.Pool.ModelId("m");
        Assert.NotNull(router.TryAdmit(router.Pool, 1, model, 1, 0, "bob", "b"));

        var waiting = router.AdmitAsync(router.Pool, 1, model, 1, 0, "alice", "b", CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted); // team a has room, but it cannot answer for team b's object
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal("b", (await waiting)!.Value.Member.Team);
    }

    [Fact]
    public async Task AdmitAsync_PinnedTeamFullForTheMinute_RefusedAfterTheWait_RetryAfterOfThatTeam()
    {
        var router = Router(queue: TimeSpan.FromSeconds(2));
        var model = router.Pool.ModelId("m");
        // The upstream reports team b's whole minute used: nothing of it frees for about a minute; team a is idle.
        router.Pool.Window(router.Pool.Find(3)!, model).Observe(router.Second, 0, null);

        var waiting = router.AdmitAsync(router.Pool, 1, model, 1, 0, "alice", "b", CancellationToken.None).AsTask();
        _time.Advance(TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Null(await waiting);
        Assert.Equal(1, router.RetryAfterSeconds(router.Pool, model, null)); // the pool has room elsewhere
        Assert.InRange(router.RetryAfterSecondsOnTeam(router.Pool, model, "b"), 50, 61);    // the pinned request does not
    }

    [Fact]
    public async Task AdmitAsync_NoWait_RefusesAtOnce()
    {
        var router = Router();
        var model = router.Pool.ModelId("m");
        Assert.NotNull(router.TryAdmit(router.Pool, 1, model, 1, 0, "bob", "b"));

        Assert.Null(await router.AdmitAsync(router.Pool, 1, model, 1, 0, "alice", "b", CancellationToken.None));
        Assert.Equal(1, router.Rejected);
    }

    [Fact]
    public async Task UnknownTeam_HasNoKey_IsRefused()
    {
        var router = Router(queue: TimeSpan.FromSeconds(2));

        Assert.False(KeyPoolRouter.HasTeam(router.Pool, "gone"));
        Assert.True(KeyPoolRouter.HasTeam(router.Pool, "a"));
        Assert.Null(await router.AdmitAsync(router.Pool, 1, router.Pool.ModelId("m"), 1, 0, "alice", "gone", CancellationToken.None));
    }
}
