using KeyPool.Core.Keys;
using KeyPool.Proxy;

namespace KeyPool.Tests.Proxy;

/// <summary>Upstream text that carries a real key (the emulator only ever echoes masked ones) never leaves with it.</summary>
public sealed class SecretScrubberTests
{
    private const string Key = "xai-Zk3f9QpLm2Vb7Tn1Rc8Wd4Yh6Jx0Ga5Se";
    private static readonly KeyRing Ring = new([new UpstreamKey(1, Key), new UpstreamKey(2, "sk-proj-abcdefghijklmnopqrstuvwx")]);

    [Theory]
    [InlineData("Incorrect API key provided: " + Key + ". You can obtain an API key from the console.")]
    [InlineData("key=" + Key + "&retry")]
    [InlineData("another pool's key xai-AAAAAAAAAAAAAAAAAAAAAAAAAAAA leaked")]
    [InlineData("sk-proj-abcdefghijklmnopqrstuvwx was refused")]
    public void Scrub_RemovesEveryKeyShapedSecret(string text)
    {
        var scrubbed = SecretScrubber.Scrub(text, Ring);

        Assert.DoesNotContain(Key, scrubbed, StringComparison.Ordinal);
        Assert.DoesNotContain("xai-AAAAAAAAAAAAAAAAAAAAAAAAAAAA", scrubbed, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-proj-abcdefghijklmnopqrstuvwx", scrubbed, StringComparison.Ordinal);
    }

    [Fact]
    public void Scrub_KeepsTheMaskedFormForTheOperator() =>
        Assert.Contains(new UpstreamKey(1, Key).Masked, SecretScrubber.Scrub("bad key " + Key, Ring), StringComparison.Ordinal);

    [Theory]
    [InlineData("""{"code":"Client specified an invalid argument","error":"Incorrect API key provided: xai-Zk3f9QpLm2Vb7Tn1Rc8Wd4Yh6Jx0Ga5Se."}""")]
    [InlineData("""{"error":{"message":"Incorrect API key provided: xai-Zk3f9QpLm2Vb7Tn1Rc8Wd4Yh6Jx0Ga5Se.","type":"invalid_request_error","code":"invalid_api_key"}}""")]
    public void ErrorBody_ReadsXaiAndOpenAiShapes_AndTheMessageScrubsClean(string body)
    {
        var message = UpstreamErrorBody.ReadMessage(System.Text.Encoding.UTF8.GetBytes(body));

        Assert.StartsWith("Incorrect API key provided", message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, SecretScrubber.Scrub(message!, Ring), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json " + Key)]
    [InlineData("")]
    [InlineData("""{"detail":"no message field"}""")]
    public void ErrorBody_WithoutAMessage_IsNull_SoTheKeyCannotTravelInIt(string body) =>
        Assert.Null(UpstreamErrorBody.ReadMessage(System.Text.Encoding.UTF8.GetBytes(body)));
}
