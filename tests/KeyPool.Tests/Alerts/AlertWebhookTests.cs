using System.Text.Json;
using KeyPool.Alerts;
using KeyPool.Keys;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KeyPool.Tests.Alerts;

public sealed class AlertWebhookTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task RevokedKey_PostsOneAlert_NamingTheGroupAndNoKey_ThenResolvedWhenItServesAgain()
    {
        await using var receiver = await HttpReceiver.StartAsync();
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Alerts:Webhooks:0:Url"] = new Uri(receiver.BaseAddress, "/hooks/ops").ToString(),
            ["KeyPool:Alerts:Webhooks:0:Format"] = "json",
            ["KeyPool:Alerts:Webhooks:1:Url"] = new Uri(receiver.BaseAddress, "/hooks/slack").ToString(),
            ["KeyPool:Alerts:Webhooks:1:Format"] = "slack",
        });
        Assert.Equal(200, (await gateway.ChatAsync("victim")).Status);
        var group = await gateway.GroupOfAsync("victim");

        gateway.Emulator.Faults.Revoke(gateway.Keys[group - 1]);
        Assert.Equal(200, (await gateway.ChatAsync("victim")).Status); // served by another key; this one is now revoked

        Assert.True(await receiver.WaitForAsync(r => r.Received.Count >= 2, Bound), "the alert reached both webhooks within 30 s");
        await Task.Delay(2500); // a few more checks: still one alert per webhook
        var json = Assert.Single(receiver.Received, r => r.Path == "/hooks/ops");
        var alert = JsonDocument.Parse(json.Body).RootElement;
        Assert.Equal("firing", alert.GetProperty("status").GetString());
        Assert.Equal("key_revoked", alert.GetProperty("alert").GetString());
        Assert.Equal(group, alert.GetProperty("key_group").GetInt32());
        Assert.False(string.IsNullOrEmpty(alert.GetProperty("reason").GetString()));
        Assert.True(alert.GetProperty("time").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        var slack = JsonDocument.Parse(Assert.Single(receiver.Received, r => r.Path == "/hooks/slack").Body).RootElement;
        Assert.Contains($"key_revoked (key group {group})", slack.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Single(slack.EnumerateObject());

        gateway.Emulator.Faults.Restore(gateway.Keys[group - 1]);
        await gateway.App.Services.GetRequiredService<RevokedKeyProbe>().ProbeAsync(CancellationToken.None);

        Assert.True(await receiver.WaitForAsync(r => r.Received.Count >= 4, Bound), "the resolution reached both webhooks within 30 s");
        var resolved = JsonDocument.Parse(receiver.Received.Where(r => r.Path == "/hooks/ops").Last().Body).RootElement;
        Assert.Equal("resolved", resolved.GetProperty("status").GetString());
        Assert.Equal(group, resolved.GetProperty("key_group").GetInt32());
        foreach (var text in receiver.Texts)
        {
            Assert.All(gateway.Keys, key => Assert.DoesNotContain(key, text, StringComparison.Ordinal));
            Assert.DoesNotContain("xai-", text, StringComparison.Ordinal); // not even a masked key
        }
    }

    [Fact]
    public async Task FailedDelivery_IsRetriedWithBackoff_UntilTheReceiverTakesIt()
    {
        await using var receiver = await HttpReceiver.StartAsync(failFirst: 2);
        var options = Options.Create(new AlertOptions
        {
            Webhooks = [new WebhookOptions { Url = new Uri(receiver.BaseAddress, "/hook"), Format = "json" }],
            FirstRetryDelay = TimeSpan.FromMilliseconds(200),
        });
        using var delivery = new AlertDelivery(options, TimeProvider.System, NullLogger<AlertDelivery>.Instance);
        await delivery.StartAsync(CancellationToken.None);
        try
        {
            var now = DateTimeOffset.UtcNow;
            delivery.Enqueue(new AlertMessage(AlertMessage.Firing, AlertKinds.PoolDegraded, null, "DEGRADED: shared state unavailable", now, "gw-1", now));

            Assert.True(await receiver.WaitForAsync(r => r.Received.Count == 1, Bound), "delivered on the third try");
            Assert.Equal(2, receiver.Refused);
            Assert.Equal(1, delivery.Delivered);
            Assert.Equal(0, delivery.Failed);
        }
        finally
        {
            await delivery.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Delivery_GivesUp_AfterItsAttempts_AndCountsTheFailure()
    {
        await using var receiver = await HttpReceiver.StartAsync(failFirst: 100);
        var options = Options.Create(new AlertOptions
        {
            Webhooks = [new WebhookOptions { Url = new Uri(receiver.BaseAddress, "/hook") }],
            FirstRetryDelay = TimeSpan.FromMilliseconds(50),
            DeliveryAttempts = 3,
        });
        using var delivery = new AlertDelivery(options, TimeProvider.System, NullLogger<AlertDelivery>.Instance);
        await delivery.StartAsync(CancellationToken.None);
        try
        {
            var now = DateTimeOffset.UtcNow;
            delivery.Enqueue(new AlertMessage(AlertMessage.Firing, AlertKinds.StoreUnreachable, null, "the store is unreachable", now, "gw-1", now));

            Assert.True(await receiver.WaitForAsync(_ => delivery.Failed == 1, Bound), "given up after 3 tries");
            Assert.Equal(3, receiver.Refused);
            Assert.Empty(receiver.Received);
        }
        finally
        {
            await delivery.StopAsync(CancellationToken.None);
        }
    }
}
