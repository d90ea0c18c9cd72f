using KeyPool.Core.Storage;
using KeyPool.Core.Usage;
using KeyPool.Postgres.GatewayKeys;
using KeyPool.TestServers;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Postgres.Tests.Connections;

/// <summary>A server of its own, stopped and started again: the adapter says "unavailable", then recovers without a restart.</summary>
public sealed class StoreUnavailableTests : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private PostgresServer _server = null!;
    private string _connectionString = null!;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.StartAsync();
        try
        {
            _connectionString = await _server.CreateDatabaseAsync();
        }
        catch
        {
            // xUnit does not call DisposeAsync when InitializeAsync fails: the server must not outlive the test.
            await _server.DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ServerStopped_EveryOperationThrowsStoreUnavailable_AndWorksAgainAfterRestart()
    {
        await using var store = new PostgresStore(_connectionString, _time, migrate: true);
        await using var keys = new PostgresGatewayKeyStore(_connectionString, _time, migrate: false);
        await store.InitializeAsync(None);
        await keys.InitializeAsync(None);
        await store.GetOrAssignAsync("known", "free", [1, 2], None);

        await _server.StopAsync();

        await AssertUnavailableAsync(() => store.FindAsync("known", None));
        await AssertUnavailableAsync(() => store.GetOrAssignAsync("new", "free", [1, 2], None));
        await AssertUnavailableAsync(() => store.AddAsync([KeyGroupUsage.Zero(1) with { Requests = 3 }], None));
        await AssertUnavailableAsync(() => store.CountUsersByGroupAsync(None));
        await AssertUnavailableAsync(() => store.SetUsableGroupsAsync([1, 2], None));
        await AssertUnavailableAsync(() => keys.ListAsync("known", None));

        await _server.StartAgainAsync();

        // The pool's broken connections are replaced on the next calls; nothing was half-written.
        Assert.Equal(1, (await RetryOnceAsync(() => store.FindAsync("known", None)))!.ApiKeyGroup);
        Assert.True((await RetryOnceAsync(() => store.GetOrAssignAsync("new", "free", [1, 2], None))).Created);
        await RetryOnceAsync(async () => { await store.AddAsync([KeyGroupUsage.Zero(1) with { Requests = 3 }], None); return 0; });
        Assert.Equal(3, Assert.Single(await store.ReadAllAsync(None)).Requests);
        Assert.Equal(new Dictionary<int, long> { [1] = 1, [2] = 1 }, await store.CountUsersByGroupAsync(None));
    }

    [Fact]
    public async Task Message_NeverContainsThePassword()
    {
        var withPassword = $"Host=127.0.0.1;Port={FreeTcpPort.Next()};Username=keypool;Password=s3cret-Pa55word;Database=none;Timeout=2";
        await using var store = new PostgresStore(withPassword, _time, migrate: false);

        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.InitializeAsync(None));

        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
        Assert.Contains("cannot be reached", error.Message, StringComparison.Ordinal);
    }

    private static async Task AssertUnavailableAsync(Func<Task> operation)
    {
        var error = await Assert.ThrowsAsync<StoreUnavailableException>(operation);
        Assert.NotNull(error.InnerException);
    }

    // A connection taken from the pool before the restart fails once when first used; the pool then drops it.
    private static async Task<T> RetryOnceAsync<T>(Func<Task<T>> operation)
    {
        try
        {
            return await operation();
        }
        catch (StoreUnavailableException)
        {
            return await operation();
        }
    }
}
