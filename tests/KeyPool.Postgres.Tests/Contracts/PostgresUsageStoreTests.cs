using KeyPool.Core.Usage;
using KeyPool.Postgres.Tests.Infrastructure;
using KeyPool.Storage.Contracts;

namespace KeyPool.Postgres.Tests.Contracts;

[Collection(PostgresCollection.Name)]
public sealed class PostgresUsageStoreTests(PostgresFixture fixture) : UsageStoreContract, IAsyncLifetime
{
    private TestDatabase _database = null!;

    protected override IUsageStore CreateStore() => _database.CreateStore();

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync(fixture);

    public async Task DisposeAsync() => await _database.DisposeAsync();
}
