using KeyPool.Core.Tables;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Core.Tests.Tables;

public sealed class BoundedTableTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    private BoundedTable<string, string> Table(int capacity, TimeSpan? idleAfter = null) => new(capacity, _time, idleAfter, StringComparer.Ordinal);

    [Fact]
    public void Set_PastTheCapacity_DropsTheLeastRecentlyUsedDownTo90PercentAtOnce()
    {
        var table = Table(10);
        for (var i = 0; i < 10; i++)
        {
            table.Set($"k{i}", $"v{i}");
            _time.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.True(table.TryGet("k0", out _)); // k0 is now the most recently used; k1 and k2 the least
        _time.Advance(TimeSpan.FromSeconds(1));

        table.Set("k10", "v10");

        Assert.Equal(9, table.Count);
        Assert.False(table.TryGet("k1", out _));
        Assert.False(table.TryGet("k2", out _));
        Assert.True(table.TryGet("k0", out var v0));
        Assert.Equal("v0", v0);
        Assert.True(table.TryGet("k10", out _));
        Assert.True(table.TryGet("k3", out _));
    }

    [Fact]
    public void Set_ManyMoreThanCapacity_SameInstant_NeverAboveTheCapacity_AndKeepsTheNewest()
    {
        var table = Table(100);
        for (var i = 0; i < 10_000; i++)
        {
            table.Set($"k{i}", "v");
            Assert.True(table.Count <= 100, $"held {table.Count} after {i + 1}");
        }

        Assert.True(table.TryGet("k9999", out _));
    }

    [Fact]
    public void Sweep_DropsEntriesIdleForTheIdleTime_Only()
    {
        var table = Table(100, TimeSpan.FromMinutes(2));
        table.Set("old", "v");
        _time.Advance(TimeSpan.FromSeconds(90));
        table.Set("young", "v");
        _time.Advance(TimeSpan.FromSeconds(30));

        Assert.Equal(1, table.Sweep());
        Assert.Equal(1, table.Count);
        Assert.False(table.TryGet("old", out _));
        Assert.True(table.TryGet("young", out _)); // used now: idle again from here
        _time.Advance(TimeSpan.FromSeconds(119));
        Assert.Equal(0, table.Sweep());
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, table.Sweep());
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void Sweep_WithoutIdleTime_DropsNothingBelowTheCapacity()
    {
        var table = Table(10);
        table.Set("a", "v");
        _time.Advance(TimeSpan.FromDays(30));

        Assert.Equal(0, table.Sweep());
        Assert.True(table.TryGet("a", out _));
    }

    [Fact]
    public void Retire_False_KeepsTheEntry_ItsCauseIsGiven()
    {
        var causes = new List<(string, EvictionCause)>();
        var table = new BoundedTable<string, string>(4, _time, TimeSpan.FromMinutes(1))
        {
            Retire = (value, cause) =>
            {
                causes.Add((value, cause));
                return value != "pinned";
            },
        };
        table.Set("p", "pinned");
        table.Set("a", "idle");
        _time.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(1, table.Sweep());
        Assert.True(table.TryGet("p", out _));
        Assert.Contains(("idle", EvictionCause.Idle), causes);
        Assert.Contains(("pinned", EvictionCause.Idle), causes);

        causes.Clear();
        _time.Advance(TimeSpan.FromSeconds(1));
        for (var i = 0; i < 4; i++)
        {
            table.Set($"n{i}", $"new{i}");
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        // Down to 3 (90 % of 4) would drop the two least recently used, "pinned" and "new0": only "new0" may go.
        Assert.Equal(["new0", "pinned"], causes.Select(c => c.Item1).Order(StringComparer.Ordinal));
        Assert.All(causes, c => Assert.Equal(EvictionCause.OverCapacity, c.Item2));
        Assert.Equal(4, table.Count);
        Assert.True(table.TryGet("p", out _));
        Assert.False(table.TryGet("n0", out _));
        Assert.True(table.TryGet("n3", out _));
    }

    [Fact]
    public void GetOrAdd_CreatesOnce_ThenReturnsTheSameValue()
    {
        var table = new BoundedTable<string, object>(10, _time);
        var created = 0;

        var first = table.GetOrAdd("k", (_, _) => { created++; return new object(); }, 0);
        var second = table.GetOrAdd("k", (_, _) => { created++; return new object(); }, 0);

        Assert.Same(first, second);
        Assert.Equal(1, created);
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void Remove_ByValue_OnlyWhileTheKeyHoldsIt()
    {
        var table = Table(10);
        table.Set("k", "old");
        table.Set("k", "new");

        Assert.False(table.Remove("k", "old"));
        Assert.True(table.TryGet("k", out var value));
        Assert.Equal("new", value);
        Assert.True(table.Remove("k", "new"));
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void Clear_ForgetsEverything()
    {
        var table = Table(10);
        table.Set("a", "v");
        table.Set("b", "v");

        table.Clear();

        Assert.Equal(0, table.Count);
        Assert.False(table.TryGet("a", out _));
    }

    [Fact]
    public void TryGet_Hit_AllocatesNothing()
    {
        var table = Table(10);
        table.Set("k", "v");
        for (var i = 0; i < 2_000; i++)
        {
            table.TryGet("k", out _); // warm (the runtime may allocate once while it compiles)
        }
        _time.Advance(TimeSpan.FromSeconds(1)); // the first hit below writes the new time

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++)
        {
            table.TryGet("k", out _);
        }

        // One allocation per hit would be 24 000 bytes or more; a stray one-time allocation of the runtime is not the table's.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1_000);
    }
}
