using KeyPool.Core.Callers;
using KeyPool.Core.Users;
using KeyPool.Sqlite.GatewayKeys;
using KeyPool.Storage.Contracts;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Sqlite.Tests.GatewayKeys;

public sealed class SqliteGatewayKeyStoreTests : GatewayKeyStoreContract
{
    private readonly TestDatabase _database = new();

    protected override FakeTimeProvider Time => _database.Time;

    protected override IGatewayKeyStore CreateStore() => new SqliteGatewayKeyStore(_database.ConnectionString, _database.Time);

    protected override IUserStore CreateMainStore() => _database.CreateStore();

    protected override Task<IReadOnlyList<object?[]>> ReadRowsAsync()
    {
        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, user_id, key_hash, prefix, created_at, revoked_at FROM gateway_keys;";
        using var reader = command.ExecuteReader();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            reader.GetValues(row!);
            rows.Add(row.Select(v => v is DBNull ? null : v).ToArray());
        }
        return Task.FromResult<IReadOnlyList<object?[]>>(rows);
    }

    public override async Task DisposeAsync() => await _database.DisposeAsync();
}
