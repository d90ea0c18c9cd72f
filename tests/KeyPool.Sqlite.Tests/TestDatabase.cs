using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Sqlite.Tests;

/// <summary>A real SQLite file in its own temp directory, and the stores opened on it; all gone after the test.</summary>
internal sealed class TestDatabase : IAsyncDisposable
{
    private readonly string _directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "keypool-sqlite-tests", Guid.NewGuid().ToString("N"));
    private readonly List<SqliteStore> _stores = [];

    public TestDatabase()
    {
        Directory.CreateDirectory(_directory);
        Path = System.IO.Path.Combine(_directory, "keypool.db");
    }

    public string Path { get; }

    public string ConnectionString => $"Data Source={Path}";

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));

    public SqliteStore CreateStore(string? connectionString = null)
    {
        var store = new SqliteStore(connectionString ?? ConnectionString, Time);
        _stores.Add(store);
        return store;
    }

    /// <summary>A plain connection on the file, for looking behind the store's back.</summary>
    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
