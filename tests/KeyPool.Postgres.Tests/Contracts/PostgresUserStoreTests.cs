using KeyPool.Core.Users;
using KeyPool.Postgres.Tests.Infrastructure;
using KeyPool.Storage.Contracts;

namespace KeyPool.Postgres.Tests.Contracts;

[Collection(PostgresCollection.Name)]
public sealed class PostgresUserStoreTests(PostgresFixture fixture) : UserStoreContract, IAsyncLifetime
{
    private TestDatabase _database = null!;

    protected override IUserStore CreateStore() => _database.CreateStore();

    protected override async Task<IReadOnlyDictionary<int, long>> ScanUsersByGroupAsync()
    {
        await using var connection = await _database.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT api_key_group, count(*) FROM user_profiles WHERE api_key_group IS NOT NULL GROUP BY api_key_group;", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var counts = new Dictionary<int, long>();
        while (await reader.ReadAsync())
        {
            counts[reader.GetInt32(0)] = reader.GetInt64(1);
        }
        return counts;
    }

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync(fixture);

    public async Task DisposeAsync() => await _database.DisposeAsync();
}
