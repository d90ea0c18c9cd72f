using System.Text;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Proxy;

/// <summary>Runs traffic and faults with known keys, then searches every response and every log line for them.</summary>
public sealed class SecretLeakTests
{
    [Fact]
    public async Task NoUpstreamKey_InAnyResponseOrLogLine()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 4);
        var seen = new StringBuilder();
        async Task SendAsync(HttpRequestMessage request)
        {
            using var response = await gateway.Http.SendAsync(request);
            seen.AppendLine(response.ToString());
            seen.AppendLine(await response.Content.ReadAsStringAsync());
        }

        for (var i = 0; i < 8; i++)
        {
            await SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(stream: i % 2 == 0), $"leak-{i}"));
        }
        gateway.Emulator.Faults.FailNext(2, 500);
        await SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "leak-0"));
        await SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(stream: true), "leak-1"));
        foreach (var key in gateway.Keys)
        {
            gateway.Emulator.Faults.Revoke(key);
        }
        await SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "leak-2"));
        foreach (var key in gateway.Keys)
        {
            gateway.Emulator.Faults.ExhaustCredits(key);
        }
        await SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "leak-3"));
        gateway.Emulator.Faults.Clear();
        gateway.Emulator.Faults.ResetMidStreamAfterChunks = 1;
        await SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(stream: true), "leak-4"));
        gateway.Emulator.Faults.ResetMidStreamAfterChunks = null;
        await SendAsync(gateway.ChatRequest("{broken", "leak-5"));
        await SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "leak-6", token: "bad"));
        await SendAsync(gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health"));
        await SendAsync(gateway.Admin(HttpMethod.Get, "/api/admin/users/leak-0"));
        await gateway.App.StopAsync();

        var responses = seen.ToString();
        var logs = string.Join('\n', gateway.Logs.GetSnapshot().Select(r => r.Message + " " + r.Exception));
        Assert.Contains("Using model:", logs, StringComparison.Ordinal); // the capture works
        Assert.Contains("rejected the API key", logs, StringComparison.Ordinal);
        foreach (var key in gateway.Keys)
        {
            Assert.DoesNotContain(key, responses, StringComparison.Ordinal);
            Assert.DoesNotContain(key, logs, StringComparison.Ordinal);
            Assert.DoesNotContain(key[..12], responses, StringComparison.Ordinal); // nor a long prefix of it
        }
    }
}
