using KeyPool.Core.Callers;
using KeyPool.Core.Users;
using KeyPool.Postgres.GatewayKeys;
using KeyPool.Postgres.Tests.Infrastructure;
using KeyPool.Storage.Contracts;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace KeyPool.Postgres.Tests.GatewayKeys;

[Collection(PostgresCollection.Name)]
public sealed class PostgresGatewayKeyStoreTests(PostgresFixture fixture) : GatewayKeyStoreContract
{
    private TestDatabase _database = null!;
    private readonly List<PostgresGatewayKeyStore> _stores = [];

    protected override FakeTimeProvider Time => _database.Time;

    protected override async Task CreateDatabaseAsync() => _database = await TestDatabase.CreateAsync(fixture);

    protected override IGatewayKeyStore CreateStore()
    {
        var store = new PostgresGatewayKeyStore(_database.ConnectionString, _database.Time, migrate: true);
        _stores.Add(store);
        return store;
    }

    protected override IUserStore CreateMainStore() => _database.CreateStore();

    protected override async Task<IReadOnlyList<object?[]>> ReadRowsAsync()
    {
        await using var connection = await _database.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id, user_id, key_hash, prefix, created_at, revoked_at FROM gateway_keys;", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync())
        {
            var row = new object[reader.FieldCount];
            reader.GetValues(row);
            rows.Add(row.Select(v => v is DBNull ? null : v).ToArray());
        }
        return rows;
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
