using System.Security.Cryptography;
using System.Text;
using KeyPool.Core.Callers;

namespace KeyPool.Core.Tests.Callers;

public sealed class GatewayKeySecretTests
{
    [Fact]
    public void Generate_MarkerAnd256RandomBits_NeverTheSame()
    {
        var secrets = Enumerable.Range(0, 1_000).Select(_ => GatewayKeySecret.Generate()).ToList();

        Assert.All(secrets, s =>
        {
            Assert.StartsWith("kp-", s, StringComparison.Ordinal);
            Assert.Equal(GatewayKeySecret.Length, s.Length);
            Assert.True(GatewayKeySecret.LooksLike(s));
        });
        Assert.Equal(46, GatewayKeySecret.Length); // "kp-" + 43 base64url characters = 256 bits
        Assert.Equal(secrets.Count, secrets.Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [InlineData("")]
    [InlineData("kp-short")]
    [InlineData("sk-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("kp-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("kp-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void LooksLike_OtherShapes_False(string presented) => Assert.False(GatewayKeySecret.LooksLike(presented));

    [Fact]
    public void Hash_IsTheSha256OfTheUtf8Secret()
    {
        var secret = GatewayKeySecret.Generate();

        var hash = GatewayKeySecret.Hash(secret);

        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(secret)), hash.ToArray());
        Assert.Equal(hash, GatewayKeyHash.FromBytes(hash.ToArray()));
        Assert.NotEqual(hash, GatewayKeySecret.Hash(GatewayKeySecret.Generate()));
        Assert.True(hash.FixedTimeEquals(GatewayKeySecret.Hash(secret)));
    }

    [Fact]
    public void Prefix_ShowsMarkerAndFourCharacters()
    {
        Assert.Equal("kp-ab12…", GatewayKeySecret.Prefix("kp-ab12cdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"));
    }

    [Fact]
    public void NewId_IsPublicAndUnrelatedToTheSecret()
    {
        var id = GatewayKeySecret.NewId();

        Assert.StartsWith("gk_", id, StringComparison.Ordinal);
        Assert.NotEqual(id, GatewayKeySecret.NewId());
    }
}
