using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using KeyPool.Core.Routing;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Tests.Responses;

/// <summary>
/// Stored responses stay on the team that holds them, and with the user they belong to: follow-ups are pinned to that
/// team (waiting for it, or 429 with its Retry-After), another user's id is 404 without touching the upstream.
/// One fake clock for the gateway and the emulator: a team's second of budget stays spent until the test moves it.
/// </summary>
public sealed class StoredResponseRoutingTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 3, 9, 0, 0, TimeSpan.Zero));

    // Each key its own team; 60 requests a minute per team: one a second, so a second request in the same second finds it full.
    private Task<GatewayHarness> StartAsync(int keys = 2, string maxQueueWait = "00:00:00", Dictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["KeyPool:Budgets:RequestsPerMinute"] = "60",
            ["KeyPool:Budgets:BurstSeconds"] = "1",
            ["KeyPool:Routing:MaxQueueWait"] = maxQueueWait,
            ["KeyPool:Auth:GatewayKeys:Enabled"] = "true",
        };
        foreach (var (name, value) in settings ?? [])
        {
            all[name] = value;
        }
        return GatewayHarness.StartAsync(keys, all, options => options.RequestsPerMinute = 6000, time: _time);
    }

    internal static HttpRequestMessage Responses(string? previous = null, string? user = null, string token = GatewayHarness.ClientToken, bool? store = null)
    {
        var body = new Dictionary<string, object?> { ["model"] = "grok-4.3", ["input"] = "Hello" };
        if (previous is not null)
        {
            body["previous_response_id"] = previous;
        }
        if (store is not null)
        {
            body["store"] = store;
        }
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (user is not null)
        {
            request.Headers.Add("X-KeyPool-User", user);
        }
        return request;
    }

    internal static HttpRequestMessage Stored(HttpMethod method, string path, string? user = null, string token = GatewayHarness.ClientToken)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (user is not null)
        {
            request.Headers.Add("X-KeyPool-User", user);
        }
        return request;
    }

    internal static async Task<(HttpStatusCode Status, JsonElement Body, string? RetryAfter)> SendAsync(GatewayHarness gateway, HttpRequestMessage request)
    {
        using (request)
        using (var response = await gateway.Http.SendAsync(request))
        {
            var text = await response.Content.ReadAsStringAsync();
            var body = text.Length > 0 && text.TrimStart().StartsWith('{') ? JsonDocument.Parse(text).RootElement.Clone() : default;
            return (response.StatusCode, body, response.Headers.RetryAfter?.ToString());
        }
    }

    /// <summary>The groups whose keys the emulator saw on <paramref name="path"/> (its own log: what really reached which team).</summary>
    internal static int[] GroupsOn(GatewayHarness gateway, string path) =>
        gateway.ChatServed.Where(s => s.Path == path).Select(s => gateway.Keys.ToList().IndexOf(s.Key!) + 1).ToArray();

    private static async Task<int> CreateUserAsync(GatewayHarness gateway, string user)
    {
        using (await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = user })))
        {
        }
        return await gateway.GroupOfAsync(user);
    }

    [Fact]
    public async Task FollowUp_WhileItsTeamIsFull_Gets429WithThatTeamsRetryAfter_NeverAnotherTeam()
    {
        await using var gateway = await StartAsync();
        var group = await CreateUserAsync(gateway, "alice");
        var created = await SendAsync(gateway, Responses(user: "alice"));
        Assert.Equal(HttpStatusCode.OK, created.Status);
        var id = created.Body.GetProperty("id").GetString()!;

        var followUp = await SendAsync(gateway, Responses(previous: id, user: "alice"));
        var fresh = await SendAsync(gateway, Responses(user: "alice")); // the same second, not pinned: spills to the other team

        Assert.Equal(HttpStatusCode.TooManyRequests, followUp.Status);
        Assert.Equal("rate_limit_exceeded", followUp.Body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("1", followUp.RetryAfter);
        Assert.Equal(HttpStatusCode.OK, fresh.Status);
        Assert.Equal([group, 3 - group], GroupsOn(gateway, "/v1/responses"));

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gateway, Responses(previous: id, user: "alice"))).Status);
        Assert.Equal([group, 3 - group, group], GroupsOn(gateway, "/v1/responses"));
    }

    [Fact]
    public async Task FollowUp_WhileItsTeamIsFull_WaitsForThatTeam()
    {
        await using var gateway = await StartAsync(maxQueueWait: "00:00:02");
        var router = gateway.App.Services.GetRequiredService<KeyPoolRouter>();
        var group = await CreateUserAsync(gateway, "alice");
        var id = (await SendAsync(gateway, Responses(user: "alice"))).Body.GetProperty("id").GetString()!;

        var followUp = SendAsync(gateway, Responses(previous: id, user: "alice"));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (router.Waiting == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        Assert.Equal(1, router.Waiting); // the other team has room all along: the follow-up waits for its own
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(HttpStatusCode.OK, (await followUp).Status);
        Assert.Equal([group, group], GroupsOn(gateway, "/v1/responses"));
    }

    [Fact]
    public async Task FollowUp_AfterTheUserMovedGroup_StillGoesToTheTeamThatHoldsIt()
    {
        await using var gateway = await StartAsync(keys: 3);
        var group = await CreateUserAsync(gateway, "alice");
        var id = (await SendAsync(gateway, Responses(user: "alice"))).Body.GetProperty("id").GetString()!;
        var other = group % 3 + 1;
        using (var moved = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Patch, "/api/admin/users/alice", new { apiKeyGroup = other })))
        {
            Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        }
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gateway, Responses(previous: id, user: "alice"))).Status);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gateway, Responses(user: "alice"))).Status);

        Assert.Equal([group, group, other], GroupsOn(gateway, "/v1/responses"));
    }

    [Fact]
    public async Task EndUser_AnotherUsersResponseId_Is404_WithoutTouchingTheUpstream()
    {
        await using var gateway = await StartAsync();
        var alice = (await gateway.IssueGatewayKeyAsync("alice")).GetProperty("key").GetString()!;
        var bob = (await gateway.IssueGatewayKeyAsync("bob")).GetProperty("key").GetString()!;
        var id = (await SendAsync(gateway, Responses(token: alice))).Body.GetProperty("id").GetString()!;
        _time.Advance(TimeSpan.FromSeconds(1));
        var served = gateway.ChatServed.Count;

        var results = new[]
        {
            await SendAsync(gateway, Responses(previous: id, token: bob)),
            await SendAsync(gateway, Stored(HttpMethod.Get, $"/v1/responses/{id}", token: bob)),
            await SendAsync(gateway, Stored(HttpMethod.Delete, $"/v1/responses/{id}", token: bob)),
            await SendAsync(gateway, Responses(previous: "resp_never_seen_by_keypool", token: bob)), // not provably bob's
            await SendAsync(gateway, Responses(previous: id, user: "bob")),                         // a client token acting for bob
        };

        Assert.All(results, r => Assert.Equal((HttpStatusCode.NotFound, "not_found"), (r.Status, r.Body.GetProperty("error").GetProperty("code").GetString())));
        Assert.Equal(served, gateway.ChatServed.Count);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gateway, Responses(previous: id, token: alice))).Status); // the owner continues
    }

    [Fact]
    public async Task Backend_UnknownId_GoesToTheUsersOwnGroup_NoStore_RecordsNothing()
    {
        await using var gateway = await StartAsync(keys: 3);
        var group = await CreateUserAsync(gateway, "carol");

        // The upstream holds no such response either, and says so: the point is which team was asked.
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(gateway, Responses(previous: "resp_created_before_keypool", user: "carol"))).Status);
        _time.Advance(TimeSpan.FromSeconds(1));
        var unstored = await SendAsync(gateway, Responses(user: "carol", store: false));
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal([group, group], GroupsOn(gateway, "/v1/responses"));
        var bobKey = (await gateway.IssueGatewayKeyAsync("carol")).GetProperty("key").GetString()!;
        // Not stored upstream, so KeyPool knows no owner: even its creator's own key cannot prove it is theirs.
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(gateway, Responses(previous: unstored.Body.GetProperty("id").GetString(), token: bobKey))).Status);
    }
}
