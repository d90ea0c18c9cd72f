using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using KeyPool.Browser.Tests.Infrastructure;
using KeyPool.Tests.Infrastructure;
using static KeyPool.Browser.Tests.Dashboard.UsersTabTests;
using static Microsoft.Playwright.Assertions;

namespace KeyPool.Browser.Tests.Dashboard;

/// <summary>The Users tab's usage figures, top users and changes of tier and group, in headless Chromium.</summary>
[Collection(ChromiumCollection.Name)]
public sealed class UsersTabUsageTests(Chromium chromium)
{
    private const int TestTimeout = 45_000;

    [Fact(Timeout = TestTimeout)]
    public async Task TopUsersToday_AndAUsersUsage_MatchWhatTheEmulatorServed()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3);
        var sent = new Dictionary<string, (int Requests, long Tokens)>();
        foreach (var (user, count) in new[] { ("heavy-user", 3), ("light-user", 1) })
        {
            for (var i = 0; i < count; i++)
            {
                var tokens = await ChatAsync(gateway, user, $"message {i} from {user}");
                var (requests, total) = sent.GetValueOrDefault(user);
                sent[user] = (requests + 1, total + tokens);
            }
        }
        await UntilTopUsersCountAsync(gateway, sent);
        var page = await chromium.NewPageAsync();
        try
        {
            await OpenUsersTabAsync(page, gateway);

            var rows = page.Locator("#top-user-rows tr");
            await Expect(rows).ToHaveCountAsync(2);
            await Expect(rows.Nth(0)).ToHaveAttributeAsync("data-user", "heavy-user"); // by tokens, heaviest first
            await Expect(rows.Nth(0).Locator("td[data-label='Requests']")).ToHaveTextAsync("3");
            await Expect(rows.Nth(0).Locator("td[data-label='Tokens']")).ToHaveTextAsync(Number(sent["heavy-user"].Tokens));
            await Expect(rows.Nth(1).Locator("td[data-label='Tokens']")).ToHaveTextAsync(Number(sent["light-user"].Tokens));

            await rows.Nth(0).Locator("button.link").ClickAsync(); // a top user opens their lookup

            await Expect(page.Locator("#user-id")).ToHaveTextAsync("heavy-user");
            await Expect(page.Locator("#usage-today")).ToHaveTextAsync($"{Number(sent["heavy-user"].Tokens)} tokens");
            await Expect(page.Locator("#usage-today-detail")).ToContainTextAsync("3 requests");
            await Expect(page.Locator("#usage-30d")).ToHaveTextAsync($"{Number(sent["heavy-user"].Tokens)} tokens");
            var bars = page.Locator("#usage-chart rect.bar");
            await Expect(bars).ToHaveCountAsync(30);
            await Expect(bars.Nth(29)).ToHaveAttributeAsync("data-tokens", sent["heavy-user"].Tokens.ToString(CultureInfo.InvariantCulture));
            await Expect(bars.Nth(28)).ToHaveAttributeAsync("data-tokens", "0");
            await page.ScreenshotAsync(new Microsoft.Playwright.PageScreenshotOptions { Path = Artifacts.PathOf("dashboard-users-usage.png"), FullPage = true });

            // Phone width: nothing makes the page scroll sideways.
            await page.SetViewportSizeAsync(390, 844);
            Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"), "the Users tab overflows a 390 px screen");
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    [Fact(Timeout = TestTimeout)]
    public async Task ChangeTier_AndMoveGroup_TakeEffect_AndAnUnknownTierIsSaid()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Tiers:pro:RequestsPerMinute"] = "1000",
        });
        Assert.Equal(200, (await gateway.ChatAsync("mover")).Status);
        var from = await gateway.GroupOfAsync("mover");
        var to = (from % 3) + 1;
        var page = await chromium.NewPageAsync();
        try
        {
            await OpenUsersTabAsync(page, gateway);
            await LookUpAsync(page, "mover");
            await Expect(page.Locator("#user-group")).ToHaveTextAsync($"#{from}");

            await page.Locator("#tier-input").FillAsync("pro");
            await page.Locator("#tier-button").ClickAsync();
            await Expect(page.Locator("#user-tier")).ToHaveTextAsync("pro");
            await Expect(page.Locator("#user-action-status")).ToHaveTextAsync("Tier changed to pro.");
            Assert.Equal("pro", (await UserAsync(gateway, "mover")).GetProperty("tier").GetString());

            await page.Locator("#group-input").FillAsync(to.ToString(CultureInfo.InvariantCulture));
            await page.Locator("#group-button").ClickAsync();
            await Expect(page.Locator("#user-group")).ToHaveTextAsync($"#{to}");
            Assert.Equal(to, await gateway.GroupOfAsync("mover"));
            Assert.Equal(200, (await gateway.ChatAsync("mover")).Status);
            Assert.Equal(to, gateway.GroupsThatServed("mover")[^1]); // served by the new group's key at once

            await page.Locator("#tier-input").FillAsync("no-such-tier");
            await page.Locator("#tier-button").ClickAsync();
            await Expect(page.Locator("#user-action-status")).ToContainTextAsync("Unknown tier 'no-such-tier'");
            await Expect(page.Locator("#user-action-status")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("error"));
            await Expect(page.Locator("#user-tier")).ToHaveTextAsync("pro");
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    // Usage is recorded as each attempt completes: wait (bounded) until the API counts what was sent.
    private static async Task UntilTopUsersCountAsync(GatewayHarness gateway, Dictionary<string, (int Requests, long Tokens)> sent)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            using var response = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Get, "/api/admin/users?top=50&by=tokens"));
            var users = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("users").EnumerateArray()
                .ToDictionary(u => u.GetProperty("id").GetString()!, u => (u.GetProperty("requests").GetInt32(), u.GetProperty("totalTokens").GetInt64()));
            if (sent.All(s => users.TryGetValue(s.Key, out var counted) && counted == s.Value))
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"usage per user never matched what was sent: {JsonSerializer.Serialize(users)}");
            await Task.Delay(50);
        }
    }

    private static async Task<long> ChatAsync(GatewayHarness gateway, string user, string content)
    {
        using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(content), user));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("usage").GetProperty("total_tokens").GetInt64();
    }

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
