using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace KeyPool.Tests.Reliability.Storage;

/// <summary>
/// The SQLite file locked by another connection, or its disk full (docs/reliability.md): known users keep chatting
/// from the cache, sign-ups get 503 <c>store_unavailable</c>, usage waits in memory and is written exactly once the
/// file is usable again, and nothing already stored is damaged.
/// </summary>
public sealed class SqliteStorageFaultTests
{
    // A condition waited for (the flush after the fault) is polled up to this.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private const int KnownUsers = 8;
    private const int Newcomers = 60;

    private static string NewcomerId(int i) => $"newcomer-{i:D4}-" + new string('n', 240);

    [Fact]
    public async Task LockedFile_KnownUsersServed_SignUps503_UsageWrittenWhenReleased()
    {
        var directory = Directory.CreateTempSubdirectory("keypool-locked-").FullName;
        try
        {
            var database = Path.Combine(directory, "keypool.db");
            await RunFaultAsync(database, maxSizeBytes: 0, everyWriteFails: true,
                fault: async () =>
                {
                    // Another writer holds the write lock (BEGIN IMMEDIATE) and does not let go.
                    var holder = new SqliteConnection($"Data Source={database};Pooling=False");
                    await holder.OpenAsync();
                    using (var begin = holder.CreateCommand())
                    {
                        begin.CommandText = "BEGIN IMMEDIATE;";
                        await begin.ExecuteNonQueryAsync();
                    }
                    return async () =>
                    {
                        using (var rollback = holder.CreateCommand())
                        {
                            rollback.CommandText = "ROLLBACK;";
                            await rollback.ExecuteNonQueryAsync();
                        }
                        await holder.DisposeAsync();
                    };
                });
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task FullDisk_KnownUsersServed_SignUps503_UsageWrittenWhenFreed()
    {
        // A real full disk when this machine lets the test mount a tmpfs; else the database's size limit stands in.
        using var disk = SmallDisk.Create();
        var database = Path.Combine(disk.Directory, "keypool.db");
        try
        {
            if (disk.IsTmpfs)
            {
                // With the write-ahead log emptied first, every write must grow a file on a disk with no room left.
                await RunFaultAsync(database, maxSizeBytes: 0, everyWriteFails: true, fault: async () =>
                {
                    // Busy (1) while one of the gateway's background reads holds the log: then the log is not emptied.
                    await Poll.UntilAsync(async () => await ScalarAsync<long>(database, "PRAGMA wal_checkpoint(TRUNCATE);") == 0, Bound);
                    disk.Fill();
                    return () =>
                    {
                        disk.Free();
                        return Task.CompletedTask;
                    };
                });
            }
            else
            {
                await RunAtSizeLimitAsync(database);
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
        }
    }

    [Fact]
    public async Task DatabaseAtItsSizeLimit_BehavesLikeAFullDisk()
    {
        var directory = Directory.CreateTempSubdirectory("keypool-size-limit-").FullName;
        try
        {
            await RunAtSizeLimitAsync(Path.Combine(directory, "keypool.db"));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    // The gateway's connections may not grow the file past 1 MB; another connection fills it past that, so any
    // new page the gateway needs is refused (SQLITE_FULL) until the filler is deleted and its pages are free again.
    // A write that fits in a page already there still succeeds, so only some sign-ups are refused.
    private static Task RunAtSizeLimitAsync(string database) =>
        RunFaultAsync(database, maxSizeBytes: 1024 * 1024, everyWriteFails: false, fault: async () =>
        {
            await ExecuteAsync(database, "CREATE TABLE filler (b BLOB); INSERT INTO filler VALUES (zeroblob(2 * 1024 * 1024)); PRAGMA wal_checkpoint(TRUNCATE);");
            return () => ExecuteAsync(database, "DROP TABLE filler;");
        });

    /// <summary>
    /// Known users sign up and chat; then <paramref name="fault"/> breaks the store (it returns how to mend it);
    /// known users keep chatting, new ones get 503; once mended, usage lands exactly and nothing stored is damaged.
    /// </summary>
    /// <param name="database">The SQLite file.</param>
    /// <param name="maxSizeBytes">KeyPool:Sqlite:MaxSizeBytes, or 0.</param>
    /// <param name="everyWriteFails">True when the fault refuses every write (a lock, a full disk); false when only
    /// writes that need a new page fail (the size limit): then some sign-ups succeed and usage may be written.</param>
    /// <param name="fault">Breaks the store; returns how to mend it.</param>
    private static async Task RunFaultAsync(string database, long maxSizeBytes, bool everyWriteFails, Func<Task<Func<Task>>> fault)
    {
        var settings = new Dictionary<string, string?>
        {
            // A short lock wait, so a sign-up meets the fault in about a second (the default waits up to 10 s).
            ["ConnectionStrings:KeyPool"] = $"Data Source={database};Default Timeout=1",
            ["KeyPool:Usage:FlushInterval"] = "00:00:00.100",
        };
        if (maxSizeBytes > 0)
        {
            settings["KeyPool:Sqlite:MaxSizeBytes"] = maxSizeBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3, settings: settings);
        var ledger = new UsageLedger();

        var known = Enumerable.Range(0, KnownUsers).Select(i => $"known-{i}").ToArray();
        foreach (var user in known)
        {
            await ledger.ChatAsync(gateway, user, stream: false);
        }
        var groupsBefore = await ReadGroupsAsync(database);
        Assert.Equal(KnownUsers, groupsBefore.Count);
        await Poll.UntilAsync(async () => (await ReadUsageAsync(database)).Requests == ledger.Requests, Bound);

        var signedUp = new List<string>();
        var mend = await fault();
        try
        {
            // Known users: served from the cache, plain and streaming, while the store cannot take a write.
            for (var round = 0; round < 3; round++)
            {
                foreach (var user in known)
                {
                    await ledger.ChatAsync(gateway, user, stream: round % 2 == 1);
                }
            }

            // New users: a clear 503 in OpenAI's shape, through the proxy and the admin API alike. Long ids (the
            // most allowed) so that together they need new pages even where a small write would still fit.
            var refused = 0;
            for (var i = 0; i < Newcomers; i++)
            {
                var (status, _, body) = await gateway.ChatAsync(NewcomerId(i));
                if (status == 200)
                {
                    Assert.False(everyWriteFails, "a sign-up succeeded while the store could take no write");
                    signedUp.Add(NewcomerId(i));
                    ledger.Add(body);
                    continue;
                }
                Assert.Equal(503, status);
                var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
                Assert.Equal("store_unavailable", error.GetProperty("code").GetString());
                Assert.Contains("known users keep being served", error.GetProperty("message").GetString(), StringComparison.Ordinal);
                refused++;
            }
            Assert.True(refused > 0, "no sign-up was refused while the store was full");
            if (everyWriteFails)
            {
                using var admin = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = "admin-newcomer" }));
                Assert.Equal(HttpStatusCode.ServiceUnavailable, admin.StatusCode);
                Assert.Equal("store_unavailable", (await admin.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());

                // Usage of the fault's requests is held in memory: nothing of it could be written yet. On a full disk
                // even this test's read may fail (SQLite needs room to open the log): then the exact totals after the
                // mend are the proof.
                try
                {
                    Assert.True((await ReadUsageAsync(database)).Requests < ledger.Requests, "usage was written while the store was broken");
                }
                catch (SqliteException exception) when (exception.SqliteErrorCode is 10 or 13) // SQLITE_IOERR, SQLITE_FULL
                {
                }
            }
        }
        finally
        {
            await mend();
        }

        // Mended: the held usage is written, exactly once; sign-ups work again.
        await Poll.UntilAsync(async () => (await ReadUsageAsync(database)).Requests >= ledger.Requests, Bound);
        var usage = await ReadUsageAsync(database);
        Assert.Equal((ledger.Requests, ledger.TotalTokens), (usage.Requests, usage.TotalTokens));
        Assert.Equal(ledger.Requests, gateway.ChatServed.Count(s => s.Status == 200));
        // Sign-ups work again within the Retry-After (5 s) refused sign-ups were given: the outage is held that long
        // unless a write (a usage flush, a sign-up) proves the file writable sooner.
        await Poll.UntilAsync(async () => (await gateway.ChatAsync("newcomer-after-fault")).Status == 200, Bound);

        // Nothing stored was damaged: the file checks out and every user kept their group.
        Assert.Equal("ok", await ScalarAsync<string>(database, "PRAGMA integrity_check;"));
        var groupsAfter = await ReadGroupsAsync(database);
        foreach (var (user, group) in groupsBefore)
        {
            Assert.Equal(group, groupsAfter[user]);
        }
        Assert.All(signedUp, user => Assert.True(groupsAfter.ContainsKey(user), $"{user} was answered 200 but is not stored"));
        Assert.Equal(KnownUsers + signedUp.Count + 1, groupsAfter.Count);
        Assert.Equal(groupsAfter.Count, await ScalarAsync<long>(database, "SELECT SUM(user_count) FROM api_key_group_users;"));
    }

    /// <summary>What the clients were answered: requests and the tokens their answers reported.</summary>
    private sealed class UsageLedger
    {
        public long Requests { get; private set; }

        public long TotalTokens { get; private set; }

        public async Task ChatAsync(GatewayHarness gateway, string user, bool stream)
        {
            // Streams ask for usage themselves, so the client sees the usage chunk the gateway counts.
            var body = GatewayHarness.ChatBody(stream: stream, extra: stream ? "\"stream_options\":{\"include_usage\":true}" : null);
            using var response = await gateway.Http.SendAsync(gateway.ChatRequest(body, user));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{user}: {(int)response.StatusCode} {text}");
            if (stream)
            {
                Requests++;
                TotalTokens += StreamTokens(text);
            }
            else
            {
                Add(text);
            }
        }

        /// <summary>Counts a plain chat answer.</summary>
        public void Add(string json)
        {
            Requests++;
            TotalTokens += JsonDocument.Parse(json).RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64();
        }

        private static long StreamTokens(string sse) => sse.Split('\n')
            .Where(line => line.StartsWith("data: {", StringComparison.Ordinal) && line.Contains("\"usage\":{", StringComparison.Ordinal))
            .Select(line => JsonDocument.Parse(line[6..]).RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64())
            .Last();
    }

    private static async Task<(long Requests, long TotalTokens)> ReadUsageAsync(string database)
    {
        await using var connection = await OpenAsync(database);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(SUM(total_requests), 0), COALESCE(SUM(total_tokens), 0) FROM api_key_stats;";
        using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private static async Task<Dictionary<string, long>> ReadGroupsAsync(string database)
    {
        await using var connection = await OpenAsync(database);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, api_key_group FROM user_profiles;";
        using var reader = await command.ExecuteReaderAsync();
        var groups = new Dictionary<string, long>();
        while (await reader.ReadAsync())
        {
            groups[reader.GetString(0)] = reader.GetInt64(1);
        }
        return groups;
    }

    private static async Task<T> ScalarAsync<T>(string database, string sql)
    {
        await using var connection = await OpenAsync(database);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = await OpenAsync(database);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    // Unpooled, so the test's connections never hold the file after the test.
    private static async Task<SqliteConnection> OpenAsync(string database)
    {
        var connection = new SqliteConnection($"Data Source={database};Pooling=False;Default Timeout=5");
        await connection.OpenAsync();
        return connection;
    }
}
