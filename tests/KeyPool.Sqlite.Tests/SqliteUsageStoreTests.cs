using KeyPool.Core.Usage;
using KeyPool.Storage.Contracts;

namespace KeyPool.Sqlite.Tests;

public sealed class SqliteUsageStoreTests : UsageStoreContract, IAsyncLifetime
{
    private readonly TestDatabase _database = new();

    protected override IUsageStore CreateStore() => _database.CreateStore();

    public Task InitializeAsync() => Task.CompletedTask;

    Task IAsyncLifetime.DisposeAsync() => _database.DisposeAsync().AsTask();
}
