using System.Security.Cryptography;
using System.Text;
using KeyPool.Core.Callers;
using KeyPool.Core.Users;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Storage.Contracts;

/// <summary>
/// What every <see cref="IGatewayKeyStore"/> must do. Adapter-neutral on purpose: a store's test project
/// links this file and supplies the stores and a raw look at the stored rows.
/// </summary>
public abstract class GatewayKeyStoreContract : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private IGatewayKeyStore _store = null!;

    /// <summary>The clock the stores were created with.</summary>
    protected abstract FakeTimeProvider Time { get; }

    /// <summary>Creates the database of this test (called once, before anything else).</summary>
    protected virtual Task CreateDatabaseAsync() => Task.CompletedTask;

    /// <summary>A new gateway key store on this test's database.</summary>
    protected abstract IGatewayKeyStore CreateStore();

    /// <summary>The main store (users, usage) on the same database.</summary>
    protected abstract IUserStore CreateMainStore();

    /// <summary>Every row of <c>gateway_keys</c> as stored: id, user_id, key_hash, prefix, created_at, revoked_at.</summary>
    protected abstract Task<IReadOnlyList<object?[]>> ReadRowsAsync();

    public async Task InitializeAsync()
    {
        await CreateDatabaseAsync();
        _store = CreateStore();
        await _store.InitializeAsync(None);
    }

    public virtual Task DisposeAsync() => Task.CompletedTask;

    private async Task<(GatewayKey Key, string Secret)> IssueAsync(string user)
    {
        var secret = GatewayKeySecret.Generate();
        var key = new GatewayKey(GatewayKeySecret.NewId(), user, GatewayKeySecret.Prefix(secret), Time.GetUtcNow(), null);
        await _store.AddAsync(key, GatewayKeySecret.Hash(secret), None);
        Time.Advance(TimeSpan.FromSeconds(1));
        return (key, secret);
    }

    [Fact]
    public async Task InitializeAsync_Twice_AndBesideTheMainSchema_IsHarmless()
    {
        await _store.InitializeAsync(None);
        var main = CreateMainStore();
        await main.InitializeAsync(None);
        await _store.InitializeAsync(None);

        var (key, secret) = await IssueAsync("u1");

        Assert.Equal(key, await _store.FindByHashAsync(GatewayKeySecret.Hash(secret), None));
        Assert.Empty(await main.CountUsersByGroupAsync(None)); // the main schema works beside the table
    }

    [Fact]
    public async Task FindByHashAsync_KnownSecret_ReturnsTheKey_UnknownReturnsNull()
    {
        var (key, secret) = await IssueAsync("u1");

        var found = await _store.FindByHashAsync(GatewayKeySecret.Hash(secret), None);

        Assert.Equal(key, found);
        Assert.False(found!.IsRevoked);
        Assert.Null(await _store.FindByHashAsync(GatewayKeySecret.Hash(GatewayKeySecret.Generate()), None));
    }

    [Fact]
    public async Task Table_HoldsOnlyTheSha256OfTheSecret()
    {
        var (key, secret) = await IssueAsync("u1");

        var row = Assert.Single(await ReadRowsAsync());
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(secret)), (byte[])row[2]!);
        Assert.Equal(key.Prefix, row[3]);
        foreach (var value in row)
        {
            var text = value is byte[] bytes ? Encoding.UTF8.GetString(bytes) : value?.ToString() ?? "";
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(secret[3..12], text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ListAsync_TheUsersKeys_OldestFirst()
    {
        var (first, _) = await IssueAsync("u1");
        await IssueAsync("u2");
        var (second, _) = await IssueAsync("u1");

        var keys = await _store.ListAsync("u1", None);

        Assert.Equal([first.Id, second.Id], keys.Select(k => k.Id));
        Assert.Empty(await _store.ListAsync("nobody", None));
    }

    [Fact]
    public async Task RevokeAsync_MarksRevoked_ReturnsTheHash_KeepsTheFirstTime()
    {
        var (key, secret) = await IssueAsync("u1");
        var revokedAt = Time.GetUtcNow();

        var hash = await _store.RevokeAsync("u1", key.Id, None);
        Time.Advance(TimeSpan.FromHours(1));
        var again = await _store.RevokeAsync("u1", key.Id, None);

        Assert.Equal(GatewayKeySecret.Hash(secret), hash);
        Assert.Equal(hash, again);
        var found = await _store.FindByHashAsync(GatewayKeySecret.Hash(secret), None);
        Assert.True(found!.IsRevoked);
        Assert.Equal(revokedAt, found.RevokedAt);
    }

    [Fact]
    public async Task RevokeAsync_AnotherUsersKey_OrUnknown_ReturnsNullAndChangesNothing()
    {
        var (key, secret) = await IssueAsync("u1");

        Assert.Null(await _store.RevokeAsync("u2", key.Id, None));
        Assert.Null(await _store.RevokeAsync("u1", "gk_unknown", None));
        Assert.False((await _store.FindByHashAsync(GatewayKeySecret.Hash(secret), None))!.IsRevoked);
    }
}
