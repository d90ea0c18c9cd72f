using KeyPool.Core.Usage;
using KeyPool.Postgres.Tests.Infrastructure;
using KeyPool.Storage.Contracts;

namespace KeyPool.Postgres.Tests.Contracts;

[Collection(PostgresCollection.Name)]
public sealed class PostgresUserUsageStoreTests(PostgresFixture fixture) : UserUsageStoreContract, IAsyncLifetime
{
    private TestDatabase _database = null!;

    protected override async Task<IUserUsageStore> CreateStoreAsync()
    {
        var store = _database.CreateStore();
        await store.InitializeAsync(CancellationToken.None);
        return store;
    }

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync(fixture);

    public async Task DisposeAsync() => await _database.DisposeAsync();
}
