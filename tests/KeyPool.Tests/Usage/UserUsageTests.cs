using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using KeyPool.CommandLine;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Usage;

/// <summary>
/// Usage per user (issue 13) end to end: requests through the gateway to the emulator, read back through
/// <c>GET /api/admin/users/{id}</c>, <c>GET /api/admin/users?top=…</c> and <c>keypool users export</c>.
/// </summary>
public sealed class UserUsageTests : IAsyncLifetime
{
    private const string Alice = "alice";
    private const string Bob = "bob";
    private const string Odd = "carol, \"the\" odd"; // an id the CSV must quote
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHarness.StartAsync(keyCount: 3);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task UsagePerUser_EqualsWhatTheEmulatorServed_ThroughTheApiAndTheExport()
    {
        var seen = new Dictionary<string, Counts> { [Alice] = default, [Bob] = default, [Odd] = default };
        for (var i = 0; i < 3; i++)
        {
            seen[Alice] += await PlainAsync(Alice, $"plain {i}");
        }
        seen[Alice] += await StreamAsync(Alice, "streamed with usage", includeUsage: true);
        seen[Odd] += await PlainAsync(Odd, "a longer question for the odd user, to cost other tokens");
        seen[Odd] += await StreamAsync(Odd, "streamed", includeUsage: true);
        // Bob streams without asking for usage: the gateway asks for it, counts it and strips it, so the client
        // sees none; his row is checked against the keys' totals below.
        await StreamAsync(Bob, "streamed without usage", includeUsage: false);
        await StreamAsync(Bob, "again", includeUsage: false);
        using (var models = await _gateway.Http.SendAsync(Authorized(HttpMethod.Get, "/v1/models")))
        {
            Assert.Equal(HttpStatusCode.OK, models.StatusCode); // no user: counted for a key, never for a user
        }

        // Read at once, before any flush: what is pending in memory counts.
        var alice = await UserAsync(Alice);
        var today = alice.GetProperty("today");
        Assert.Equal(seen[Alice], Counts.Of(today));
        Assert.Equal(seen[Alice], Counts.Of(alice.GetProperty("last30Days")));
        var days = alice.GetProperty("days").EnumerateArray().ToArray();
        Assert.Equal(30, days.Length);
        Assert.Equal(today.GetProperty("day").GetString(), days[^1].GetProperty("day").GetString());
        Assert.All(days[..^1], d => Assert.Equal(0, d.GetProperty("totalTokens").GetInt64()));
        Assert.Equal(seen[Odd], Counts.Of((await UserAsync(Odd)).GetProperty("today")));

        // Requests: what the emulator answered for each user. Tokens: every user together is what the keys spent.
        var bob = Counts.Of((await UserAsync(Bob)).GetProperty("today"));
        foreach (var (user, counts) in new[] { (Alice, seen[Alice]), (Bob, bob), (Odd, seen[Odd]) })
        {
            Assert.Equal(ServedTo(user), counts.Requests);
        }
        Assert.True(bob.TotalTokens > 0 && bob.CompletionTokens > 0, bob.ToString());
        var health = (await _gateway.HealthAsync()).GetProperty("keyGroupStats").EnumerateArray().ToArray();
        Assert.Equal(health.Sum(g => g.GetProperty("total_tokens").GetInt64()), seen[Alice].TotalTokens + seen[Odd].TotalTokens + bob.TotalTokens);
        Assert.Equal(health.Sum(g => g.GetProperty("prompt_tokens").GetInt64()), seen[Alice].PromptTokens + seen[Odd].PromptTokens + bob.PromptTokens);

        // The heaviest users of the day, by tokens and by requests.
        var byTokens = await TopAsync("?top=2&by=tokens");
        Assert.Equal(today.GetProperty("day").GetString(), byTokens.GetProperty("day").GetString());
        var ranked = new[] { (Alice, seen[Alice]), (Bob, bob), (Odd, seen[Odd]) }.OrderByDescending(u => u.Item2.TotalTokens).ToArray();
        Assert.Equal(ranked.Take(2).Select(u => u.Item1), byTokens.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("id").GetString()));
        var byRequests = (await TopAsync("?by=requests")).GetProperty("users").EnumerateArray().ToArray();
        Assert.Equal([Alice, Bob, Odd], byRequests.Select(u => u.GetProperty("id").GetString())); // a tie goes by id
        Assert.Equal(seen[Odd], Counts.Of(byRequests[2]));

        // The export reads the store: the top list above flushed what was pending.
        var csv = Path.Combine(Path.GetDirectoryName(_gateway.DatabasePath)!, "usage.csv");
        var exit = await KeyPoolCommandLine.Create().Parse(
            ["users", "export", "--day", today.GetProperty("day").GetString()!, "--output", csv, $"--ConnectionStrings:KeyPool=Data Source={_gateway.DatabasePath}"]).InvokeAsync();
        Assert.Equal(0, exit);
        var lines = await File.ReadAllLinesAsync(csv);
        Assert.Equal(UsageExportCommand.Header, lines[0]);
        var exported = lines[1..].Select(ParseLine).ToDictionary(l => l.Id, l => l.Counts);
        Assert.Equal(3, exported.Count);
        Assert.Equal(seen[Alice], exported[Alice]);
        Assert.Equal(bob, exported[Bob]);
        Assert.Equal(seen[Odd], exported[Odd]);
    }

    [Theory]
    [InlineData("?top=0", "top")]
    [InlineData("?top=1001", "top")]
    [InlineData("?top=ten", "top")]
    [InlineData("?by=money", "by")]
    [InlineData("?day=2026-13-01", "day")]
    [InlineData("?day=28.11.2026", "day")]
    public async Task Top_InvalidParameter_Is400InOpenAiShape(string query, string param)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/users" + query));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Top_ADayWithoutUsage_IsAnEmptyList()
    {
        var top = await TopAsync("?day=2020-01-01&top=1000");

        Assert.Equal("2020-01-01", top.GetProperty("day").GetString());
        Assert.Equal("tokens", top.GetProperty("by").GetString());
        Assert.Empty(top.GetProperty("users").EnumerateArray());
    }

    [Fact]
    public void Export_Field_QuotesOnlyWhatCsvNeedsTo()
    {
        string Field(string value)
        {
            var line = new StringBuilder();
            UsageExportCommand.AppendField(line, value);
            return line.ToString();
        }

        Assert.Equal("plain-id_1", Field("plain-id_1"));
        Assert.Equal("\"a,b\"", Field("a,b"));
        Assert.Equal("\"say \"\"hi\"\"\"", Field("say \"hi\""));
        Assert.Equal("\"two\nlines\"", Field("two\nlines"));
    }

    private HttpRequestMessage Authorized(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", GatewayHarness.ClientToken);
        return request;
    }

    private long ServedTo(string user) => _gateway.Emulator.Served.LongCount(s =>
        (s.User == user || s.ConversationId == global::KeyPool.Proxy.ConversationId.For(user))
        && s.Status == 200 && s.Reason is null && s.Path.EndsWith("/chat/completions", StringComparison.Ordinal));

    private async Task<Counts> PlainAsync(string user, string content)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(content), user));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var usage = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("usage");
        return Counts.OfUsage(usage);
    }

    private async Task<Counts> StreamAsync(string user, string content, bool includeUsage)
    {
        var extra = includeUsage ? "\"stream_options\":{\"include_usage\":true}" : null;
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(content, stream: true, extra: extra), user));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var counts = default(Counts);
        var usageChunks = 0;
        foreach (var line in (await response.Content.ReadAsStringAsync()).Split('\n'))
        {
            if (!line.StartsWith("data: {", StringComparison.Ordinal))
            {
                continue;
            }
            using var chunk = JsonDocument.Parse(line["data: ".Length..]);
            if (chunk.RootElement.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                counts = Counts.OfUsage(usage);
                usageChunks++;
            }
        }
        Assert.Equal(includeUsage ? 1 : 0, usageChunks);
        return counts;
    }

    private async Task<JsonElement> UserAsync(string user)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, $"/api/admin/users/{Uri.EscapeDataString(user)}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("usage").Clone();
    }

    private async Task<JsonElement> TopAsync(string query)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/users" + query));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).Clone();
    }

    private static (string Id, Counts Counts) ParseLine(string line)
    {
        string id;
        string rest;
        if (line.StartsWith('"'))
        {
            var end = line.IndexOf("\",", 1, StringComparison.Ordinal);
            id = line[1..end].Replace("\"\"", "\"", StringComparison.Ordinal);
            rest = line[(end + 2)..];
        }
        else
        {
            id = line[..line.IndexOf(',', StringComparison.Ordinal)];
            rest = line[(id.Length + 1)..];
        }
        var f = rest.Split(',');
        return (id, new Counts(long.Parse(f[1]), long.Parse(f[2]), long.Parse(f[3]), long.Parse(f[4]), long.Parse(f[5]), long.Parse(f[6])));
    }

    private readonly record struct Counts(long Requests, long PromptTokens, long CompletionTokens, long ReasoningTokens, long CachedTokens, long TotalTokens)
    {
        public static Counts operator +(Counts a, Counts b) => new(
            a.Requests + b.Requests, a.PromptTokens + b.PromptTokens, a.CompletionTokens + b.CompletionTokens,
            a.ReasoningTokens + b.ReasoningTokens, a.CachedTokens + b.CachedTokens, a.TotalTokens + b.TotalTokens);

        /// <summary>One answer's OpenAI <c>usage</c> object: one request.</summary>
        public static Counts OfUsage(JsonElement usage) => new(
            1,
            usage.GetProperty("prompt_tokens").GetInt64(),
            usage.GetProperty("completion_tokens").GetInt64(),
            usage.TryGetProperty("completion_tokens_details", out var completion) && completion.TryGetProperty("reasoning_tokens", out var reasoning) ? reasoning.GetInt64() : 0,
            usage.TryGetProperty("prompt_tokens_details", out var prompt) && prompt.TryGetProperty("cached_tokens", out var cached) ? cached.GetInt64() : 0,
            usage.GetProperty("total_tokens").GetInt64());

        /// <summary>The gateway's camelCase counts.</summary>
        public static Counts Of(JsonElement counts) => new(
            counts.GetProperty("requests").GetInt64(),
            counts.GetProperty("promptTokens").GetInt64(),
            counts.GetProperty("completionTokens").GetInt64(),
            counts.GetProperty("reasoningTokens").GetInt64(),
            counts.GetProperty("cachedTokens").GetInt64(),
            counts.GetProperty("totalTokens").GetInt64());
    }
}
