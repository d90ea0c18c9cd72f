using System.Text;
using System.Text.Json;
using KeyPool.Proxy;

namespace KeyPool.Tests.Proxy;

public sealed class RequestBodyRewriterTests
{
    private static JsonDocument Rewrite(string body, string? pin = null, string? credentialUser = null)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var chat = ChatRequest.Read(bytes, out _)!.Value;
        var rewritten = RequestBodyRewriter.Rewrite(bytes, chat, pin, chat.Stream && !chat.IncludeUsage, credentialUser);
        // Parsed strictly: a member written twice is a bug an upstream may resolve either way.
        return JsonDocument.Parse(rewritten, new JsonDocumentOptions { AllowDuplicateProperties = false });
    }

    [Theory]
    [InlineData("""{"model":"m","stream":true,"stream_options":null}""")]
    [InlineData("""{"model":"m","stream":true,"stream_options":"yes"}""")]
    [InlineData("""{"model":"m","stream":true,"stream_options":{"include_usage":false}}""")]
    [InlineData("""{"model":"m","stream":true}""")]
    public void StreamingBody_GetsIncludeUsage_Once(string body)
    {
        using var document = Rewrite(body);

        Assert.True(document.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
    }

    [Fact]
    public void BodyUser_NamingSomeoneElse_IsReplacedByTheCredentialsUser()
    {
        using var document = Rewrite("""{"model":"m","user":"victim","messages":[]}""", credentialUser: "alice");

        Assert.Equal("alice", document.RootElement.GetProperty("user").GetString());
    }

    [Fact]
    public void ClientToken_BodyUser_IsLeftAsItIs()
    {
        using var document = Rewrite("""{"model":"m","user":"backend-user","messages":[]}""");

        Assert.Equal("backend-user", document.RootElement.GetProperty("user").GetString());
    }
}
