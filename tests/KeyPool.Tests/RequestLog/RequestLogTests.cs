using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.RequestLog;

public sealed class RequestLogTests : IDisposable
{
    private const string Prompt = "a prompt that must never be logged 7f3a";
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("keypool-requestlog-");

    [Fact]
    public async Task EveryV1Request_GetsOneJsonLine_WithTheFacts_AndNoKeyOrPrompt()
    {
        var path = Path.Combine(_directory.FullName, "requests.jsonl");
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 3, settings: new Dictionary<string, string?>
        {
            ["KeyPool:RequestLog:Path"] = path,
        });

        using (var ok = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(Prompt), "alice")))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        using (var streamed = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(Prompt, stream: true), "bob")))
        {
            Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
            await streamed.Content.ReadAsStringAsync();
        }
        using (var bad = await gateway.Http.SendAsync(gateway.ChatRequest("{not json", "alice")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }
        using (var unauthorized = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(Prompt), "alice", token: "wrong-token")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        }
        using (await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health")))
        {
            // not a /v1 request: no line
        }

        var lines = await LinesAsync(path, 4);
        Assert.Equal(4, lines.Count);
        var entries = lines.Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        var first = entries[0];
        Assert.Equal("alice", first.GetProperty("user").GetString());
        Assert.Equal(200, first.GetProperty("status").GetInt32());
        Assert.Equal("/chat/completions", first.GetProperty("endpoint").GetString());
        Assert.Equal("grok-4.3", first.GetProperty("model").GetString());
        Assert.Equal(await gateway.GroupOfAsync("alice"), first.GetProperty("key_group").GetInt32());
        Assert.Equal(1, first.GetProperty("attempts").GetInt32());
        Assert.False(first.GetProperty("spilled").GetBoolean());
        Assert.False(first.GetProperty("stream").GetBoolean());
        Assert.Matches("^[0-9a-f]{12}$", first.GetProperty("team").GetString());
        Assert.True(first.GetProperty("input_tokens").GetInt64() > 0);
        Assert.True(first.GetProperty("output_tokens").GetInt64() > 0);
        Assert.True(first.GetProperty("cost_usd").GetDecimal() > 0); // the upstream's cost_in_usd_ticks
        Assert.True(first.GetProperty("upstream_ms").GetDouble() > 0);
        Assert.True(first.GetProperty("ttfb_ms").GetDouble() > 0);
        Assert.True(first.GetProperty("queue_ms").GetDouble() >= 0);
        Assert.Equal("client_token", first.GetProperty("caller").GetString());
        Assert.False(string.IsNullOrEmpty(first.GetProperty("instance").GetString()));
        var streamedLine = entries[1];
        Assert.True(streamedLine.GetProperty("stream").GetBoolean());
        Assert.True(streamedLine.GetProperty("input_tokens").GetInt64() > 0);
        Assert.Equal((400, "invalid_json"), (entries[2].GetProperty("status").GetInt32(), entries[2].GetProperty("error_code").GetString()));
        Assert.False(entries[2].TryGetProperty("key_group", out _));
        Assert.Equal(401, entries[3].GetProperty("status").GetInt32());

        var text = File.ReadAllText(path);
        Assert.DoesNotContain(Prompt, text, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-token", text, StringComparison.Ordinal);
        Assert.DoesNotContain(GatewayHarness.ClientToken, text, StringComparison.Ordinal);
        Assert.All(gateway.Keys, key => Assert.DoesNotContain(key, text, StringComparison.Ordinal));
        Assert.DoesNotContain("xai-", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheAdminApi_ListsThisInstancesLastRequests_Filtered()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 2);
        Assert.Equal(200, (await gateway.ChatAsync("carol")).Status);
        Assert.Equal(200, (await gateway.ChatAsync("dave")).Status);
        using (await gateway.Http.SendAsync(gateway.ChatRequest("{not json", "carol")))
        {
        }

        var all = await ListAsync(gateway, "");
        var carols = await ListAsync(gateway, "?user=carol");
        var errors = await ListAsync(gateway, "?status=4xx");
        var daveGroup = await gateway.GroupOfAsync("dave");
        var byGroup = await ListAsync(gateway, $"?group={daveGroup}");

        Assert.Equal(3, all.GetProperty("kept").GetInt32());
        // Newest first; a body that cannot be read ends the request before its user is known.
        Assert.Equal([null, "dave", "carol"], all.GetProperty("requests").EnumerateArray().Select(r => r.TryGetProperty("user", out var u) ? u.GetString() : null));
        Assert.Equal("carol", Assert.Single(carols.GetProperty("requests").EnumerateArray()).GetProperty("user").GetString());
        Assert.Equal(400, Assert.Single(errors.GetProperty("requests").EnumerateArray()).GetProperty("status").GetInt32());
        Assert.Contains(byGroup.GetProperty("requests").EnumerateArray(), r => r.GetProperty("user").GetString() == "dave");
        using var refused = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Get, "/api/admin/requests", token: null));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    private static async Task<JsonElement> ListAsync(GatewayHarness gateway, string query)
    {
        using var response = await gateway.Http.SendAsync(gateway.Admin(HttpMethod.Get, "/api/admin/requests" + query));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    // The writer runs in the background: wait (bounded) for the lines to reach the file.
    private static async Task<IReadOnlyList<string>> LinesAsync(string path, int expected)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var lines = File.Exists(path) ? ReadShared(path) : [];
            if (lines.Count >= expected || DateTime.UtcNow > until)
            {
                return lines;
            }
            await Task.Delay(100);
        }
    }

    private static List<string> ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }
        return lines;
    }

    public void Dispose() => _directory.Delete(recursive: true);
}
