using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Routing;
using KeyPool.Tests.Auth;
using KeyPool.Proxy;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KeyPool.Tests.Proxy;

/// <summary>What a caller with a valid credential must not be able to do with the pool's keys (docs/security.md).</summary>
public sealed class HostileCallerTests
{
    // A state change waited for is polled up to this.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static HttpRequestMessage Raw(HttpMethod method, string path, string token = GatewayHarness.ClientToken)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    internal static async Task<(HttpStatusCode Status, string? Code)> SendAsync(GatewayHarness gateway, HttpRequestMessage request)
    {
        using (request)
        {
            using var response = await gateway.Http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            var code = body.StartsWith('{') && JsonDocument.Parse(body).RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                && error.TryGetProperty("code", out var c) ? c.GetString() : null;
            return (response.StatusCode, code);
        }
    }

    [Theory]
    [InlineData("/v1/..%5C_stats")]
    [InlineData("/v1/..%5c..%5capi-key")]
    [InlineData("/v1/chat%2Fcompletions")]
    [InlineData("/v1/models/..%2F..%2Fadmin")]
    [InlineData("/v1/models/%2E%2E")]
    public async Task PathEscape_Is400_AndNeverForwarded(string path)
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2);

        var (status, code) = await SendAsync(gateway, Raw(HttpMethod.Get, path));

        Assert.Equal((HttpStatusCode.BadRequest, "invalid_path"), (status, code));
        Assert.Empty(gateway.ChatServed);
    }

    [Theory]
    [InlineData("GET", "/v1/api-key")]
    [InlineData("GET", "/v1/files")]
    [InlineData("POST", "/v1/batches")]
    [InlineData("GET", "/v1/responses/resp_123/input_items")]
    public async Task EndpointsOutsideTheAllowList_Are404_WithoutTouchingTheUpstream(string method, string path)
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2);

        var (status, code) = await SendAsync(gateway, Raw(new HttpMethod(method), path));

        Assert.Equal((HttpStatusCode.NotFound, "unknown_url"), (status, code));
        Assert.Empty(gateway.ChatServed);
    }

    [Fact]
    public async Task ClientTokens_MayGetMoreEndpoints_ThanEndUsers()
    {
        var settings = TestTokens.SupabaseSettings();
        settings["KeyPool:Upstream:ClientTokenAllowedPaths:0"] = "GET api-key";
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: settings);
        var endUser = TestTokens.Supabase("user-a", DateTimeOffset.UtcNow);

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gateway, Raw(HttpMethod.Get, "/v1/api-key"))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(gateway, Raw(HttpMethod.Get, "/v1/api-key", endUser))).Status);
    }

    [Fact]
    public async Task EndUserCredential_ConversationIdAndBodyUser_AreTheCredentials()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: TestTokens.SupabaseSettings());
        var token = TestTokens.Supabase("alice", DateTimeOffset.UtcNow);
        var request = gateway.ChatRequest(GatewayHarness.ChatBody(extra: "\"user\":\"bob\""), token: token);
        request.Headers.Add("x-grok-conv-id", "bobs-conversation");

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gateway, request)).Status);

        var served = gateway.ChatServed.Single();
        Assert.Equal("alice", served.User);
        Assert.Equal(global::KeyPool.Proxy.ConversationId.For("alice"), served.ConversationId);
    }

    [Fact]
    public async Task Headers_HopByHopCookiesAndForwardingClaims_StayHere_BothWays()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2);
        var request = gateway.ChatRequest(GatewayHarness.ChatBody(), "carol");
        request.Headers.Add("Connection", "x-private-hop");
        request.Headers.Add("X-Private-Hop", "secret");
        request.Headers.Add("Cookie", "session=caller");
        request.Headers.Add("X-Forwarded-For", "10.9.8.7");
        request.Headers.Add("X-Forwarded-Host", "evil.example");
        request.Headers.Add("X-Custom-End-To-End", "dropped");
        request.Headers.Add("User-Agent", "kept-agent");

        using var response = await gateway.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = gateway.ChatServed.Single().Headers;
        Assert.Equal("kept-agent", sent["User-Agent"]);
        foreach (var name in new[] { "X-Private-Hop", "Cookie", "X-Forwarded-For", "X-Forwarded-Host", "X-KeyPool-User", "X-Custom-End-To-End" })
        {
            Assert.False(sent.ContainsKey(name), $"{name} reached the upstream");
        }
        Assert.False(response.Headers.Contains("Set-Cookie"), "the upstream's cookie reached the client");
        Assert.False(response.Headers.Contains("Alt-Svc"), "the upstream's Alt-Svc reached the client");
    }

    [Fact]
    public async Task StreamOptionsNull_IsReplaced_NotDuplicated()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1);
        var body = GatewayHarness.ChatBody(stream: true, extra: "\"stream_options\":null");

        using var response = await gateway.Http.SendAsync(gateway.ChatRequest(body, "dave"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("[DONE]", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\"choices\":[]", text, StringComparison.Ordinal); // the usage chunk it did not ask for is stripped
    }

    [Fact]
    public async Task Forbidden_IsNotADeadKey_TheModelGoesToKeysThatMayUseIt()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3);
        gateway.Emulator.Faults.DenyModel(gateway.Keys[0], "grok-4.3");
        await gateway.PlaceUserAsync("frank", 1);

        var (status, _) = await SendAsync(gateway, gateway.ChatRequest(GatewayHarness.ChatBody(), "frank"));

        Assert.Equal(HttpStatusCode.OK, status);
        var pool = gateway.App.Services.GetRequiredService<KeyPoolRouter>().Pool;
        Assert.Equal(KeyState.Active, pool.Find(1)!.Health.State);
        // The background check reads the key's ACL: from then on the model never goes to key 1 first.
        await Poll.UntilAsync(() => pool.Find(1)!.Acl is not null, Bound);
        Assert.False(pool.Find(1)!.Acl!.Allows("grok-4.3"));
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gateway, gateway.ChatRequest(GatewayHarness.ChatBody(), "frank"))).Status);
        Assert.Single(gateway.ChatServed, s => s.Status == 403);
    }

    [Fact]
    public async Task ForbiddenEverywhere_Is403_AndNoKeyIsRevoked()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2);
        foreach (var key in gateway.Keys)
        {
            gateway.Emulator.Faults.DenyModel(key, "grok-4.3");
        }

        var first = await SendAsync(gateway, gateway.ChatRequest(GatewayHarness.ChatBody(), "gina"));
        var second = await SendAsync(gateway, gateway.ChatRequest(GatewayHarness.ChatBody(), "gina"));

        Assert.Equal((HttpStatusCode.Forbidden, "model_not_permitted"), first);
        Assert.Equal((HttpStatusCode.Forbidden, "model_not_permitted"), second);
        Assert.Equal(2, gateway.ChatServed.Count(s => s.Status == 403)); // the second never went upstream
        var pool = gateway.App.Services.GetRequiredService<KeyPoolRouter>().Pool;
        Assert.All(pool.Members, m => Assert.Null(m.Health.RevokedReason));
    }

    [Fact]
    public async Task BlockedKey_403ThenTheUpstreamSaysBlocked_IsRevoked()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2);
        gateway.Emulator.Faults.Block(gateway.Keys[0]);
        await gateway.PlaceUserAsync("hank", 1);

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gateway, gateway.ChatRequest(GatewayHarness.ChatBody(), "hank"))).Status);

        var pool = gateway.App.Services.GetRequiredService<KeyPoolRouter>().Pool;
        await Poll.UntilAsync(() => pool.Find(1)!.Health.State == KeyState.Revoked, Bound);
        Assert.Contains("blocked", pool.Find(1)!.Health.RevokedReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConcurrencyCap_Answers503AtOnce()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1, settings: new Dictionary<string, string?> { ["KeyPool:Limits:MaxConcurrentRequests"] = "2" });
        gateway.Emulator.Faults.FirstByteDelay = TimeSpan.FromSeconds(30); // two requests that hold their slot
        using var release = new CancellationTokenSource();
        var held = Enumerable.Range(0, 2)
            .Select(i => gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), $"held-{i}"), release.Token))
            .ToArray();
        var gate = gateway.App.Services.GetRequiredService<ProxyGate>();
        await Poll.UntilAsync(() => gate.InFlight == 2, Bound);

        var third = await SendAsync(gateway, gateway.ChatRequest(GatewayHarness.ChatBody(), "third"));

        Assert.Equal((HttpStatusCode.ServiceUnavailable, "gateway_overloaded"), third);
        await release.CancelAsync(); // the held clients leave; the gateway cancels their upstream calls
        await Task.WhenAll(held.Select(h => h.ContinueWith(_ => { }, TaskScheduler.Default)));
        await Poll.UntilAsync(() => gate.InFlight == 0, Bound);
    }

    [Fact]
    public async Task FailedV1Authentications_AreThrottledPerAddress()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(gateway, gateway.ChatRequest(GatewayHarness.ChatBody(), "x", token: "guess-" + i))).Status);
        }
        using var sixth = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "x", token: "guess-6"));
        Assert.Equal(HttpStatusCode.Unauthorized, sixth.StatusCode);
        Assert.NotNull(sixth.Headers.RetryAfter);

        // Throttled: further guesses are refused, the right token still passes.
        var guess = await SendAsync(gateway, gateway.ChatRequest(GatewayHarness.ChatBody(), "x", token: "guess-7"));
        Assert.Equal((HttpStatusCode.TooManyRequests, "too_many_failed_attempts"), guess);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gateway, gateway.ChatRequest(GatewayHarness.ChatBody(), "x"))).Status);
    }

    [Fact]
    public async Task ForwardedAddress_CountsOnlyBehindAKnownProxy()
    {
        await using var trusting = await GatewayHarness.StartAsync(keyCount: 1, settings: new Dictionary<string, string?> { ["KeyPool:ForwardedHeaders:KnownProxies:0"] = "127.0.0.1" });
        await using var plain = await GatewayHarness.StartAsync(keyCount: 1);

        foreach (var gateway in new[] { trusting, plain })
        {
            for (var i = 0; i < 6; i++)
            {
                var guess = gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health", token: "wrong-admin-token-guess-" + i);
                guess.Headers.Add("X-Forwarded-For", "203.0.113.7");
                await SendAsync(gateway, guess);
            }
        }
        HttpRequestMessage Other(GatewayHarness gateway)
        {
            var request = gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health", token: "another-clients-wrong-admin-token");
            request.Headers.Add("X-Forwarded-For", "198.51.100.9");
            return request;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(trusting, Other(trusting))).Status); // another client behind the proxy: its first failure is free
        Assert.Equal(HttpStatusCode.TooManyRequests, (await SendAsync(plain, Other(plain))).Status); // the header is not believed: one shared count
    }

    [Theory]
    [InlineData("KeyPool:AdminToken", "short-admin-token", "KeyPool:AdminToken must be at least 24 characters")]
    [InlineData("KeyPool:ClientTokens:0", "short-client", "KeyPool:ClientTokens:0 must be at least 24 characters")]
    [InlineData("KeyPool:Auth:Jwt:JwksUrl", "https://auth.example.com/.well-known/jwks.json", "KeyPool:Auth:Jwt:Audience is required")]
    [InlineData("KeyPool:Upstream:BaseUrl", "http://api.example.com/v1", "plain http to another machine")]
    public async Task WeakSettings_RefuseToStart_SayingWhy(string setting, string value, string reason)
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(keyCount: 1, settings: new Dictionary<string, string?> { [setting] = value }));

        Assert.Contains(reason, exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(value, exception.Message.Replace("'" + value + "'", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }
}
