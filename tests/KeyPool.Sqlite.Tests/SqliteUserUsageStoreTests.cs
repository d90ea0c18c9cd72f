using KeyPool.Core.Usage;
using KeyPool.Storage.Contracts;

namespace KeyPool.Sqlite.Tests;

public sealed class SqliteUserUsageStoreTests : UserUsageStoreContract, IAsyncLifetime
{
    private readonly TestDatabase _database = new();

    protected override async Task<IUserUsageStore> CreateStoreAsync()
    {
        var store = _database.CreateStore();
        await store.InitializeAsync(CancellationToken.None);
        return store;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    Task IAsyncLifetime.DisposeAsync() => _database.DisposeAsync().AsTask();
}
