using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KeyPool.CommandLine;
using KeyPool.Tests.Infrastructure;
using KeyPool.Tests.Proxy;

namespace KeyPool.Tests.Security;

/// <summary>The user id grammar holds at every entry; ids stored before it stay readable by their exact id.</summary>
public sealed class UserIdEntryTests : IAsyncLifetime
{
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>
    {
        ["KeyPool:Auth:GatewayKeys:Enabled"] = "true",
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    public static TheoryData<string> OddIds => ["victim/one", "victim%2Fone", ".", "..", "a\\b", "\u200B\u200D", "\u202Eenimda", " padded", "forged\r\nline"];

    [Theory]
    [MemberData(nameof(OddIds))]
    public async Task OddIds_AreRefusedAtSignUp_InTheHeader_AndForGatewayKeys(string id)
    {
        var signUp = await HostileCallerTests.SendAsync(_gateway, _gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id }));
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_user_id"), signUp);

        if (id.All(c => c is > ' ' and < '\u007F'))
        {
            // A header carries printable ASCII as it is (HttpClient refuses the rest, and the value is trimmed).
            var chat = await HostileCallerTests.SendAsync(_gateway, _gateway.ChatRequest(GatewayHarness.ChatBody(), id));
            Assert.Equal((HttpStatusCode.BadRequest, "missing_user"), chat);
        }
        var body = await HostileCallerTests.SendAsync(_gateway, _gateway.ChatRequest(GatewayHarness.ChatBody(extra: "\"user\":" + JsonSerializer.Serialize(id))));
        Assert.Equal((HttpStatusCode.BadRequest, "missing_user"), body);

        // Dot segments never reach the route (the client normalises the path away), the rest are refused by the grammar.
        var key = await HostileCallerTests.SendAsync(_gateway, _gateway.Admin(HttpMethod.Post, $"/api/admin/users/{Uri.EscapeDataString(id)}/keys"));
        Assert.Equal(id is "." or ".." ? key.Status : HttpStatusCode.BadRequest, key.Status);
        Assert.NotEqual(HttpStatusCode.Created, key.Status);
        Assert.Empty(_gateway.ChatServed);
    }

    [Fact]
    public async Task StoredIdsFromBeforeTheGrammar_AreReadByExactId_NeverConfused()
    {
        await _gateway.PlaceUserAsync("victim/one", 1);
        await _gateway.PlaceUserAsync("victim%2Fone", 2);

        // The path form could mean either: refused rather than opening the wrong user.
        var ambiguous = await HostileCallerTests.SendAsync(_gateway, _gateway.Admin(HttpMethod.Get, "/api/admin/users/victim%2Fone"));
        Assert.Equal((HttpStatusCode.BadRequest, "ambiguous_user_id"), ambiguous);

        Assert.Equal(("victim/one", 1), await ExactAsync("victim/one"));
        Assert.Equal(("victim%2Fone", 2), await ExactAsync("victim%2Fone"));

        using var patch = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Patch, $"/api/admin/user?id={Uri.EscapeDataString("victim/one")}", new { apiKeyGroup = 2 }));
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        Assert.Equal(("victim/one", 2), await ExactAsync("victim/one"));
        Assert.Equal(HttpStatusCode.NotFound, (await HostileCallerTests.SendAsync(_gateway, _gateway.Admin(HttpMethod.Get, "/api/admin/user?id=nobody"))).Status);
    }

    private async Task<(string Id, int Group)> ExactAsync(string id)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, $"/api/admin/user?id={Uri.EscapeDataString(id)}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var user = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (user.GetProperty("id").GetString()!, user.GetProperty("apiKeyGroup").GetInt32());
    }

    [Fact]
    public async Task Import_SkipsAndReportsBadLines()
    {
        var file = Path.Combine(Path.GetTempPath(), $"keypool-ids-{Guid.NewGuid():N}.txt");
        await File.WriteAllLinesAsync(file, ["alice", "victim/one", "bob", "..", "c%2Fd", "carol"]);
        try
        {
            var reader = new UserIdFileReader(file);
            var ids = new List<string>();
            await foreach (var id in reader.ReadIdsAsync(CancellationToken.None))
            {
                ids.Add(id);
            }

            Assert.Equal(["alice", "bob", "carol"], ids);
            Assert.Equal(3, reader.Rejected);
            Assert.Equal([2L, 4L, 5L], reader.RejectedLines);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
