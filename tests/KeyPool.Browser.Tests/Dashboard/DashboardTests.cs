using System.Globalization;
using System.Text.RegularExpressions;
using System.Text.Json;
using KeyPool.Browser.Tests.Infrastructure;
using KeyPool.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace KeyPool.Browser.Tests.Dashboard;

/// <summary>The <c>/admin</c> API Keys tab in headless Chromium against a real gateway and emulator.</summary>
[Collection(ChromiumCollection.Name)]
public sealed class DashboardTests(Chromium chromium)
{
    private const int TestTimeout = 30_000;
    // The page polls every 3 s; a change must show within one interval plus the time of one poll.
    private const float RefreshBound = 5_000;
    private static readonly string TokenKey = "keypool.adminToken";

    [Fact(Timeout = TestTimeout)]
    public async Task WrongToken_IsRefused_AndNoDataIsShown()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3);
        await gateway.ChatAsync("someone");
        var page = await chromium.NewPageAsync();
        try
        {
            await page.GotoAsync(new Uri(gateway.BaseAddress, "/admin").ToString());
            await page.Locator("#token").FillAsync("not-the-admin-token");
            await page.Locator("#sign-in-button").ClickAsync();

            await Expect(page.Locator("#sign-in-error")).ToBeVisibleAsync();
            await Expect(page.Locator("#sign-in-error")).ToContainTextAsync("Wrong token");
            await Expect(page.Locator("#dashboard")).ToBeHiddenAsync();
            await Expect(page.Locator("#key-rows tr")).ToHaveCountAsync(0);
            Assert.Null(await page.EvaluateAsync<string?>($"sessionStorage.getItem('{TokenKey}')"));
            Assert.DoesNotContain("not-the-admin-token", page.Url, StringComparison.Ordinal);
            Assert.DoesNotContain("xai-", await page.ContentAsync(), StringComparison.Ordinal);
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    [Fact(Timeout = TestTimeout)]
    public async Task SignIn_ShowsEveryKey_MatchingTheTrafficSent()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 4);
        var sent = new Dictionary<string, int> { ["alice"] = 3, ["bob"] = 1, ["carol"] = 2, ["dave"] = 1, ["erin"] = 4, ["frank"] = 1 };
        var requests = new Dictionary<int, long>();
        var tokens = new Dictionary<int, long>();
        var users = new Dictionary<int, int>();
        foreach (var (user, count) in sent)
        {
            for (var i = 0; i < count; i++)
            {
                var (status, total) = await ChatAsync(gateway, user, $"message {i} from {user}");
                Assert.Equal(200, status);
                var group = await gateway.GroupOfAsync(user);
                requests[group] = requests.GetValueOrDefault(group) + 1;
                tokens[group] = tokens.GetValueOrDefault(group) + total;
            }
            var assigned = await gateway.GroupOfAsync(user);
            users[assigned] = users.GetValueOrDefault(assigned) + 1;
        }
        var allRequests = requests.Values.Sum();

        var page = await chromium.NewPageAsync();
        try
        {
            await SignInAsync(page, gateway);

            await Expect(page.Locator("#key-rows tr")).ToHaveCountAsync(4);
            await Expect(page.Locator("#keys-detected")).ToHaveTextAsync("4");
            await Expect(page.Locator("#total-requests")).ToHaveTextAsync(Number(allRequests));
            await Expect(page.Locator("#quality-sticky")).ToHaveTextAsync("100.0% sticky"); // light load: every request on its user's key
            await Expect(page.Locator("#quality-detail")).ToContainTextAsync($"goodput 100.0% · {Number(allRequests)} served · 0 refused");
            await Expect(page.Locator("#measured-detail")).ToContainTextAsync("Too little traffic to measure"); // says so instead of guessing
            for (var group = 1; group <= 4; group++)
            {
                var row = page.Locator($"#key-rows tr[data-group='{group}']");
                await Expect(row).ToHaveClassAsync("state-active");
                await Expect(Cell(row, "masked_key")).ToHaveTextAsync(new Regex(@"^xai-…\w{4}$"));
                await Expect(Cell(row, "user_count")).ToHaveTextAsync(Number(users.GetValueOrDefault(group)));
                await Expect(Cell(row, "total_requests")).ToHaveTextAsync(Number(requests.GetValueOrDefault(group)));
                await Expect(Cell(row, "total_tokens")).ToHaveTextAsync(Number(tokens.GetValueOrDefault(group)));
                var load = Math.Round(100.0 * requests.GetValueOrDefault(group) / allRequests, 2).ToString("F1", CultureInfo.InvariantCulture);
                await Expect(Cell(row, "load_percent")).ToHaveTextAsync($"{load}%");
                await Expect(Cell(row, "rpm")).ToContainTextAsync("/ 480");
                await Expect(Cell(row, "errors_429")).ToHaveTextAsync("0");
                await Expect(Cell(row, "last_request_at")).ToContainTextAsync("ago");
                await Expect(page.Locator($"#users-chart rect[data-group='{group}']")).ToHaveAttributeAsync("data-users", Number(users.GetValueOrDefault(group)));
                // Every group that served traffic has its line in the last-hour chart.
                await Expect(page.Locator($"#history-chart polyline[data-group='{group}']")).ToHaveCountAsync(requests.ContainsKey(group) ? 1 : 0);
            }

            var html = await page.ContentAsync();
            Assert.All(gateway.Keys, key => Assert.DoesNotContain(key, html, StringComparison.Ordinal));
            Assert.DoesNotContain(GatewayHarness.AdminToken, page.Url, StringComparison.Ordinal);
            Assert.Equal(GatewayHarness.AdminToken, await page.EvaluateAsync<string>($"sessionStorage.getItem('{TokenKey}')"));

            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Artifacts.PathOf("dashboard.png"), FullPage = true });

            // Phone width: the table turns into cards, and nothing makes the page scroll sideways.
            await page.SetViewportSizeAsync(390, 844);
            await Expect(page.Locator("#keys-table thead")).ToBeHiddenAsync();
            Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"), "the page overflows a 390 px screen");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Artifacts.PathOf("dashboard-390px.png"), FullPage = true });
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    [Fact(Timeout = TestTimeout)]
    public async Task KeyRevokedUpstream_TurnsItsRowRed_WithinTheRefreshInterval()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3);
        foreach (var user in new[] { "u1", "u2", "u3" })
        {
            Assert.Equal(200, (await gateway.ChatAsync(user)).Status);
        }
        var victim = await gateway.GroupOfAsync("u2");
        var page = await chromium.NewPageAsync();
        try
        {
            await SignInAsync(page, gateway);
            var row = page.Locator($"#key-rows tr[data-group='{victim}']");
            await Expect(row).ToHaveClassAsync("state-active");
            var normalBackground = await BackgroundOf(row);

            gateway.Emulator.Faults.Revoke(gateway.Keys[victim - 1]);
            // The gateway learns of it from the next request on that key, and retries the request on another key.
            Assert.Equal(200, (await ChatAsync(gateway, "u2", "after the revocation")).Status);

            await Expect(row).ToHaveClassAsync("state-revoked", new() { Timeout = RefreshBound });
            await Expect(row.Locator(".badge")).ToHaveTextAsync("revoked");
            await Expect(page.Locator("#health-message")).ToContainTextAsync("revoked", new() { Timeout = RefreshBound });
            Assert.Equal("rgb(253, 228, 228)", await BackgroundOf(row)); // --revoked-bg
            Assert.NotEqual(normalBackground, await BackgroundOf(row));
            await Expect(page.Locator($"#key-rows tr:not([data-group='{victim}'])")).ToHaveClassAsync([new Regex("state-active"), new Regex("state-active")]);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Artifacts.PathOf("dashboard-revoked.png"), FullPage = true });
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Assets_AreServedByTheGateway_WithAStrictContentSecurityPolicy()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1);
        var page = await chromium.NewPageAsync();
        var external = new List<string>();
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(gateway.BaseAddress.GetLeftPart(UriPartial.Authority), StringComparison.Ordinal))
            {
                external.Add(request.Url);
            }
        };
        try
        {
            var response = await page.GotoAsync(new Uri(gateway.BaseAddress, "/admin").ToString());
            Assert.NotNull(response);
            Assert.Contains("script-src 'self'", await response.HeaderValueAsync("content-security-policy") ?? "", StringComparison.Ordinal);
            await Expect(page.Locator(".tab.active")).ToHaveTextAsync("API Keys");
            await SignInAsync(page, gateway);
            await Expect(page.Locator("#key-rows tr")).ToHaveCountAsync(1);
            Assert.Empty(external);
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    private static async Task SignInAsync(IPage page, GatewayHarness gateway)
    {
        await page.GotoAsync(new Uri(gateway.BaseAddress, "/admin").ToString());
        await page.Locator("#token").FillAsync(GatewayHarness.AdminToken);
        await page.Locator("#sign-in-button").ClickAsync();
        await Expect(page.Locator("#dashboard")).ToBeVisibleAsync();
        await Expect(page.Locator("#sign-in")).ToBeHiddenAsync();
    }

    private static ILocator Cell(ILocator row, string field) => row.Locator($"td[data-field='{field}']");

    private static Task<string> BackgroundOf(ILocator row) => row.EvaluateAsync<string>("r => getComputedStyle(r).backgroundColor");

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static async Task<(int Status, long TotalTokens)> ChatAsync(GatewayHarness gateway, string user, string content = "Hello")
    {
        using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(content), user));
        var body = await response.Content.ReadAsStringAsync();
        var total = response.IsSuccessStatusCode ? JsonDocument.Parse(body).RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64() : 0;
        return ((int)response.StatusCode, total);
    }
}
