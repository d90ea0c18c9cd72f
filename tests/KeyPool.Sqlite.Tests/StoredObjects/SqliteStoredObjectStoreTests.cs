using KeyPool.Core.StoredObjects;
using KeyPool.Sqlite.StoredObjects;
using KeyPool.Storage.Contracts;

namespace KeyPool.Sqlite.Tests.StoredObjects;

public sealed class SqliteStoredObjectStoreTests : StoredObjectStoreContract
{
    private readonly TestDatabase _database = new();

    protected override IStoredObjectStore CreateStore() => new SqliteStoredObjectStore(_database.ConnectionString);

    public override async Task DisposeAsync() => await _database.DisposeAsync();
}
