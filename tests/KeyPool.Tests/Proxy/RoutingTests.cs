using System.Net;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KeyPool.Tests.Proxy;

/// <summary>Users whose key was removed, and tiers that pin a model.</summary>
public sealed class RoutingTests
{
    [Fact]
    public async Task Get_WithoutUser_IsNotASpill_AndLogsNoWarning()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3);

        for (var i = 0; i < 6; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", GatewayHarness.ClientToken);
            using var response = await gateway.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var router = gateway.App.Services.GetRequiredService<KeyPool.Core.Routing.KeyPoolRouter>();
        Assert.All(router.Pool.Members, m => Assert.Equal(0, m.SpillsIn));
        Assert.DoesNotContain(gateway.LogLines, l => l.Contains("has no key", StringComparison.Ordinal));
        Assert.Contains(gateway.LogLines, l => l.StartsWith("Using model: - | Tier: - | API Key Group:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MissingKey_ServedByAvailableGroups_UserKeepsTheirGroup()
    {
        // Groups 1, 2, 3, 5: group 4's key was removed.
        var keys = new Dictionary<int, string> { [1] = GatewayHarness.KeyFor(1), [2] = GatewayHarness.KeyFor(2), [3] = GatewayHarness.KeyFor(3), [5] = GatewayHarness.KeyFor(5) };
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 5, groupKeys: keys);
        var orphans = Enumerable.Range(0, 8).Select(i => $"orphan-{i}").ToArray();
        foreach (var orphan in orphans)
        {
            await gateway.PlaceUserAsync(orphan, 4); // assigned while group 4 had a key
        }

        foreach (var orphan in orphans)
        {
            using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), orphan));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(4, await gateway.GroupOfAsync(orphan));
        }

        var served = orphans.SelectMany(gateway.GroupsThatServed).ToArray();
        Assert.DoesNotContain(4, served);
        Assert.True(served.Distinct().Count() > 1, "users of a removed key must not pile onto one key");
        Assert.Contains(gateway.LogLines, l => l.StartsWith("Key group 4 has no key", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MissingKey_KeyGroupOneFallback_IsTheOriginalBehaviour()
    {
        var keys = new Dictionary<int, string> { [1] = GatewayHarness.KeyFor(1), [2] = GatewayHarness.KeyFor(2) };
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3, groupKeys: keys, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Routing:MissingKeyFallback"] = "KeyGroupOne",
        });
        await gateway.PlaceUserAsync("old-user", 3);

        for (var i = 0; i < 3; i++)
        {
            using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "old-user"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal([1, 1, 1], gateway.GroupsThatServed("old-user"));
    }

    [Fact]
    public async Task Tier_PinsTheModel_WhateverTheClientAsked()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Tiers:free:Model"] = "grok-3-mini",
        });

        using var plain = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(model: "grok-4.3"), "pinned"));
        using var streamed = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(model: "grok-4.3", stream: true), "pinned"));
        await streamed.Content.ReadAsStringAsync();

        Assert.All(gateway.ChatServed, s => Assert.Equal("grok-3-mini", s.Model));
        var group = await gateway.GroupOfAsync("pinned");
        Assert.Contains($"Using model: grok-3-mini | Tier: free | API Key Group: {group}", gateway.LogLines);
    }
}
