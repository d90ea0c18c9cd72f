using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Emulator.Tests.TestSupport;

/// <summary>An emulator on a free loopback port, a fake clock and an HttpClient pointed at it.</summary>
internal sealed class EmulatorHarness : IAsyncDisposable
{
    public const string KeyA = "xai-test-key-aaaa-0001";
    public const string KeyB = "xai-test-key-bbbb-0002";
    public const string KeyC = "xai-test-key-cccc-0003";

    private EmulatorHarness(UpstreamEmulator emulator, FakeTimeProvider time)
    {
        Emulator = emulator;
        Time = time;
        Client = new HttpClient { BaseAddress = new Uri(emulator.BaseUrl + "/") };
    }

    public UpstreamEmulator Emulator { get; }

    public FakeTimeProvider Time { get; }

    public HttpClient Client { get; }

    public static async Task<EmulatorHarness> StartAsync(Action<EmulatorOptions>? configure = null)
    {
        var options = new EmulatorOptions { Keys = { KeyA, KeyB, KeyC } };
        configure?.Invoke(options);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        var emulator = await UpstreamEmulator.StartAsync(options, timeProvider: time);
        return new EmulatorHarness(emulator, time);
    }

    public static JsonObject ChatBody(string model = "grok-3-mini", string content = "Hello there", bool stream = false, bool includeUsage = false)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
        };
        if (stream)
        {
            body["stream"] = true;
        }
        if (includeUsage)
        {
            body["stream_options"] = new JsonObject { ["include_usage"] = true };
        }
        return body;
    }

    public Task<HttpResponseMessage> PostChatAsync(string? key, JsonNode body, string? conversationId = null) =>
        PostAsync("chat/completions", key, body.ToJsonString(), conversationId);

    public async Task<HttpResponseMessage> PostAsync(
        string path,
        string? key,
        string body,
        string? conversationId = null,
        string? contentType = "application/json",
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        if (conversationId is not null)
        {
            request.Headers.Add("x-grok-conv-id", conversationId);
        }
        request.Content = new StringContent(body, Encoding.UTF8);
        request.Content.Headers.ContentType = contentType is null ? null : new MediaTypeHeaderValue(contentType);
        return await Client.SendAsync(request, completion);
    }

    public async Task<HttpResponseMessage> GetAsync(string path, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return await Client.SendAsync(request);
    }

    /// <summary>Posts a streaming chat request and returns the data payloads of its events, in order.</summary>
    public async Task<List<string>> StreamChatAsync(string key, JsonNode body)
    {
        using var response = await PostAsync("chat/completions", key, body.ToJsonString(), completion: HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var stream = await response.Content.ReadAsStreamAsync();
        return await ReadEventsAsync(stream, _ => { });
    }

    /// <summary>Reads <c>data:</c> payloads until the stream ends; each blank-line-terminated event is one payload.</summary>
    public static async Task<List<string>> ReadEventsAsync(Stream stream, Action<string> onEvent)
    {
        using var reader = new StreamReader(stream);
        var events = new List<string>();
        var expectBlank = false;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (expectBlank)
            {
                Assert.Equal("", line);
                expectBlank = false;
                continue;
            }
            Assert.StartsWith("data: ", line);
            var payload = line["data: ".Length..];
            events.Add(payload);
            onEvent(payload);
            expectBlank = true;
        }
        return events;
    }

    public async Task<HttpResponseMessage> DeleteAsync(string path, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, path);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return await Client.SendAsync(request);
    }

    /// <summary>
    /// Reads typed events (<c>event: &lt;type&gt;</c> then <c>data: …</c>, then a blank line) until the stream ends,
    /// checking that each data's <c>type</c> repeats the event line.
    /// </summary>
    public static async Task<List<(string Type, JsonElement Data)>> ReadTypedEventsAsync(Stream stream, List<(string Type, JsonElement Data)>? received = null)
    {
        using var reader = new StreamReader(stream);
        var events = received ?? [];
        while (await reader.ReadLineAsync() is { } line)
        {
            Assert.StartsWith("event: ", line);
            var type = line["event: ".Length..];
            var data = await reader.ReadLineAsync();
            Assert.NotNull(data);
            Assert.StartsWith("data: ", data);
            using var document = JsonDocument.Parse(data["data: ".Length..]);
            var payload = document.RootElement.Clone();
            Assert.Equal(type, payload.GetProperty("type").GetString());
            Assert.Equal("", await reader.ReadLineAsync());
            events.Add((type, payload));
        }
        return events;
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : "";

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Emulator.DisposeAsync();
    }
}
