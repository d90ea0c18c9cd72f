using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using KeyPool.Browser.Tests.Infrastructure;
using KeyPool.Emulator;
using KeyPool.Tests.Infrastructure;
using Microsoft.Playwright;
using static KeyPool.Browser.Tests.Dashboard.UsersTabTests;
using static Microsoft.Playwright.Assertions;

namespace KeyPool.Browser.Tests.Dashboard;

/// <summary>
/// Money on the API Keys and Users tabs, in headless Chromium: the figures shown are what the emulator billed, or — for
/// a model whose answers state no cost — the price table's estimate of what it served, marked "estimated".
/// </summary>
[Collection(ChromiumCollection.Name)]
public sealed class CostTabsTests(Chromium chromium)
{
    private const int TestTimeout = 60_000;
    private const string Billed = "grok-4.3";      // the emulator states its cost
    private const string Unbilled = "grok-3-mini"; // the emulator states none: the gateway estimates it

    // USD per million → ticks per token (1 USD = 10^10 ticks): whole numbers, so the expected figures are exact.
    private static readonly (long Input, long Cached, long Output) BilledPrice = (2_000, 500, 5_000);   // $0.20, $0.05, $0.50
    private static readonly (long Input, long Cached, long Output) UnbilledPrice = (3_000, 1_000, 6_000); // $0.30, $0.10, $0.60

    [Fact(Timeout = TestTimeout)]
    public async Task BothTabs_ShowTheCostTheEmulatorBilled_AndTheEstimateWhereItBilledNothing()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: Prices(), emulator: e => e.ModelsWithoutCost.Add(Unbilled));
        // One user per key group, so each group's figures are one user's; repeated turns of a conversation hit the cache.
        await gateway.PlaceUserAsync("payer", 1);
        await gateway.PlaceUserAsync("estimated", 2);
        var served = new Dictionary<string, List<ServedUsage>>(StringComparer.Ordinal);
        foreach (var (user, model, turns) in new[] { ("payer", Billed, 3), ("estimated", Unbilled, 2), ("estimated", Billed, 1) })
        {
            for (var turn = 0; turn < turns; turn++)
            {
                served.TryAdd(user, []);
                served[user].AddRange(await ChatAsync(gateway, user, model, $"the same long question from {user}, asked again"));
            }
        }
        var payer = Sum(served["payer"]);
        var estimated = Sum(served["estimated"]);
        Assert.True(payer.Cached > 0, "the repeated conversation never hit the emulator's prompt cache");
        Assert.True(served["estimated"].Any(u => u.CostInUsdTicks == 0), "the unbilled model was billed");
        await UntilHealthCountsAsync(gateway, payer.Cost + estimated.Cost);

        var page = await chromium.NewPageAsync();
        try
        {
            await OpenUsersTabAsync(page, gateway); // signs in on the API Keys tab first
            await page.Locator(".tab[data-tab='api-keys']").ClickAsync();
            await Expect(page.Locator("#dashboard")).ToBeVisibleAsync();

            var payerRow = page.Locator("#key-rows tr[data-group='1']");
            await Expect(Cell(payerRow, "cost_usd")).ToHaveTextAsync(Usd(payer.Cost));
            await Expect(Cell(payerRow, "cost_usd").Locator(".estimated")).ToHaveCountAsync(0); // all billed by the upstream
            await Expect(Cell(payerRow, "cached_share")).ToHaveTextAsync(Percent(payer.Cached, payer.Prompt));
            await Expect(Cell(payerRow, "saved_usd")).ToHaveTextAsync(Usd(payer.Saved));

            var estimatedRow = page.Locator("#key-rows tr[data-group='2']");
            await Expect(Cell(estimatedRow, "cost_usd")).ToHaveTextAsync($"{Usd(estimated.Cost)} estimated");
            await Expect(Cell(estimatedRow, "cost_usd").Locator(".estimated")).ToHaveAttributeAsync("title", new System.Text.RegularExpressions.Regex("price table"));
            await Expect(Cell(estimatedRow, "cached_share")).ToHaveTextAsync(Percent(estimated.Cached, estimated.Prompt));
            await Expect(Cell(estimatedRow, "saved_usd")).ToHaveTextAsync(Usd(estimated.Saved));

            await Expect(page.Locator("#total-cost")).ToHaveTextAsync($"{Usd(payer.Cost + estimated.Cost)} estimated");
            await Expect(page.Locator("#cost-detail")).ToHaveTextAsync(
                $"{Percent(payer.Cached + estimated.Cached, payer.Prompt + estimated.Prompt)} of prompt tokens from cache · stickiness saved {Usd(payer.Saved + estimated.Saved)} · {Usd(estimated.EstimatedPart)} estimated");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Artifacts.PathOf("dashboard-cost.png"), FullPage = true });

            await page.Locator(".tab[data-tab='users']").ClickAsync();
            var rows = page.Locator("#top-user-rows tr");
            await Expect(rows).ToHaveCountAsync(2);
            await Expect(page.Locator("#top-user-rows tr[data-user='payer'] td[data-label='Cost']")).ToHaveTextAsync(Usd(payer.Cost));
            await Expect(page.Locator("#top-user-rows tr[data-user='estimated'] td[data-label='Cost']")).ToHaveTextAsync($"{Usd(estimated.Cost)} estimated");

            await LookUpAsync(page, "payer");
            await Expect(page.Locator("#user-id")).ToHaveTextAsync("payer");
            await Expect(page.Locator("#cost-today")).ToHaveTextAsync(Usd(payer.Cost));
            await Expect(page.Locator("#cost-30d")).ToHaveTextAsync($"last 30 days {Usd(payer.Cost)}");
            await LookUpAsync(page, "estimated");
            await Expect(page.Locator("#user-id")).ToHaveTextAsync("estimated");
            await Expect(page.Locator("#cost-today")).ToHaveTextAsync($"{Usd(estimated.Cost)} estimated");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Artifacts.PathOf("dashboard-users-cost.png"), FullPage = true });
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    private static Dictionary<string, string?> Prices() => new()
    {
        [$"KeyPool:Models:Prices:{Billed}:InputPerMillion"] = "0.20",
        [$"KeyPool:Models:Prices:{Billed}:CachedInputPerMillion"] = "0.05",
        [$"KeyPool:Models:Prices:{Billed}:OutputPerMillion"] = "0.50",
        [$"KeyPool:Models:Prices:{Unbilled}:InputPerMillion"] = "0.30",
        [$"KeyPool:Models:Prices:{Unbilled}:CachedInputPerMillion"] = "0.10",
        [$"KeyPool:Models:Prices:{Unbilled}:OutputPerMillion"] = "0.60",
    };

    /// <summary>A user's figures from what the emulator served: its bill where it stated one, else the price table's estimate.</summary>
    private sealed record Money(long Prompt, long Cached, long Cost, long EstimatedPart, long Saved);

    private static Money Sum(IEnumerable<ServedUsage> usages)
    {
        long prompt = 0, cached = 0, cost = 0, estimatedPart = 0, saved = 0;
        foreach (var u in usages)
        {
            var price = u.CostInUsdTicks == 0 ? UnbilledPrice : BilledPrice; // only the unbilled model answers with no cost
            var estimate = ((u.InputTokens - u.CachedTokens) * price.Input) + (u.CachedTokens * price.Cached) + ((u.OutputTokens + u.ReasoningTokens) * price.Output);
            prompt += u.InputTokens;
            cached += u.CachedTokens;
            cost += u.CostInUsdTicks == 0 ? estimate : u.CostInUsdTicks;
            estimatedPart += u.CostInUsdTicks == 0 ? estimate : 0;
            saved += u.CachedTokens * (price.Input - price.Cached);
        }
        return new Money(prompt, cached, cost, estimatedPart, saved);
    }

    // What reached the emulator for this one request (sent one at a time, so the new served entries are its own).
    private static async Task<IReadOnlyList<ServedUsage>> ChatAsync(GatewayHarness gateway, string user, string model, string content)
    {
        var before = gateway.Emulator.Served.Count;
        using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(content, model: model), user));
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(model != Unbilled, body.GetProperty("usage").TryGetProperty("cost_in_usd_ticks", out _));
        var usages = gateway.Emulator.Served.Skip(before).Where(s => s.Path.EndsWith("/chat/completions", StringComparison.Ordinal) && s.Usage is not null).Select(s => s.Usage!).ToArray();
        Assert.Single(usages);
        return usages;
    }

    // The store's totals behind health are read about once a second: wait (bounded) until they hold what was sent.
    private static async Task UntilHealthCountsAsync(GatewayHarness gateway, long ticks)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var cost = (await gateway.HealthAsync()).GetProperty("pool").GetProperty("cost").GetProperty("cost_ticks").GetInt64();
            if (cost == ticks)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"health never counted {ticks} ticks: it shows {cost}");
            await Task.Delay(100);
        }
    }

    private static ILocator Cell(ILocator row, string field) => row.Locator($"td[data-field='{field}']");

    // As the page writes USD: to the cent from $1 up, else to 10^-8 USD without trailing zeros past the cents.
    private static string Usd(long ticks)
    {
        var usd = (decimal)ticks / 10_000_000_000m;
        return "$" + usd.ToString(usd >= 1 ? "#,##0.00" : "0.00######", CultureInfo.InvariantCulture);
    }

    private static string Percent(long part, long whole) =>
        (whole == 0 ? 0 : Math.Round((double)part / whole, 4) * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";
}
