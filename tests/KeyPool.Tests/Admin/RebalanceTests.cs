using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KeyPool.CommandLine;
using KeyPool.Sqlite;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Admin;

/// <summary>Rebalancing through the admin API and the command line, on a real SQLite file.</summary>
public sealed class RebalanceTests
{
    private static async Task PlaceAsync(string database, int group, int count, string prefix)
    {
        await using var store = new SqliteStore($"Data Source={database}", TimeProvider.System);
        await store.InitializeAsync(CancellationToken.None);
        for (var i = 0; i < count; i++)
        {
            await store.GetOrAssignAsync($"{prefix}-{i}", "free", [group], CancellationToken.None);
        }
    }

    private static async Task<Dictionary<int, long>> CountsAsync(string database)
    {
        await using var store = new SqliteStore($"Data Source={database}", TimeProvider.System);
        return (await store.CountUsersByGroupAsync(CancellationToken.None)).ToDictionary(p => p.Key, p => p.Value);
    }

    [Fact]
    public async Task AdminRebalance_DryRunPlans_ThenMovesTheFewest_RemovedGroupFirst()
    {
        var keys = new Dictionary<int, string> { [1] = GatewayHarness.KeyFor(1), [2] = GatewayHarness.KeyFor(2), [3] = GatewayHarness.KeyFor(3) };
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 4, groupKeys: keys);
        await PlaceAsync(gateway.DatabasePath, 1, 9, "a");
        await PlaceAsync(gateway.DatabasePath, 4, 6, "gone"); // group 4 has no key any more
        using (await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "gone-0"))) // cached as group 4
        {
        }

        using var dry = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/rebalance?dryRun=true"));
        var plan = await dry.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(10, plan.GetProperty("planned").GetInt64()); // 9,0,0,6 → 5,5,5: 6 from group 4, 4 from group 1
        Assert.Equal(0, plan.GetProperty("moved").GetInt64());
        Assert.Equal(new Dictionary<int, long> { [1] = 9, [4] = 6 }, await CountsAsync(gateway.DatabasePath));

        using var run = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/rebalance"));
        Assert.Equal(10, (await run.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("moved").GetInt64());

        Assert.Equal(new Dictionary<int, long> { [1] = 5, [2] = 5, [3] = 5 }, await CountsAsync(gateway.DatabasePath));
        Assert.NotEqual(4, await gateway.GroupOfAsync("gone-0")); // the cache forgot the old group
        using var again = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/rebalance"));
        Assert.Equal(0, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("moved").GetInt64());
    }

    [Fact]
    public async Task CommandLine_Rebalance_DryRunChangesNothing_RunEvensOut_InSmallBatches()
    {
        var directory = Directory.CreateTempSubdirectory("keypool-rebalance-").FullName;
        var database = Path.Combine(directory, "keypool.db");
        try
        {
            await PlaceAsync(database, 1, 20, "x");
            await PlaceAsync(database, 2, 1, "y");
            string[] settings = [$"--ConnectionStrings:KeyPool=Data Source={database}", "--KeyPool:Keys:EnvPrefix=REBALANCE_KEY",
                "--REBALANCE_KEY=xai-rebalance-key-00000001", "--REBALANCE_KEY_2=xai-rebalance-key-00000002", "--REBALANCE_KEY_3=xai-rebalance-key-00000003"];

            Assert.Equal(0, await KeyPoolCommandLine.Create().Parse(["rebalance", "--dry-run", .. settings]).InvokeAsync());
            Assert.Equal(new Dictionary<int, long> { [1] = 20, [2] = 1 }, await CountsAsync(database));
            Assert.Equal(0, await KeyPoolCommandLine.Create().Parse(["rebalance", "--batch-size", "3", .. settings]).InvokeAsync());

            Assert.Equal(new Dictionary<int, long> { [1] = 7, [2] = 7, [3] = 7 }, await CountsAsync(database));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
