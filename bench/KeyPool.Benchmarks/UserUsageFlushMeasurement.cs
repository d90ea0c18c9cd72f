using System.Diagnostics;
using System.Globalization;
using KeyPool.Core.Usage;
using KeyPool.Postgres;
using KeyPool.Sqlite;
using KeyPool.TestServers;

namespace KeyPool.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project bench/KeyPool.Benchmarks -- user-usage-flush [users] [sqlite|postgres|both]</c>:
/// one usage flush with this many users' rows pending (issue 13: 5,000,000 must not make the flush slow), on a
/// SQLite file and on a throwaway PostgreSQL server. Each store gets two flushes: new rows (a day's first flush),
/// then the same users again (every row an update). Not BenchmarkDotNet: one flush of millions of rows is the unit.
/// </summary>
internal static class UserUsageFlushMeasurement
{
    public static async Task RunAsync(string[] args)
    {
        var users = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5_000_000;
        var which = args.Length > 1 ? args[1] : "both";
        var ids = Enumerable.Range(0, users).Select(i => $"user-{i:D8}").ToArray();
        Console.WriteLine($"user-usage-flush: {users:N0} users pending, {Environment.ProcessorCount} cores");

        var directory = Directory.CreateTempSubdirectory("keypool-flush-bench-").FullName;
        try
        {
            if (which is "sqlite" or "both")
            {
                await using var sqlite = new SqliteStore($"Data Source={Path.Combine(directory, "keypool.db")}", TimeProvider.System);
                await sqlite.InitializeAsync(CancellationToken.None);
                await MeasureAsync("SQLite", sqlite, ids);
            }
            if (which is "postgres" or "both")
            {
                await using var server = await PostgresServer.StartAsync();
                await using var postgres = new PostgresStore(server.ConnectionString(await server.CreateDatabaseAsync("flush")), TimeProvider.System, migrate: true);
                await postgres.InitializeAsync(CancellationToken.None);
                await MeasureAsync("PostgreSQL", postgres, ids);
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task MeasureAsync(string name, IUserUsageStore store, string[] ids)
    {
        var recorder = new UserUsageRecorder(TimeProvider.System, maxPendingRows: ids.Length + 1);
        foreach (var round in new[] { "new rows", "updates" })
        {
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var record = Stopwatch.StartNew();
            var sample = new UsageSample(1, 200, 120, 40, 80, 20, 240);
            foreach (var id in ids)
            {
                recorder.Record(id, sample);
            }
            record.Stop();
            var held = GC.GetTotalMemory(forceFullCollection: true) - before;
            var flush = Stopwatch.StartNew();
            var rows = await recorder.FlushAsync(store, CancellationToken.None);
            flush.Stop();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-10} {round,-8}: recorded {ids.Length:N0} users in {record.Elapsed.TotalSeconds:F1} s ({held / ids.Length} B held per pending row); flush of {rows:N0} rows {flush.Elapsed.TotalSeconds:F1} s ({rows / flush.Elapsed.TotalSeconds:N0} rows/s)"));
            await recorder.FlushAsync(store, CancellationToken.None); // idle entries leave the table
        }
        var top = await store.TopAsync(DateOnly.FromDateTime(DateTime.UtcNow), UserUsageOrder.Tokens, 50, CancellationToken.None);
        var query = Stopwatch.StartNew();
        top = await store.TopAsync(DateOnly.FromDateTime(DateTime.UtcNow), UserUsageOrder.Requests, 50, CancellationToken.None);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-10} top 50 of {ids.Length:N0} by requests: {query.Elapsed.TotalMilliseconds:F0} ms ({top.Count} rows)"));
    }
}
