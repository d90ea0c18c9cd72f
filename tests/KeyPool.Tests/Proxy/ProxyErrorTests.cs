using System.Net;
using System.Text;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Proxy;

/// <summary>Every error the gateway answers: OpenAI's shape, the right status, nothing recorded twice.</summary>
public sealed class ProxyErrorTests : IAsyncLifetime
{
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHarness.StartAsync(keyCount: 3, settings: new Dictionary<string, string?>
    {
        ["KeyPool:Limits:MaxRequestBodyBytes"] = "4096",
        ["KeyPool:Routing:MaxAttempts"] = "1", // each error reaches the client as it is; retries are tested elsewhere
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private static async Task<JsonElement> ErrorOf(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal(JsonValueKind.String, error.GetProperty("message").ValueKind);
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.True(error.TryGetProperty("param", out _));
        Assert.Equal(JsonValueKind.String, error.GetProperty("code").ValueKind);
        return error;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-token")]
    [InlineData("")]
    public async Task ClientToken_MissingOrWrong_Is401(string? token)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(), "u1", token));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("authentication_error", (await ErrorOf(response)).GetProperty("type").GetString());
        Assert.Empty(_gateway.ChatServed);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("[1,2,3]")]
    [InlineData("{\"model\":\"x\"} trailing")]
    public async Task MalformedJson_Is400(string body)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(body, "u1"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_json", (await ErrorOf(response)).GetProperty("code").GetString());
        Assert.Empty(_gateway.ChatServed);
    }

    [Fact]
    public async Task NoEndUser_Is400_NamingBothWays()
    {
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody()));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorOf(response);
        Assert.Contains("X-KeyPool-User", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("user", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("user", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task BodyOverTheLimit_Is413_WithOrWithoutContentLength()
    {
        var big = GatewayHarness.ChatBody(new string('x', 5000));
        using var declared = await _gateway.Http.SendAsync(_gateway.ChatRequest(big, "u1"));

        var chunked = _gateway.ChatRequest(null, "u1");
        chunked.Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
        chunked.Content.Headers.ContentType = new("application/json");
        chunked.Headers.TransferEncodingChunked = true;
        using var streamed = await _gateway.Http.SendAsync(chunked);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
        Assert.Equal("request_too_large", (await ErrorOf(streamed)).GetProperty("code").GetString());
        Assert.Empty(_gateway.ChatServed);
    }

    [Fact]
    public async Task UpstreamServerError_IsTranslated_AndCounted()
    {
        _gateway.Emulator.Faults.FailNext(1, 503);
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(), "u5xx"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("upstream_error", (await ErrorOf(response)).GetProperty("type").GetString());
        var health = await _gateway.HealthAsync();
        Assert.Equal(1, health.GetProperty("keyGroupStats").EnumerateArray().Sum(s => s.GetProperty("errors_5xx").GetInt64()));
    }

    [Fact]
    public async Task RevokedKey_Is502_NamingTheGroup_NeverTheKey()
    {
        using (await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(), "victim")))
        {
        }
        var group = await _gateway.GroupOfAsync("victim");
        _gateway.Emulator.Faults.Revoke(_gateway.Keys[group - 1]);

        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(), "victim"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains($"group {group}", text, StringComparison.Ordinal);
        Assert.DoesNotContain(_gateway.Keys[group - 1], text, StringComparison.Ordinal);
        Assert.Contains(_gateway.LogLines, l => l.Contains($"rejected the API key of group {group}", StringComparison.Ordinal));
        _gateway.Emulator.Faults.Restore(_gateway.Keys[group - 1]);
    }

    [Fact]
    public async Task UnknownModel_UpstreamAnswer_IsPassedInOpenAiShape()
    {
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest("""{"messages":[{"role":"user","content":"x"}]}""", "no-model"));

        Assert.True((int)response.StatusCode is 400 or 422, $"status {(int)response.StatusCode}");
        await ErrorOf(response);
    }

    [Fact]
    public async Task MidStreamFailure_EndsWithAnErrorEvent()
    {
        _gateway.Emulator.Faults.ResetMidStreamAfterChunks = 2;
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(stream: true), "midstream"));
        var text = await response.Content.ReadAsStringAsync();
        _gateway.Emulator.Faults.ResetMidStreamAfterChunks = null;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var last = text.TrimEnd('\n').Split("\n\n")[^1];
        Assert.StartsWith("data: {\"error\":", last, StringComparison.Ordinal);
        Assert.DoesNotContain("[DONE]", text, StringComparison.Ordinal);
    }
}

/// <summary>Errors that need a gateway configured differently.</summary>
public sealed class ProxyConfigurationErrorTests
{
    [Fact]
    public async Task UpstreamUnreachable_Is502()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Upstream:BaseUrl"] = $"http://127.0.0.1:{closedPort}/v1",
        });

        using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "u1"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("upstream_unreachable", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AutoRegistrationOff_UnknownUser_Is403()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Users:AutoRegister"] = "false",
        });

        using var unknown = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "stranger"));
        using (await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = "member" })))
        {
        }
        using var known = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "member"));

        Assert.Equal(HttpStatusCode.Forbidden, unknown.StatusCode);
        Assert.Contains("user_not_registered", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, known.StatusCode);
    }

    [Fact]
    public async Task NoKeys_RefusesToStart_WithAClearMessage()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(keyCount: 1, groupKeys: new Dictionary<int, string>()));

        Assert.Contains("No upstream API keys found", exception.Message, StringComparison.Ordinal);
        Assert.Contains("--demo", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoClientTokens_RefusesToStart()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(keyCount: 1, settings: new Dictionary<string, string?>
        {
            ["KeyPool:ClientTokens:0"] = "",
        }));

        Assert.Contains("KeyPool:ClientTokens", exception.Message, StringComparison.Ordinal);
    }
}
