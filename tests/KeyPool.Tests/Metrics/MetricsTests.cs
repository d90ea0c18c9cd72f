using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;
using OpenAI.Chat;

namespace KeyPool.Tests.Metrics;

public sealed class MetricsTests
{
    [Fact]
    public async Task Metrics_MatchTheTrafficSent_PerGroup()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Routing:MaxAttempts"] = "1", // the injected errors stay on the user's key
        });
        var client = gateway.ChatClient();
        var requests = new Dictionary<int, long>();
        var tokens = new Dictionary<int, long>();
        for (var i = 0; i < 10; i++)
        {
            var user = $"user-{i % 5}";
            ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage($"message {i}")], GatewayHarness.ForUser(user));
            var group = await gateway.GroupOfAsync(user);
            requests[group] = requests.GetValueOrDefault(group) + 1;
            tokens[group] = tokens.GetValueOrDefault(group) + completion.Usage.TotalTokenCount;
        }
        var failing = await gateway.GroupOfAsync("user-0");
        gateway.Emulator.Faults.FailNextForKey(gateway.Keys[failing - 1], 1, 500);
        using (await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "user-0")))
        {
        }
        gateway.Emulator.Faults.FailNextForKey(gateway.Keys[failing - 1], 1, 429);
        using (await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "user-0")))
        {
        }
        requests[failing] += 2;

        // The 429 cools its key for about a second on the real clock: health is read on both sides of the scrape,
        // so a key whose cool-down ends between two reads is matched against either state.
        var stateBefore = (await gateway.HealthAsync()).GetProperty("keyGroupStats").EnumerateArray()
            .ToDictionary(s => s.GetProperty("key_group").GetInt32(), s => s.GetProperty("state").GetString());
        var metrics = await ScrapeAsync(gateway);
        var health = (await gateway.HealthAsync()).GetProperty("keyGroupStats").EnumerateArray()
            .ToDictionary(s => s.GetProperty("key_group").GetInt32());

        for (var group = 1; group <= 3; group++)
        {
            var g = group.ToString(CultureInfo.InvariantCulture);
            var stats = health[group];
            Assert.Equal(requests.GetValueOrDefault(group), metrics[$"keypool_requests_total{{group=\"{g}\"}}"]);
            Assert.Equal(tokens.GetValueOrDefault(group), metrics[$"keypool_tokens_total{{group=\"{g}\"}}"]);
            Assert.Equal(stats.GetProperty("prompt_tokens").GetInt64(), metrics[$"keypool_prompt_tokens_total{{group=\"{g}\"}}"]);
            Assert.Equal(stats.GetProperty("user_count").GetInt64(), metrics[$"keypool_users{{group=\"{g}\"}}"]);
            Assert.Equal(stats.GetProperty("rpm_limit").GetInt64(), metrics[$"keypool_rpm_limit{{group=\"{g}\"}}"]);
            Assert.Equal(stats.GetProperty("tpm_limit").GetInt64(), metrics[$"keypool_tpm_limit{{group=\"{g}\"}}"]);
            Assert.Equal(stats.GetProperty("spills_in").GetInt64(), metrics[$"keypool_spills_in_total{{group=\"{g}\"}}"]);
            Assert.Equal(stats.GetProperty("errors_5xx").GetInt64(), metrics[$"keypool_upstream_errors_total{{group=\"{g}\",class=\"5xx\"}}"]);
            Assert.Equal(stats.GetProperty("errors_429").GetInt64(), metrics[$"keypool_upstream_errors_total{{group=\"{g}\",class=\"429\"}}"]);
            Assert.Equal(stats.GetProperty("errors_4xx").GetInt64(), metrics[$"keypool_upstream_errors_total{{group=\"{g}\",class=\"4xx\"}}"]);
            // One upstream attempt each (MaxAttempts 1): every one timed, per group.
            Assert.Equal(requests.GetValueOrDefault(group), metrics.GetValueOrDefault($"keypool_upstream_duration_seconds_count{{group=\"{g}\"}}"));
            Assert.Equal(requests.GetValueOrDefault(group), metrics.GetValueOrDefault($"keypool_upstream_first_byte_seconds_count{{group=\"{g}\"}}"));
            var states = new[] { stateBefore[group], stats.GetProperty("state").GetString() }.Distinct();
            Assert.Equal(1, states.Sum(state => metrics[$"keypool_key_state{{group=\"{g}\",state=\"{state}\"}}"]));
            Assert.Equal(1, new[] { "active", "cooling", "saturated", "revoked", "missing" }.Sum(s => metrics[$"keypool_key_state{{group=\"{g}\",state=\"{s}\"}}"]));
        }
        Assert.Equal(1, metrics[$"keypool_upstream_errors_total{{group=\"{failing}\",class=\"5xx\"}}"]);
        Assert.Equal(1, metrics[$"keypool_upstream_errors_total{{group=\"{failing}\",class=\"429\"}}"]);
        Assert.Equal(3, metrics["keypool_keys"]);
        Assert.Equal(1, metrics["keypool_pool_healthy"]);
    }

    [Fact]
    public async Task Latency_IsObservedForEveryProxiedRequest_AndNotForOthers()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2);
        var client = gateway.ChatClient();
        for (var i = 0; i < 4; i++)
        {
            await client.CompleteChatAsync([new UserChatMessage("hello")], GatewayHarness.ForUser($"latency-{i}"));
        }
        using (await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "latency-0", token: "wrong")))
        {
        }
        await gateway.HealthAsync(); // an admin call: not a proxied request

        // ASP.NET Core records a request's duration just after its last byte is sent: wait for it, bounded.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        Dictionary<string, double> metrics;
        do
        {
            metrics = await ScrapeAsync(gateway);
        }
        while ((metrics.GetValueOrDefault("keypool_request_duration_seconds_count{code=\"2xx\"}") < 4
                || metrics.GetValueOrDefault("keypool_request_duration_seconds_count{code=\"4xx\"}") < 1)
               && DateTime.UtcNow < deadline);

        Assert.Equal(4, metrics["keypool_request_duration_seconds_count{code=\"2xx\"}"]);
        Assert.Equal(1, metrics["keypool_request_duration_seconds_count{code=\"4xx\"}"]);
        Assert.Equal(4, metrics["keypool_request_duration_seconds_bucket{code=\"2xx\",le=\"+Inf\"}"]);
        Assert.True(metrics["keypool_request_duration_seconds_sum{code=\"2xx\"}"] > 0);
    }

    [Fact]
    public async Task RevokedKey_IsReportedByState_AndNoKeyEverAppears()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3);
        using (await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "victim")))
        {
        }
        var group = await gateway.GroupOfAsync("victim");
        gateway.Emulator.Faults.Revoke(gateway.Keys[group - 1]);
        using (var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "victim")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode); // retried on another key
        }

        var text = await ScrapeTextAsync(gateway);
        var metrics = Parse(text);

        Assert.Equal(1, metrics[$"keypool_key_state{{group=\"{group}\",state=\"revoked\"}}"]);
        Assert.Equal(0, metrics[$"keypool_key_state{{group=\"{group}\",state=\"active\"}}"]);
        Assert.Equal(2, metrics["keypool_keys_usable"]);
        Assert.All(gateway.Keys, key => Assert.DoesNotContain(key, text, StringComparison.Ordinal));
        Assert.DoesNotContain("xai-", text, StringComparison.Ordinal); // not even a masked key
        Assert.DoesNotContain(GatewayHarness.AdminToken, text, StringComparison.Ordinal);
        Assert.DoesNotContain(GatewayHarness.ClientToken, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_AreOpenByDefault_InThePrometheusTextFormat()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1);

        using var response = await gateway.Http.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(response.Content.Headers.ContentType!.Parameters, p => p.Name == "version" && p.Value == "0.0.4");
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE keypool_requests_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE keypool_request_duration_seconds histogram", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequireAdminToken_ClosesMetrics_ToAllButTheAdminToken()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Metrics:RequireAdminToken"] = "true",
        });

        using var anonymous = await gateway.Http.GetAsync("/metrics");
        using var client = await gateway.Http.SendAsync(Get(GatewayHarness.ClientToken));
        using var admin = await gateway.Http.SendAsync(Get(GatewayHarness.AdminToken));

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, client.StatusCode);
        Assert.Equal("invalid_admin_token", JsonDocument.Parse(await anonymous.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        Assert.Contains("keypool_keys 1", await admin.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        static HttpRequestMessage Get(string token)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return request;
        }
    }

    private static async Task<string> ScrapeTextAsync(GatewayHarness gateway)
    {
        using var response = await gateway.Http.GetAsync("/metrics");
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    internal static async Task<Dictionary<string, double>> ScrapeAsync(GatewayHarness gateway) => Parse(await ScrapeTextAsync(gateway));

    /// <summary>Series (name and labels, as written) to value; comments skipped.</summary>
    private static Dictionary<string, double> Parse(string text)
    {
        var series = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }
            var space = line.LastIndexOf(' ');
            series[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }
        return series;
    }
}
