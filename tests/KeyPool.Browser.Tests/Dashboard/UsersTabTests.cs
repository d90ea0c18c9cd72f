using System.Net.Http.Json;
using System.Text.Json;
using KeyPool.Browser.Tests.Infrastructure;
using KeyPool.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace KeyPool.Browser.Tests.Dashboard;

/// <summary>The <c>/admin#users</c> tab in headless Chromium against a real gateway and emulator.</summary>
[Collection(ChromiumCollection.Name)]
public sealed class UsersTabTests(Chromium chromium)
{
    private const int TestTimeout = 45_000;

    // Printable, so a valid user id, and it would run script if the page ever rendered it as HTML.
    private const string HostileUser = "<img src=x onerror=\"document.title='pwned'\"> & \"carol\"";

    private static readonly Dictionary<string, string?> GatewayKeysOn = new() { ["KeyPool:Auth:GatewayKeys:Enabled"] = "true" };

    [Fact(Timeout = TestTimeout)]
    public async Task LookUp_ShowsGroupAndTier_AsText_IssuesAKeyShownOnce_ListsAndRevokesIt()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3, settings: GatewayKeysOn);
        Assert.Equal(200, (await gateway.ChatAsync(HostileUser)).Status);
        var user = await UserAsync(gateway, HostileUser);
        var page = await chromium.NewPageAsync();
        var external = WatchExternalRequests(page, gateway);
        try
        {
            await OpenUsersTabAsync(page, gateway);
            await LookUpAsync(page, HostileUser);

            await Expect(page.Locator("#user-id")).ToHaveTextAsync(HostileUser);
            await Expect(page.Locator("#user-details img")).ToHaveCountAsync(0);
            await Expect(page.Locator("#user-group")).ToHaveTextAsync($"#{user.GetProperty("apiKeyGroup").GetInt32()}");
            await Expect(page.Locator("#user-tier")).ToHaveTextAsync(user.GetProperty("tier").GetString()!);
            await Expect(page.Locator("#gateway-keys-note")).ToHaveTextAsync("No gateway key yet.");
            await Expect(page.Locator("#gateway-key-rows tr")).ToHaveCountAsync(0);

            await page.Locator("#issue-key").ClickAsync();

            await Expect(page.Locator("#new-key")).ToBeVisibleAsync();
            var secret = (await page.Locator("#new-key-secret").TextContentAsync())!;
            Assert.StartsWith("kp-", secret, StringComparison.Ordinal);
            var row = page.Locator("#gateway-key-rows tr");
            await Expect(row).ToHaveCountAsync(1);
            await Expect(row).ToHaveClassAsync("state-active");
            await Expect(row.Locator("td[data-label='Key']")).ToHaveTextAsync(secret[..7] + "…"); // the list shows the prefix only
            Assert.Equal(200, await ChatWithKeyAsync(gateway, secret)); // the key works, as its user
            Assert.DoesNotContain(secret, await page.EvaluateAsync<string>("JSON.stringify(sessionStorage) + JSON.stringify(localStorage)"), StringComparison.Ordinal);

            await page.Locator("#new-key-dismiss").ClickAsync();
            await Expect(page.Locator("#new-key")).ToBeHiddenAsync();
            Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal); // shown once, gone

            var revoke = row.Locator("button.revoke");
            await revoke.ClickAsync();
            await Expect(revoke).ToHaveTextAsync("Confirm revoke"); // one stray click revokes nothing
            Assert.Equal(200, await ChatWithKeyAsync(gateway, secret));
            await revoke.ClickAsync();

            await Expect(row).ToHaveClassAsync("state-revoked");
            await Expect(row.Locator(".badge")).ToHaveTextAsync("revoked");
            await Expect(page.Locator("#user-action-status")).ToContainTextAsync("revoked");
            Assert.Equal(401, await ChatWithKeyAsync(gateway, secret));
            Assert.NotEqual("pwned", await page.TitleAsync());
            Assert.Empty(external);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Artifacts.PathOf("dashboard-users.png"), FullPage = true });
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    [Fact(Timeout = TestTimeout)]
    public async Task UnknownUser_IsSaid_AndGatewayKeysOff_AreSaidInsteadOfTheList()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2);
        Assert.Equal(200, (await gateway.ChatAsync("dave")).Status);
        var page = await chromium.NewPageAsync();
        try
        {
            await OpenUsersTabAsync(page, gateway);

            await LookUpAsync(page, "nobody-here");
            await Expect(page.Locator("#user-error")).ToHaveTextAsync("No user 'nobody-here'.");
            await Expect(page.Locator("#user-details")).ToBeHiddenAsync();

            await LookUpAsync(page, "dave");
            await Expect(page.Locator("#user-details")).ToBeVisibleAsync();
            await Expect(page.Locator("#user-error")).ToBeHiddenAsync();
            await Expect(page.Locator("#gateway-keys-note")).ToContainTextAsync("Gateway keys are off");
            await Expect(page.Locator("#issue-key")).ToBeDisabledAsync();

            // The API Keys tab is one click away and still live.
            await page.Locator(".tab[data-tab='api-keys']").ClickAsync();
            await Expect(page.Locator("#dashboard")).ToBeVisibleAsync();
            await Expect(page.Locator("#users-tab")).ToBeHiddenAsync();
            await Expect(page.Locator(".tab.active")).ToHaveTextAsync("API Keys");
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    [Fact(Timeout = TestTimeout)]
    public async Task SignedOut_TheUsersTabShowsNothing_UntilSignIn()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1);
        var page = await chromium.NewPageAsync();
        try
        {
            await page.GotoAsync(new Uri(gateway.BaseAddress, "/admin#users").ToString());

            await Expect(page.Locator("#sign-in")).ToBeVisibleAsync();
            await Expect(page.Locator("#users-tab")).ToBeHiddenAsync();
            await Expect(page.Locator(".tab.active")).ToHaveTextAsync("Users");
            await page.Locator("#token").FillAsync(GatewayHarness.AdminToken);
            await page.Locator("#sign-in-button").ClickAsync();
            await Expect(page.Locator("#users-tab")).ToBeVisibleAsync();
            await Expect(page.Locator("#dashboard")).ToBeHiddenAsync();

            await page.Locator("#sign-out").ClickAsync();
            await Expect(page.Locator("#users-tab")).ToBeHiddenAsync();
            await Expect(page.Locator("#sign-in")).ToBeVisibleAsync();
        }
        finally
        {
            await page.CloseAsync();
        }
    }

    internal static async Task OpenUsersTabAsync(IPage page, GatewayHarness gateway)
    {
        await page.GotoAsync(new Uri(gateway.BaseAddress, "/admin").ToString());
        await page.Locator("#token").FillAsync(GatewayHarness.AdminToken);
        await page.Locator("#sign-in-button").ClickAsync();
        await Expect(page.Locator("#dashboard")).ToBeVisibleAsync();
        await page.Locator(".tab[data-tab='users']").ClickAsync();
        await Expect(page.Locator("#users-tab")).ToBeVisibleAsync();
        await Expect(page.Locator(".tab.active")).ToHaveTextAsync("Users");
    }

    internal static async Task LookUpAsync(IPage page, string user)
    {
        await page.Locator("#user-search").FillAsync(user);
        await page.Locator("#user-search-button").ClickAsync();
    }

    internal static List<string> WatchExternalRequests(IPage page, GatewayHarness gateway)
    {
        var external = new List<string>();
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(gateway.BaseAddress.GetLeftPart(UriPartial.Authority), StringComparison.Ordinal))
            {
                external.Add(request.Url);
            }
        };
        return external;
    }

    internal static async Task<JsonElement> UserAsync(GatewayHarness gateway, string user)
    {
        using var response = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Get, $"/api/admin/users/{Uri.EscapeDataString(user)}"));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<int> ChatWithKeyAsync(GatewayHarness gateway, string key)
    {
        using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), user: null, token: key));
        return (int)response.StatusCode;
    }
}
