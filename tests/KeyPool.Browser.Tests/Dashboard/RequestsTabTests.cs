using KeyPool.Browser.Tests.Infrastructure;
using KeyPool.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace KeyPool.Browser.Tests.Dashboard;

/// <summary>The <c>/admin#requests</c> tab in headless Chromium against a real gateway and emulator.</summary>
[Collection(ChromiumCollection.Name)]
public sealed class RequestsTabTests(Chromium chromium)
{
    private const int TestTimeout = 45_000;

    // Printable, so a valid user id, and it would run script if the page ever rendered it as HTML.
    private const string HostileUser = "<img src=x onerror=\"document.title='pwned'\">";

    [Fact(Timeout = TestTimeout)]
    public async Task ListsThisInstancesLastRequests_AsText_FilteredByUserGroupAndStatus()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2);
        Assert.Equal(200, (await gateway.ChatAsync("alice")).Status);
        Assert.Equal(200, (await gateway.ChatAsync(HostileUser)).Status);
        Assert.Equal(200, (await gateway.ChatAsync("alice", stream: true)).Status);
        using (await gateway.Http.SendAsync(gateway.ChatRequest("{not json", "alice")))
        {
        }
        var aliceGroup = await gateway.GroupOfAsync("alice");
        var page = await chromium.NewPageAsync();
        try
        {
            await page.GotoAsync(new Uri(gateway.BaseAddress, "/admin").ToString());
            await page.Locator("#token").FillAsync(GatewayHarness.AdminToken);
            await page.Locator("#sign-in-button").ClickAsync();
            await Expect(page.Locator("#dashboard")).ToBeVisibleAsync();
            await page.Locator(".tab[data-tab='requests']").ClickAsync();
            await Expect(page.Locator("#requests-tab")).ToBeVisibleAsync();
            await Expect(page.Locator("#dashboard")).ToBeHiddenAsync();
            await Expect(page.Locator(".tab.active")).ToHaveTextAsync("Requests");

            var rows = page.Locator("#request-rows tr");
            await Expect(rows).ToHaveCountAsync(4);
            await Expect(rows.Nth(0)).ToHaveAttributeAsync("data-status", "400"); // newest first
            await Expect(rows.Nth(0)).ToContainTextAsync("invalid_json");
            await Expect(rows.Nth(2).Locator("td").Nth(1)).ToHaveTextAsync(HostileUser); // text, never HTML
            await Expect(page.Locator("#request-rows img")).ToHaveCountAsync(0);

            await page.Locator("#requests-user").FillAsync("alice");
            await page.Locator("#requests-apply").ClickAsync();
            await Expect(rows).ToHaveCountAsync(2);
            await Expect(rows.Nth(0).Locator("td").Nth(3)).ToHaveTextAsync(aliceGroup.ToString(System.Globalization.CultureInfo.InvariantCulture));

            await page.Locator("#requests-user").FillAsync("");
            await page.Locator("#requests-status").FillAsync("4xx");
            await page.Locator("#requests-apply").ClickAsync();
            await Expect(rows).ToHaveCountAsync(1);

            await page.Locator("#requests-status").FillAsync("");
            await page.Locator("#requests-group").FillAsync(aliceGroup.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await page.Locator("#requests-apply").ClickAsync();
            await Expect(rows.First).ToContainTextAsync("alice");
            await Expect(page.Locator("#requests-count")).ToContainTextAsync("of 4 kept");

            Assert.NotEqual("pwned", await page.TitleAsync());
            var content = await page.ContentAsync();
            Assert.All(gateway.Keys, key => Assert.DoesNotContain(key, content, StringComparison.Ordinal));
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Artifacts.PathOf("dashboard-requests.png"), FullPage = true });
        }
        finally
        {
            await page.CloseAsync();
        }
    }
}
