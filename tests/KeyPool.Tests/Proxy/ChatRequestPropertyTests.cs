using System.Text;
using System.Text.Json;
using CsCheck;
using KeyPool.Proxy;

namespace KeyPool.Tests.Proxy;

/// <summary>
/// Property-based tests of the request reader (<see cref="ChatRequest"/>) and the body rewrite the planner applies:
/// any bytes are answered without an exception, and generated requests are read back exactly. Bounded iterations
/// on one thread, so the test command stays fast on a shared machine.
/// </summary>
public sealed class ChatRequestPropertyTests
{
    private const long Iterations = 3_000;

    private static readonly Gen<string> Text = Gen.Frequency(
        (3, Gen.String[Gen.Char.AlphaNumeric, 0, 40]),
        (2, Gen.String[0, 40]), // any UTF-16, lone surrogates included
        (1, Gen.Const("usage")),
        (1, Gen.Const("\"}\\\n\u0000")));

    private static readonly Gen<GeneratedRequest> Requests =
        Gen.Select(Text.Null(), Text.Null(), Gen.Bool, Gen.Bool.Nullable(), Gen.Long.Nullable(), Gen.Int[0, 5], Gen.Bool)
            .Select((model, user, stream, includeUsage, maxTokens, extras, messagesFirst) =>
                new GeneratedRequest(model, user, stream, includeUsage, maxTokens, extras, messagesFirst));

    [Fact]
    public void ArbitraryBytes_NeverThrow()
    {
        Gen.Byte.Array[0, 600].Sample(bytes =>
        {
            var chat = ChatRequest.Read(bytes, 100, out var error, out var code);
            Assert.True(chat is null == error is not null);
            Assert.True(chat is null == code is not null);
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void DamagedValidBodies_NeverThrow()
    {
        // A valid body with bytes overwritten, cut short or repeated: near-misses the reader meets most.
        Gen.Select(Requests, Gen.Int[0, 400], Gen.Byte, Gen.Int[0, 3]).Sample((request, position, value, damage) =>
        {
            var body = request.Serialize();
            var at = position % Math.Max(1, body.Length);
            byte[] damaged = damage switch
            {
                0 => [.. body[..at], value, .. body[(at + 1)..]],
                1 => body[..at],
                2 => [.. body[..at], .. body[at..], .. body[at..]],
                _ => [.. body[..at], value, .. body[at..]],
            };
            ChatRequest.Read(damaged, 100, out _, out _);
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void GeneratedRequests_AreReadBackExactly_InAnyMemberOrder()
    {
        Requests.Sample(request =>
        {
            var body = request.Serialize();
            var read = ChatRequest.Read(body, 100, out var error, out _);

            if (request.HasLoneSurrogate)
            {
                // Its escape is valid JSON but no text: refused, never thrown.
                if (read is null)
                {
                    Assert.NotNull(error);
                    return;
                }
            }
            Assert.True(read is not null, error);
            var chat = read.Value;
            Assert.Equal(request.Model, chat.Model);
            Assert.Equal(request.User, chat.User);
            Assert.Equal(request.Stream, chat.Stream);
            Assert.Equal(request.IncludeUsage is not null, chat.HasStreamOptions);
            Assert.Equal(request.IncludeUsage == true, chat.IncludeUsage);
            Assert.Equal(request.MaxTokens, chat.MaxTokens);
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void Rewrite_KeepsTheBodyValid_AndAsksForUsageOnce()
    {
        Requests.Where(r => !r.HasLoneSurrogate).Sample(request =>
        {
            var body = request.Serialize();
            var chat = ChatRequest.Read(body, 100, out _, out _)!.Value;
            var addUsage = chat.Stream && !chat.IncludeUsage;

            var rewritten = RequestBodyRewriter.Rewrite(body, chat, "pinned-model", addUsage, "credential-user");

            using var document = JsonDocument.Parse(rewritten, new JsonDocumentOptions { AllowDuplicateProperties = false });
            var again = ChatRequest.Read(rewritten.Span, 100, out var error, out _);
            Assert.True(again is not null, error);
            Assert.Equal("pinned-model", again.Value.Model);
            // A credential's user replaces a body user naming someone else; a body without one stays without.
            Assert.Equal(chat.User is null ? null : "credential-user", again.Value.User);
            Assert.Equal(chat.Stream, again.Value.Stream);
            Assert.Equal(chat.MaxTokens, again.Value.MaxTokens);
            Assert.Equal(chat.IncludeUsage || addUsage, again.Value.IncludeUsage);
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void DeeplyNestedBodies_AreRewrittenOrRefused_NeverThrow()
    {
        Gen.Select(Gen.Int[1, 300], Gen.Bool, Gen.Bool).Sample((depth, pin, streamOptions) =>
        {
            var body = Encoding.UTF8.GetBytes($"{{\"model\":\"m\",\"stream\":true,{(streamOptions ? "\"stream_options\":null," : "")}\"x\":{new string('[', depth)}{new string(']', depth)}}}");
            if (ChatRequest.Read(body, 100, out _, out _) is not { } chat)
            {
                return;
            }

            var rewritten = RequestBodyRewriter.Rewrite(body, chat, pin ? "pinned" : null, addIncludeUsage: true, "credential-user");

            Assert.True(ChatRequest.Read(rewritten.Span, 100, out var error, out _)?.IncludeUsage, error);
        }, iter: 600, threads: 1);
    }

    [Fact]
    public void ItemCap_CountsOnlyTheTopLevelArrays()
    {
        Gen.Select(Gen.Int[0, 30], Gen.Int[0, 30], Gen.Int[1, 20]).Sample((messages, nested, cap) =>
        {
            // Items nested inside a message do not count; the messages themselves do.
            var inner = string.Join(',', Enumerable.Repeat("1", nested));
            var body = Encoding.UTF8.GetBytes($"{{\"model\":\"m\",\"messages\":[{string.Join(',', Enumerable.Repeat($"{{\"content\":[{inner}]}}", messages))}]}}");

            var read = ChatRequest.Read(body, cap, out _, out var code);

            Assert.Equal(messages <= cap, read is not null);
            Assert.Equal(messages <= cap ? null : ChatRequest.TooManyItems, code);
        }, iter: 500, threads: 1);
    }

    internal sealed record GeneratedRequest(string? Model, string? User, bool Stream, bool? IncludeUsage, long? MaxTokens, int Extras, bool MessagesFirst)
    {
        public bool HasLoneSurrogate => HasLone(Model) || HasLone(User);

        public byte[] Serialize()
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                json.WriteStartObject();
                if (MessagesFirst)
                {
                    WriteMessages(json);
                }
                json.WritePropertyName("model");
                WriteText(json, Model);
                for (var i = 0; i < Extras; i++)
                {
                    json.WriteStartObject($"extra_{i}");
                    json.WriteString("user", "not-the-user");
                    json.WriteBoolean("stream", !Stream);
                    json.WriteEndObject();
                }
                json.WritePropertyName("user");
                WriteText(json, User);
                json.WriteBoolean("stream", Stream);
                if (IncludeUsage is { } include)
                {
                    json.WriteStartObject("stream_options");
                    json.WriteBoolean("include_usage", include);
                    json.WriteEndObject();
                }
                if (MaxTokens is { } max)
                {
                    json.WriteNumber("max_tokens", max);
                }
                if (!MessagesFirst)
                {
                    WriteMessages(json);
                }
                json.WriteEndObject();
            }
            return buffer.ToArray();
        }

        private static void WriteMessages(Utf8JsonWriter json)
        {
            json.WriteStartArray("messages");
            json.WriteStartObject();
            json.WriteString("role", "user");
            json.WriteString("content", "{\"model\":\"inner\",\"user\":\"inner\"}");
            json.WriteEndObject();
            json.WriteEndArray();
        }

        // Utf8JsonWriter refuses lone surrogates, so those are written as the escape a hostile client would send.
        private static void WriteText(Utf8JsonWriter json, string? text)
        {
            if (text is null)
            {
                json.WriteNullValue();
            }
            else if (HasLone(text))
            {
                var escaped = new StringBuilder("\"");
                foreach (var c in text)
                {
                    escaped.Append(CultureInfoInvariant($"\\u{(int)c:x4}"));
                }
                json.WriteRawValue(escaped.Append('"').ToString(), skipInputValidation: true);
            }
            else
            {
                json.WriteStringValue(text);
            }
        }

        private static string CultureInfoInvariant(FormattableString text) => FormattableString.Invariant(text);

        private static bool HasLone(string? text)
        {
            if (text is null)
            {
                return false;
            }
            for (var i = 0; i < text.Length; i++)
            {
                if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    i++;
                }
                else if (char.IsSurrogate(text[i]))
                {
                    return true;
                }
            }
            return false;
        }
    }
}
