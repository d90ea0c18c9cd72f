using KeyPool.Core.StoredObjects;
using KeyPool.Postgres.StoredObjects;
using KeyPool.Postgres.Tests.Infrastructure;
using KeyPool.Storage.Contracts;

namespace KeyPool.Postgres.Tests.StoredObjects;

[Collection(PostgresCollection.Name)]
public sealed class PostgresStoredObjectStoreTests(PostgresFixture fixture) : StoredObjectStoreContract
{
    private TestDatabase _database = null!;
    private readonly List<PostgresStoredObjectStore> _stores = [];

    protected override async Task CreateDatabaseAsync() => _database = await TestDatabase.CreateAsync(fixture);

    protected override IStoredObjectStore CreateStore()
    {
        var store = new PostgresStoredObjectStore(_database.ConnectionString, migrate: true);
        _stores.Add(store);
        return store;
    }

    public override async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
        await _database.DisposeAsync();
    }
}
