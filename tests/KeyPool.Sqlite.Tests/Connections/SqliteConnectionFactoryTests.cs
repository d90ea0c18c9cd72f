using KeyPool.Sqlite.Connections;

namespace KeyPool.Sqlite.Tests.Connections;

public sealed class SqliteConnectionFactoryTests
{
    private static async Task<long> SynchronousAsync(Microsoft.Data.Sqlite.SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA synchronous;";
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task OpenDurable_SyncsEachCommit_AndThePooledConnectionComesBackCheap()
    {
        await using var database = new TestDatabase();
        var factory = new SqliteConnectionFactory(database.ConnectionString);

        await using (var durable = await factory.OpenDurableAsync(CancellationToken.None))
        {
            Assert.Equal(2, await SynchronousAsync(durable)); // FULL: what a sign-up or a gateway key needs
        }
        await using var plain = await factory.OpenAsync(CancellationToken.None); // the same pooled connection
        Assert.Equal(1, await SynchronousAsync(plain)); // NORMAL: usage and reads
        factory.ClearPool();
    }
}
