using Dapper;
using KeyPool.Core.Users;
using KeyPool.Storage.Contracts;

namespace KeyPool.Sqlite.Tests;

public sealed class SqliteUserStoreTests : UserStoreContract, IAsyncLifetime
{
    private readonly TestDatabase _database = new();

    protected override IUserStore CreateStore() => _database.CreateStore();

    protected override async Task<IReadOnlyDictionary<int, long>> ScanUsersByGroupAsync()
    {
        using var connection = _database.Open();
        var rows = await connection.QueryAsync<(long Group, long Count)>(
            "SELECT api_key_group, COUNT(*) FROM user_profiles GROUP BY api_key_group;");
        return rows.ToDictionary(r => (int)r.Group, r => r.Count);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    Task IAsyncLifetime.DisposeAsync() => _database.DisposeAsync().AsTask();
}
