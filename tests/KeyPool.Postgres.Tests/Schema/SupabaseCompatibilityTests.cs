using KeyPool.Postgres.Tests.Infrastructure;
using Npgsql;

namespace KeyPool.Postgres.Tests.Schema;

/// <summary>
/// An application already running the original Supabase system puts KeyPool on its own database:
/// its tables are extended, not replaced, and code in the database assigns only usable groups.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class SupabaseCompatibilityTests(PostgresFixture fixture) : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync(fixture);

    public async Task DisposeAsync() => await _database.DisposeAsync();

    // The shape of a Supabase app before the original migration: profiles keyed by the auth user's uuid,
    // with the app's own columns, and the original system's api_key_stats with its own id.
    private const string ExistingApp =
        """
        CREATE TABLE user_profiles (
            id uuid PRIMARY KEY,
            email text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE api_key_stats (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            key_group integer NOT NULL,
            total_users integer DEFAULT 0,
            total_requests integer DEFAULT 0,
            total_tokens bigint DEFAULT 0,
            last_request_at timestamptz,
            CONSTRAINT api_key_stats_key_group_key UNIQUE (key_group)
        );
        INSERT INTO api_key_stats (key_group, total_users, total_requests, total_tokens) VALUES (1, 7, 100, 5000);
        """;

    [Fact]
    public async Task Migrate_ExistingSupabaseTables_AddsColumnsKeepsDataAndRecountsUsers()
    {
        await _database.ExecuteAsync(ExistingApp);
        var alice = Guid.NewGuid();
        await _database.ExecuteAsync($"INSERT INTO user_profiles (id, email) VALUES ('{alice}', 'alice@example.com'), ('{Guid.NewGuid()}', 'bob@example.com');");

        var store = _database.CreateStore();
        await store.InitializeAsync(None);

        // Columns added, the app's data and columns kept; no user has a group yet, so the stale counter is reset.
        Assert.Equal(2L, await _database.ScalarAsync<long>("SELECT count(*) FROM user_profiles WHERE api_key_group IS NULL AND email <> '';"));
        Assert.Empty(await store.CountUsersByGroupAsync(None));
        var usage = Assert.Single(await store.ReadAllAsync(None));
        Assert.Equal((1, 100L, 5000L), (usage.Group, usage.Requests, usage.TotalTokens));

        // A profile without a group is assigned by KeyPool on first use; ids are the auth uuids.
        var assigned = await store.GetOrAssignAsync(alice.ToString(), "free", [1, 2], None);
        Assert.True(assigned.Created);
        Assert.Equal(1, assigned.User.ApiKeyGroup);
        Assert.Equal(assigned.User, await store.FindAsync(alice.ToString(), None));
        Assert.Null(await store.FindAsync("not-a-uuid", None));
        Assert.Equal("alice@example.com", await _database.ScalarAsync<string>($"SELECT email FROM user_profiles WHERE id = '{alice}';"));

        await store.AddAsync([Core.Usage.KeyGroupUsage.Zero(1) with { Requests = 1, TotalTokens = 10 }], None);
        usage = Assert.Single(await store.ReadAllAsync(None), u => u.Group == 1);
        Assert.Equal((101L, 5010L), (usage.Requests, usage.TotalTokens));
    }

    [Fact]
    public async Task GetNextApiKeyGroup_ReturnsTheLeastLoadedUsableGroup()
    {
        var store = _database.CreateStore();
        await store.InitializeAsync(None);
        Assert.Null(await NextGroupAsync()); // no gateway has said which groups work

        await store.SetUsableGroupsAsync([1, 2, 3], None);
        Assert.Equal(1, await NextGroupAsync()); // all empty: ties to the lowest
        await store.GetOrAssignAsync("a", "free", [1], None);
        await store.GetOrAssignAsync("b", "free", [2], None);
        Assert.Equal(3, await NextGroupAsync());

        // Group 3's key is revoked: the database stops handing it out.
        await store.SetUsableGroupsAsync([1, 2], None);
        Assert.Equal([1, 2], await store.GetUsableGroupsAsync(None));
        Assert.Equal(1, await NextGroupAsync());
        await store.GetOrAssignAsync("c", "free", [1], None);
        Assert.Equal(2, await NextGroupAsync());
    }

    [Fact]
    public async Task SupabaseTrigger_ConcurrentInsertsWithoutGroup_AreBalancedAndCounted()
    {
        var store = _database.CreateStore();
        await store.MigrateAsync(supabaseTrigger: true, None);
        await store.InitializeAsync(None);
        await store.SetUsableGroupsAsync([1, 2, 3, 4, 5], None);
        await store.GetOrAssignAsync("through-keypool", "free", [1, 2, 3, 4, 5], None);

        // Sign-ups that never pass through KeyPool: plain inserts from eight connections at once.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            await using var connection = await _database.OpenAsync();
            for (var i = 0; i < 25; i++)
            {
                await using var insert = new NpgsqlCommand($"INSERT INTO user_profiles (id) VALUES ('app-{worker}-{i}');", connection);
                await insert.ExecuteNonQueryAsync();
            }
        })));

        var counts = await store.CountUsersByGroupAsync(None);
        Assert.Equal(201, counts.Values.Sum());
        Assert.True(counts.Values.Max() - counts.Values.Min() <= 1, string.Join(", ", counts));
        Assert.Equal(0L, await _database.ScalarAsync<long>("SELECT count(*) FROM user_profiles WHERE api_key_group IS NULL;"));
        Assert.Equal(201L, await _database.ScalarAsync<long>("SELECT count(*) FROM user_profiles WHERE api_key_group BETWEEN 1 AND 5;"));

        // An explicit group is kept; the trigger only fills a missing one.
        await _database.ExecuteAsync("INSERT INTO user_profiles (id, api_key_group) VALUES ('explicit', 9);");
        Assert.Equal(9, await _database.ScalarAsync<int>("SELECT api_key_group FROM user_profiles WHERE id = 'explicit';"));
    }

    [Fact]
    public async Task Backfill_UsersWithoutGroup_AssignedRoundRobinAndCounted()
    {
        var store = _database.CreateStore();
        await store.InitializeAsync(None);
        await store.GetOrAssignAsync("already", "free", [3], None);
        await _database.ExecuteAsync("INSERT INTO user_profiles (id) SELECT 'legacy-' || lpad(i::text, 3, '0') FROM generate_series(0, 99) i;");
        var reports = new List<long>();

        var assigned = await store.BackfillAsync([1, 2, 3], batchSize: 30, new SyncProgress(reports.Add), None);

        Assert.Equal(100, assigned);
        Assert.Equal([30L, 60L, 90L, 100L], reports);
        Assert.Equal(new Dictionary<int, long> { [1] = 34, [2] = 33, [3] = 34 }, await store.CountUsersByGroupAsync(None));
        Assert.Equal(1, (await store.FindAsync("legacy-000", None))!.ApiKeyGroup);
        Assert.Equal(2, (await store.FindAsync("legacy-031", None))!.ApiKeyGroup); // the turn continues across batches
        Assert.Equal(0, await store.BackfillAsync([1, 2, 3], 30, null, None)); // nothing left: a re-run is a no-op
    }

    [Fact]
    public async Task Rebalance_MovesUsersOfRemovedGroupsAndKeepsCountersExact()
    {
        var store = _database.CreateStore();
        await store.InitializeAsync(None);
        await store.ImportRoundRobinAsync(Ids(100), [1, 2, 3, 4], "free", 50, null, None);

        var dry = await store.RebalanceAsync([1, 2], dryRun: true, 10, null, None);
        var result = await store.RebalanceAsync([1, 2], dryRun: false, 10, null, None);

        Assert.Equal(0, dry.Moved);
        Assert.Equal(50, result.Moved);
        Assert.Equal(new Dictionary<int, long> { [1] = 50, [2] = 50 }, await store.CountUsersByGroupAsync(None));
        Assert.Equal(100L, await _database.ScalarAsync<long>("SELECT count(*) FROM user_profiles WHERE api_key_group IN (1, 2);"));
    }

    private async Task<int?> NextGroupAsync()
    {
        await using var connection = await _database.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT get_next_api_key_group();", connection);
        return await command.ExecuteScalarAsync() is int group ? group : null;
    }

    private static async IAsyncEnumerable<string> Ids(int count)
    {
        for (var i = 0; i < count; i++)
        {
            await Task.Yield();
            yield return $"user-{i:D4}";
        }
    }

    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
