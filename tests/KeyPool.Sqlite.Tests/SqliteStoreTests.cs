using Dapper;
using KeyPool.Core.Usage;
using KeyPool.Core.Users;
using Microsoft.Data.Sqlite;

namespace KeyPool.Sqlite.Tests;

/// <summary>What is particular to SQLite: the file's settings, schema and stored formats.</summary>
public sealed class SqliteStoreTests : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TestDatabase _database = new();

    [Fact]
    public async Task InitializeAsync_TurnsOnWalAndRecordsSchemaVersion()
    {
        await _database.CreateStore().InitializeAsync(None);

        using var connection = _database.Open();
        Assert.Equal("wal", connection.ExecuteScalar<string>("PRAGMA journal_mode;"));
        Assert.Equal(3, connection.ExecuteScalar<int>("PRAGMA user_version;"));
        Assert.Equal(
            ["api_key_group_users", "api_key_stats", "user_profiles", "user_usage_daily"],
            connection.Query<string>("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name;"));
    }

    [Fact]
    public async Task InitializeAsync_DatabaseFromNewerVersion_Throws()
    {
        await _database.CreateStore().InitializeAsync(None);
        using (var connection = _database.Open())
        {
            connection.Execute("PRAGMA user_version = 99;");
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => _database.CreateStore().InitializeAsync(None));
        Assert.Contains("99", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Constructor_PlainFilePath_IsAccepted()
    {
        var store = _database.CreateStore(_database.Path);
        await store.InitializeAsync(None);

        await store.GetOrAssignAsync("alice", "free", [1], None);

        Assert.NotNull(await _database.CreateStore().FindAsync("alice", None));
    }

    [Fact]
    public async Task GetOrAssign_StoresCreatedAtAsUtcRoundTripText()
    {
        var store = _database.CreateStore();
        await store.InitializeAsync(None);

        await store.GetOrAssignAsync("alice", "free", [1], None);

        using var connection = _database.Open();
        Assert.Equal("2025-06-01T12:00:00.0000000+00:00",
            connection.ExecuteScalar<string>("SELECT created_at FROM user_profiles WHERE id = 'alice';"));
    }

    [Fact]
    public async Task AddAsync_StoresUpdatedAtFromTheClock()
    {
        var store = _database.CreateStore();
        await store.InitializeAsync(None);
        _database.Time.Advance(TimeSpan.FromMinutes(1));

        await store.AddAsync([KeyGroupUsage.Zero(1) with { Requests = 1 }], None);

        using var connection = _database.Open();
        Assert.Equal("2025-06-01T12:01:00.0000000+00:00",
            connection.ExecuteScalar<string>("SELECT updated_at FROM api_key_stats WHERE key_group = 1;"));
        Assert.Null(connection.ExecuteScalar<string?>("SELECT last_request_at FROM api_key_stats WHERE key_group = 1;"));
    }

    [Fact]
    public async Task CountUsersAsync_CountsEveryUser()
    {
        var store = _database.CreateStore();
        await store.InitializeAsync(None);
        Assert.Equal(0, await store.CountUsersAsync(None));

        await store.ImportRoundRobinAsync(Ids(25), [1, 2, 3], "free", 10, null, None);
        await store.GetOrAssignAsync("extra", "free", [7], None);

        Assert.Equal(26, await store.CountUsersAsync(None));
    }

    [Fact]
    public async Task Store_MissingSchema_SurfacesSqliteError()
    {
        var store = _database.CreateStore();

        await Assert.ThrowsAsync<SqliteException>(() => store.GetOrAssignAsync("alice", "free", [1], None));
    }

    [Fact]
    public async Task Store_FileCannotBeOpened_ThrowsStoreUnavailable()
    {
        var store = _database.CreateStore($"Data Source={System.IO.Path.Combine(_database.Path, "missing-directory", "keypool.db")}");

        var error = await Assert.ThrowsAsync<KeyPool.Core.Storage.StoreUnavailableException>(() => store.InitializeAsync(None));

        Assert.IsType<SqliteException>(error.InnerException);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    Task IAsyncLifetime.DisposeAsync() => _database.DisposeAsync().AsTask();

    private static async IAsyncEnumerable<string> Ids(int count)
    {
        for (var i = 0; i < count; i++)
        {
            await Task.Yield();
            yield return $"user-{i}";
        }
    }
}
