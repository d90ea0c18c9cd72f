using System.Net;
using KeyPool.Tests.Infrastructure;
using KeyPool.TestServers;

namespace KeyPool.Tests.Responses;

/// <summary>Two gateway instances sharing PostgreSQL (and one upstream): a follow-up on one for a response created through the other goes to the team that holds it.</summary>
public sealed class SharedStoreFollowUpTests : IAsyncLifetime
{
    private PostgresServer _server = null!;
    private GatewayHarness _a = null!;
    private GatewayHarness _b = null!;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.StartAsync();
        try
        {
            var database = await _server.CreateDatabaseAsync();
            var settings = new Dictionary<string, string?>
            {
                ["ConnectionStrings:KeyPool"] = database,
                ["KeyPool:Migrate"] = "true",
                ["KeyPool:Auth:GatewayKeys:Enabled"] = "true",
            };
            _a = await GatewayHarness.StartAsync(keyCount: 3, settings: settings);
            settings["KeyPool:Upstream:BaseUrl"] = _a.Emulator.BaseUrl.ToString(); // one upstream: its log says which key served
            _b = await GatewayHarness.StartAsync(keyCount: 3, settings: settings);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (_b is not null)
        {
            await _b.DisposeAsync();
        }
        if (_a is not null)
        {
            await _a.DisposeAsync();
        }
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task FollowUpOnInstanceB_ForAResponseCreatedThroughA_GoesToTheTeamThatHoldsIt()
    {
        using (await _a.Http.SendAsync(_a.Admin(HttpMethod.Post, "/api/admin/users", new { id = "alice" })))
        {
        }
        var group = await _a.GroupOfAsync("alice");
        var created = await StoredResponseRoutingTests.SendAsync(_a, StoredResponseRoutingTests.Responses(user: "alice"));
        Assert.Equal(HttpStatusCode.OK, created.Status);
        var id = created.Body.GetProperty("id").GetString()!;
        var other = group % 3 + 1;
        using (var moved = await _a.Http.SendAsync(_a.Admin(HttpMethod.Patch, "/api/admin/users/alice", new { apiKeyGroup = other })))
        {
            Assert.Equal(HttpStatusCode.OK, moved.StatusCode); // B has never seen alice: it reads her new group from the store
        }

        var followUp = await StoredResponseRoutingTests.SendAsync(_b, StoredResponseRoutingTests.Responses(previous: id, user: "alice"));
        var fresh = await StoredResponseRoutingTests.SendAsync(_b, StoredResponseRoutingTests.Responses(user: "alice"));

        Assert.Equal(HttpStatusCode.OK, followUp.Status);
        Assert.Equal(HttpStatusCode.OK, fresh.Status);
        Assert.Equal([group, group, other], StoredResponseRoutingTests.GroupsOn(_a, "/v1/responses"));
    }

    [Fact]
    public async Task EndUserOnInstanceB_AnotherUsersResponseFromA_Is404()
    {
        var alice = (await _a.IssueGatewayKeyAsync("alice")).GetProperty("key").GetString()!;
        var bob = (await _a.IssueGatewayKeyAsync("bob")).GetProperty("key").GetString()!;
        var id = (await StoredResponseRoutingTests.SendAsync(_a, StoredResponseRoutingTests.Responses(token: alice))).Body.GetProperty("id").GetString()!;

        var stolen = await StoredResponseRoutingTests.SendAsync(_b, StoredResponseRoutingTests.Responses(previous: id, token: bob));
        var own = await StoredResponseRoutingTests.SendAsync(_b, StoredResponseRoutingTests.Responses(previous: id, token: alice));

        Assert.Equal(HttpStatusCode.NotFound, stolen.Status);
        Assert.Equal(HttpStatusCode.OK, own.Status);
        Assert.Equal(2, _a.ChatServed.Count(s => s.Path == "/v1/responses"));
    }
}
