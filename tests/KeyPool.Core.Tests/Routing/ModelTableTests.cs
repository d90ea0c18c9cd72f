using KeyPool.Core.Budgets;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Keys;
using KeyPool.Core.Models;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Routing;

/// <summary>Model names come from callers: the budget table is bounded, ACLs steer models, the catalog knows what exists.</summary>
public sealed class ModelTableTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    private PoolSnapshot Pool() => PoolSnapshot.Build(
        new KeyRing([new UpstreamKey(1, "xai-test-key-00000001"), new UpstreamKey(2, "xai-test-key-00000002")]),
        new Dictionary<int, GroupSettings>(), new Dictionary<int, string>(), new BudgetOptions(), new KeyHealthOptions(), _time);

    [Fact]
    public void ModelId_ManyNames_ShareOneOverflowBudgetPastTheBound()
    {
        var pool = Pool();
        var ids = Enumerable.Range(0, 20_000).Select(i => pool.ModelId($"random-{i}")).ToArray();

        Assert.Equal(ModelCatalog.MaxModels + 1, ids.Distinct().Count()); // the bound plus the shared overflow
        Assert.Equal(ModelCatalog.OverflowModel, pool.ModelName(ids[^1]));
        Assert.Equal(ids[5], pool.ModelId("random-5")); // names within the bound keep their id
    }

    [Fact]
    public void Acl_SendsAModelOnlyToKeysThatMayUseIt()
    {
        var pool = Pool();
        pool.Find(1)!.SetAcl(ModelAcl.From(["api-key:model:grok-4-mini", "api-key:endpoint:*"]));
        var second = _time.GetUtcNow().ToUnixTimeSeconds();
        var grok = pool.ModelId("grok-4.3");
        var mini = pool.ModelId("grok-4-mini");

        Assert.False(pool.TryAdmit(pool.Find(1)!, new SelectionRequest(1, grok, 1, second), RouteReason.Sticky, out _));
        Assert.True(pool.TryAdmit(pool.Find(1)!, new SelectionRequest(1, mini, 1, second), RouteReason.Sticky, out _));
        Assert.True(pool.AnyPermits(grok, second)); // key 2 has no ACL: every model
    }

    [Theory]
    [InlineData(new[] { "api-key:model:*" }, "anything", true)]
    [InlineData(new[] { "api-key:endpoint:*" }, "anything", true)]
    [InlineData(new[] { "api-key:model:grok-4*" }, "grok-4.3", true)]
    [InlineData(new[] { "api-key:model:grok-4*" }, "grok-3", false)]
    [InlineData(new[] { "api-key:model:grok-3" }, "grok-3", true)]
    public void ModelAcl_ReadsXaiAcls(string[] acls, string model, bool allowed) =>
        Assert.Equal(allowed, ModelAcl.From(acls)?.Allows(model) ?? true);

    [Fact]
    public void Catalog_UnknownUntilLoaded_ThenOnlyListedConfiguredOrAliased()
    {
        var catalog = new ModelCatalog(["private-model"], new Dictionary<string, string> { ["fast"] = "grok-4.3" });
        Assert.True(catalog.Allows("made-up"));

        catalog.Load(["grok-4.3", "grok-4-mini"]);

        Assert.True(catalog.Allows("grok-4.3"));
        Assert.True(catalog.Allows("private-model"));
        Assert.True(catalog.Allows("fast"));
        Assert.False(catalog.Allows("made-up"));
        Assert.Equal("grok-4.3", catalog.AliasTarget("fast"));
    }
}
