using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace KeyPool.Postgres.Tests.Infrastructure;

/// <summary>A fresh database on the shared server, and the stores opened on it; their pools are closed after the test.</summary>
internal sealed class TestDatabase : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];

    private TestDatabase(string connectionString) => ConnectionString = connectionString;

    public string ConnectionString { get; }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));

    public static async Task<TestDatabase> CreateAsync(PostgresFixture fixture) =>
        new(await fixture.Server.CreateDatabaseAsync("kp"));

    public PostgresStore CreateStore(bool migrate = true)
    {
        var store = new PostgresStore(ConnectionString, Time, migrate);
        _owned.Add(store);
        return store;
    }

    /// <summary>A plain connection, for looking behind the store's back.</summary>
    public async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
        NpgsqlConnection.ClearAllPools();
    }
}
