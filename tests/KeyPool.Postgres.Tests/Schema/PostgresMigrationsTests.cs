using KeyPool.Core.Storage;
using KeyPool.Postgres.GatewayKeys;
using KeyPool.Postgres.StoredObjects;
using KeyPool.Postgres.Tests.Infrastructure;

namespace KeyPool.Postgres.Tests.Schema;

[Collection(PostgresCollection.Name)]
public sealed class PostgresMigrationsTests(PostgresFixture fixture) : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync(fixture);

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task Migrate_FreshDatabase_AppliesEveryMigrationOnceAndRecordsIt()
    {
        var store = _database.CreateStore();

        var first = await store.MigrateAsync(supabaseTrigger: false, None);
        var second = await store.MigrateAsync(supabaseTrigger: false, None);

        Assert.Equal(["0001_supabase_compatible_schema", "0002_user_usage_daily", "0003_stored_objects", "0004_usage_cost"], first);
        Assert.Empty(second);
        Assert.Equal(PostgresStore.SchemaVersion, await _database.ScalarAsync<int>("SELECT max(version) FROM keypool_schema_versions;"));
        Assert.Equal((long)PostgresStore.SchemaVersion, await _database.ScalarAsync<long>("SELECT count(*) FROM keypool_schema_versions;"));
        foreach (var table in new[] { "user_profiles", "api_key_stats", "api_key_groups", "gateway_keys", "user_usage_daily", "stored_objects" })
        {
            Assert.True(await _database.ScalarAsync<bool>($"SELECT to_regclass('{table}') IS NOT NULL;"), table);
        }
    }

    [Fact]
    public async Task Migrate_SeveralInstancesAtOnce_AppliesEachMigrationOnce()
    {
        var stores = Enumerable.Range(0, 4).Select(_ => _database.CreateStore()).ToArray();

        var applied = await Task.WhenAll(stores.Select(s => Task.Run(() => s.MigrateAsync(false, None))));

        Assert.Equal(PostgresStore.SchemaVersion, applied.Sum(a => a.Count));
        Assert.Equal((long)PostgresStore.SchemaVersion, await _database.ScalarAsync<long>("SELECT count(*) FROM keypool_schema_versions;"));
    }

    [Fact]
    public async Task Initialize_WithoutMigrate_OnAnUnmigratedDatabase_SaysWhatToRun()
    {
        var store = _database.CreateStore(migrate: false);

        var error = await Assert.ThrowsAsync<StoreSchemaException>(() => store.InitializeAsync(None));

        Assert.Contains("keypool db migrate", error.Message, StringComparison.Ordinal);
        Assert.Contains("--migrate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Initialize_WithoutMigrate_AfterMigration_Works()
    {
        await _database.CreateStore().MigrateAsync(false, None);
        var store = _database.CreateStore(migrate: false);

        await store.InitializeAsync(None);

        Assert.Equal(1, (await store.GetOrAssignAsync("alice", "free", [1], None)).User.ApiKeyGroup);
    }

    [Fact]
    public async Task Initialize_GatewayKeyAndStoredObjectStores_CheckTheSchemaLikeTheUserStore()
    {
        await using var keys = new PostgresGatewayKeyStore(_database.ConnectionString, _database.Time, migrate: false);
        await using var objects = new PostgresStoredObjectStore(_database.ConnectionString, migrate: false);

        var unmigrated = await Task.WhenAll(
            Assert.ThrowsAsync<StoreSchemaException>(() => keys.InitializeAsync(None)),
            Assert.ThrowsAsync<StoreSchemaException>(() => objects.InitializeAsync(None)));
        await using (var migrating = new PostgresStoredObjectStore(_database.ConnectionString, migrate: true))
        {
            await migrating.InitializeAsync(None);
        }
        await keys.InitializeAsync(None);
        await objects.InitializeAsync(None);

        Assert.All(unmigrated, error => Assert.Contains("keypool db migrate", error.Message, StringComparison.Ordinal));
        Assert.Equal((long)PostgresStore.SchemaVersion, await _database.ScalarAsync<long>("SELECT count(*) FROM keypool_schema_versions;"));
    }

    [Fact]
    public async Task Initialize_SchemaFromANewerKeyPool_Refuses()
    {
        await _database.CreateStore().MigrateAsync(false, None);
        await _database.ExecuteAsync("INSERT INTO keypool_schema_versions (version, name) VALUES (99, '0099_future');");

        var error = await Assert.ThrowsAsync<StoreSchemaException>(() => _database.CreateStore().InitializeAsync(None));

        Assert.Contains("99", error.Message, StringComparison.Ordinal);
        Assert.Contains("upgrade KeyPool", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_FailingMigration_LeavesNothingBehind()
    {
        // A table of the same name with an incompatible shape makes migration 1 fail half-way.
        await _database.ExecuteAsync("CREATE TABLE api_key_groups (key_group text PRIMARY KEY, usable text);");
        await _database.ExecuteAsync("INSERT INTO api_key_groups VALUES ('a', 'b');");
        await _database.ExecuteAsync("CREATE TABLE user_profiles (id text PRIMARY KEY);");

        await Assert.ThrowsAnyAsync<Npgsql.PostgresException>(() => _database.CreateStore().MigrateAsync(false, None));

        // The transaction rolled back: no version recorded, no column added by the failed migration.
        Assert.False(await _database.ScalarAsync<bool>("SELECT to_regclass('api_key_stats') IS NOT NULL;"));
        Assert.False(await _database.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'user_profiles' AND column_name = 'api_key_group');"));
        Assert.Equal(0L, await _database.ScalarAsync<long>("SELECT count(*) FROM keypool_schema_versions;"));
    }
}
