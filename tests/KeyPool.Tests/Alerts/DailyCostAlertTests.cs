using System.Globalization;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;
using KeyPool.TestServers;

namespace KeyPool.Tests.Alerts;

/// <summary>The <c>daily_cost</c> alert on the day's real cost: the store's rows of today plus what waits in memory, on SQLite and PostgreSQL.</summary>
public sealed class DailyCostAlertTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public Task DailyCost_PassingTheCeiling_PostsOneAlert_WithTheCost_NamingNoKey_Sqlite() => PostsOneAlertAsync(new Dictionary<string, string?>());

    [Fact]
    public async Task DailyCost_PassingTheCeiling_PostsOneAlert_WithTheCost_NamingNoKey_Postgres()
    {
        await using var server = await PostgresServer.StartAsync();
        await PostsOneAlertAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:KeyPool"] = await server.CreateDatabaseAsync(),
            ["KeyPool:Migrate"] = "true",
        });
    }

    private static async Task PostsOneAlertAsync(Dictionary<string, string?> settings)
    {
        await using var receiver = await HttpReceiver.StartAsync();
        settings["KeyPool:Alerts:Webhooks:0:Url"] = new Uri(receiver.BaseAddress, "/hooks/ops").ToString();
        settings["KeyPool:Alerts:DailyCostAbove"] = "0.000001"; // below one emulator answer (≈ 10^5 ticks = 0.00001 USD)
        settings["KeyPool:Alerts:CostCheckInterval"] = "00:00:00.200";
        settings["KeyPool:Usage:FlushInterval"] = "00:00:00.200";
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: settings);
        await Task.Delay(1500); // several checks on an empty day: nothing to say yet
        Assert.Empty(receiver.Received);

        var (status, _, body) = await gateway.ChatAsync("spender");
        Assert.Equal(200, status);
        var ticks = JsonDocument.Parse(body).RootElement.GetProperty("usage").GetProperty("cost_in_usd_ticks").GetInt64();
        Assert.True(ticks > 10_000, $"the emulator billed {ticks} ticks");

        Assert.True(await receiver.WaitForAsync(r => !r.Received.IsEmpty, Bound), "the daily_cost alert arrived within 30 s");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(200, (await gateway.ChatAsync("spender")).Status); // still above: folded, not announced again
        }
        await Task.Delay(2000);

        var alert = JsonDocument.Parse(Assert.Single(receiver.Received).Body).RootElement;
        Assert.Equal("firing", alert.GetProperty("status").GetString());
        Assert.Equal("daily_cost", alert.GetProperty("alert").GetString());
        Assert.Equal(JsonValueKind.Null, alert.GetProperty("key_group").ValueKind);
        var usd = ((decimal)ticks / 10_000_000_000m).ToString("0.00######", CultureInfo.InvariantCulture);
        Assert.Contains($"today's upstream cost is {usd} USD", alert.GetProperty("reason").GetString(), StringComparison.Ordinal);
        foreach (var text in receiver.Texts)
        {
            Assert.All(gateway.Keys, key => Assert.DoesNotContain(key, text, StringComparison.Ordinal));
            Assert.DoesNotContain("xai-", text, StringComparison.Ordinal);
        }
    }
}
