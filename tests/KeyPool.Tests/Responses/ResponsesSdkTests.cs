#pragma warning disable OPENAI001 // the SDK marks its Responses client experimental
using System.ClientModel;
using System.Net;
using KeyPool.Tests.Infrastructure;
using OpenAI.Responses;

namespace KeyPool.Tests.Responses;

/// <summary>
/// The official .NET SDK's Responses client through KeyPool, with a gateway key as its API key: create, continue
/// (streamed), read and delete a stored response, all on the team that holds it; another user's SDK gets 404 and the
/// upstream never sees the attempt. Deferred completions are polled on their team too.
/// </summary>
public sealed class ResponsesSdkTests : IAsyncLifetime
{
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync() =>
        _gateway = await GatewayHarness.StartAsync(keyCount: 3, settings: new Dictionary<string, string?> { ["KeyPool:Auth:GatewayKeys:Enabled"] = "true" });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private ResponsesClient Client(string apiKey) => new(new ApiKeyCredential(apiKey), new ResponsesClientOptions
    {
        Endpoint = new Uri(_gateway.BaseAddress, "/v1"),
        NetworkTimeout = TimeSpan.FromSeconds(30),
        RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0),
    });

    private static CreateResponseOptions Ask(string text, string? previous = null) =>
        new("grok-4.3", [ResponseItem.CreateUserMessageItem(text)]) { PreviousResponseId = previous };

    private async Task MoveAsync(string user, int group)
    {
        using var moved = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Patch, $"/api/admin/users/{user}", new { apiKeyGroup = group }));
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
    }

    [Fact]
    public async Task Sdk_CreateContinueStreamedReadDelete_AllOnTheTeamThatHoldsIt_AnotherUserGets404()
    {
        var alice = Client((await _gateway.IssueGatewayKeyAsync("alice")).GetProperty("key").GetString()!);
        var bob = Client((await _gateway.IssueGatewayKeyAsync("bob")).GetProperty("key").GetString()!);
        var group = await _gateway.GroupOfAsync("alice");

        ResponseResult first = await alice.CreateResponseAsync(Ask("Hello"));
        await MoveAsync("alice", group % 3 + 1); // her next conversations go elsewhere; this one stays where it is stored

        var options = Ask("And then?", first.Id);
        options.StreamingEnabled = true;
        ResponseResult? second = null;
        await foreach (var update in await alice.CreateResponseStreamingAsync(options))
        {
            Assert.IsNotType<StreamingResponseErrorUpdate>(update);
            if (update is StreamingResponseCompletedUpdate completed)
            {
                second = completed.Response;
            }
        }
        Assert.NotNull(second);
        Assert.Equal(second.Id, ((ResponseResult)await alice.GetResponseAsync(second.Id)).Id);
        var served = _gateway.ChatServed.Count;

        var stolen = await Assert.ThrowsAsync<ClientResultException>(() => bob.GetResponseAsync(second.Id));
        var continued = await Assert.ThrowsAsync<ClientResultException>(() => bob.CreateResponseAsync(Ask("Mine now", second.Id)));
        Assert.Equal((404, 404), (stolen.Status, continued.Status));
        Assert.Equal(served, _gateway.ChatServed.Count); // never reached the upstream

        Assert.True(((ResponseDeletionResult)await alice.DeleteResponseAsync(first.Id)).Deleted);
        var gone = await Assert.ThrowsAsync<ClientResultException>(() => alice.GetResponseAsync(first.Id));
        Assert.Equal(404, gone.Status);

        var groups = _gateway.ChatServed.Where(s => s.Path.StartsWith("/v1/responses", StringComparison.Ordinal))
            .Select(s => _gateway.Keys.ToList().IndexOf(s.Key!) + 1).Distinct().ToArray();
        Assert.Equal([group], groups);
    }

    [Fact]
    public async Task DeferredCompletion_PolledOnTheTeamThatHoldsIt_NotByAnotherUser()
    {
        using (await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = "carol" })))
        {
        }
        var group = await _gateway.GroupOfAsync("carol");
        using var create = _gateway.ChatRequest(GatewayHarness.ChatBody(extra: "\"deferred\":true"), "carol");
        using var created = await _gateway.Http.SendAsync(create);
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var requestId = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("request_id").GetString()!;
        await MoveAsync("carol", group % 3 + 1);

        var other = await StoredResponseRoutingTests.SendAsync(_gateway, StoredResponseRoutingTests.Stored(HttpMethod.Get, $"/v1/chat/deferred-completion/{requestId}", user: "dave"));
        Assert.Equal(HttpStatusCode.NotFound, other.Status);

        var statuses = new List<HttpStatusCode>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((statuses.Count == 0 || statuses[^1] == HttpStatusCode.Accepted) && DateTime.UtcNow < deadline)
        {
            statuses.Add((await StoredResponseRoutingTests.SendAsync(_gateway, StoredResponseRoutingTests.Stored(HttpMethod.Get, $"/v1/chat/deferred-completion/{requestId}", user: "carol"))).Status);
            await Task.Delay(50);
        }

        Assert.Equal(HttpStatusCode.OK, statuses[^1]);
        var polls = _gateway.ChatServed.Where(s => s.Path.StartsWith("/v1/chat/deferred-completion/", StringComparison.Ordinal)).ToArray();
        Assert.Equal(statuses.Count, polls.Length); // dave's poll never reached the upstream
        Assert.All(polls, p => Assert.Equal(group, _gateway.Keys.ToList().IndexOf(p.Key!) + 1));
    }
}
