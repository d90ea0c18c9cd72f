using System.Security.Cryptography;
using System.Text;
using KeyPool.Core.Callers;
using KeyPool.Sqlite.GatewayKeys;

namespace KeyPool.Sqlite.Tests.GatewayKeys;

public sealed class SqliteGatewayKeyStoreTests : IAsyncLifetime
{
    private readonly TestDatabase _database = new();
    private SqliteGatewayKeyStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = new SqliteGatewayKeyStore(_database.ConnectionString, _database.Time);
        await _store.InitializeAsync(CancellationToken.None);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    private async Task<(GatewayKey Key, string Secret)> IssueAsync(string user)
    {
        var secret = GatewayKeySecret.Generate();
        var key = new GatewayKey(GatewayKeySecret.NewId(), user, GatewayKeySecret.Prefix(secret), _database.Time.GetUtcNow(), null);
        await _store.AddAsync(key, GatewayKeySecret.Hash(secret), CancellationToken.None);
        _database.Time.Advance(TimeSpan.FromSeconds(1));
        return (key, secret);
    }

    [Fact]
    public async Task InitializeAsync_Twice_AndBesideTheMainSchema_IsHarmless()
    {
        await _store.InitializeAsync(CancellationToken.None);
        var main = _database.CreateStore();
        await main.InitializeAsync(CancellationToken.None);
        await _store.InitializeAsync(CancellationToken.None);

        var (key, secret) = await IssueAsync("u1");

        Assert.Equal(key, await _store.FindByHashAsync(GatewayKeySecret.Hash(secret), CancellationToken.None));
        Assert.Empty(await main.CountUsersByGroupAsync(CancellationToken.None)); // the main schema works beside the table
    }

    [Fact]
    public async Task FindByHashAsync_KnownSecret_ReturnsTheKey_UnknownReturnsNull()
    {
        var (key, secret) = await IssueAsync("u1");

        var found = await _store.FindByHashAsync(GatewayKeySecret.Hash(secret), CancellationToken.None);

        Assert.Equal(key, found);
        Assert.False(found!.IsRevoked);
        Assert.Null(await _store.FindByHashAsync(GatewayKeySecret.Hash(GatewayKeySecret.Generate()), CancellationToken.None));
    }

    [Fact]
    public async Task Table_HoldsOnlyTheSha256OfTheSecret()
    {
        var (key, secret) = await IssueAsync("u1");

        using var connection = _database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, user_id, key_hash, prefix, created_at, revoked_at FROM gateway_keys;";
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(secret)), (byte[])reader["key_hash"]);
        Assert.Equal(key.Prefix, reader["prefix"]);
        for (var i = 0; i < reader.FieldCount; i++)
        {
            var value = reader.GetValue(i);
            var text = value is byte[] bytes ? Encoding.UTF8.GetString(bytes) : value.ToString()!;
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(secret[3..12], text, StringComparison.Ordinal);
        }
        Assert.False(reader.Read());
    }

    [Fact]
    public async Task ListAsync_TheUsersKeys_OldestFirst()
    {
        var (first, _) = await IssueAsync("u1");
        await IssueAsync("u2");
        var (second, _) = await IssueAsync("u1");

        var keys = await _store.ListAsync("u1", CancellationToken.None);

        Assert.Equal([first.Id, second.Id], keys.Select(k => k.Id));
        Assert.Empty(await _store.ListAsync("nobody", CancellationToken.None));
    }

    [Fact]
    public async Task RevokeAsync_MarksRevoked_ReturnsTheHash_KeepsTheFirstTime()
    {
        var (key, secret) = await IssueAsync("u1");
        var revokedAt = _database.Time.GetUtcNow();

        var hash = await _store.RevokeAsync("u1", key.Id, CancellationToken.None);
        _database.Time.Advance(TimeSpan.FromHours(1));
        var again = await _store.RevokeAsync("u1", key.Id, CancellationToken.None);

        Assert.Equal(GatewayKeySecret.Hash(secret), hash);
        Assert.Equal(hash, again);
        var found = await _store.FindByHashAsync(GatewayKeySecret.Hash(secret), CancellationToken.None);
        Assert.True(found!.IsRevoked);
        Assert.Equal(revokedAt, found.RevokedAt);
    }

    [Fact]
    public async Task RevokeAsync_AnotherUsersKey_OrUnknown_ReturnsNullAndChangesNothing()
    {
        var (key, secret) = await IssueAsync("u1");

        Assert.Null(await _store.RevokeAsync("u2", key.Id, CancellationToken.None));
        Assert.Null(await _store.RevokeAsync("u1", "gk_unknown", CancellationToken.None));
        Assert.False((await _store.FindByHashAsync(GatewayKeySecret.Hash(secret), CancellationToken.None))!.IsRevoked);
    }
}
