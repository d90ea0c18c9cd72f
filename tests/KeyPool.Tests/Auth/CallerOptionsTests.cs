using System.Net;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Auth;

/// <summary>At least one way to call must be configured; every bad auth setting is named at start.</summary>
public sealed class CallerOptionsTests
{
    [Fact]
    public async Task NoWayToCall_RefusesToStart_SayingWhatToSet()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(keyCount: 1, settings: new Dictionary<string, string?>
        {
            ["KeyPool:ClientTokens:0"] = "",
        }));

        Assert.Contains("No way for callers to authenticate", exception.Message, StringComparison.Ordinal);
        Assert.Contains("KeyPool:Auth:GatewayKeys:Enabled", exception.Message, StringComparison.Ordinal);
        Assert.Contains("KeyPool:Auth:Jwt:Secret", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadJwtSettings_ListsEveryProblem_WithoutTheSecret()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(keyCount: 1, settings: new Dictionary<string, string?>
        {
            ["KeyPool:Auth:Jwt:Secret"] = "too-short-secret",
            ["KeyPool:Auth:Jwt:JwksUrl"] = "http://auth.example.com/jwks.json",
            ["KeyPool:Auth:Jwt:ClockSkew"] = "01:00:00",
            ["KeyPool:Auth:AdminThrottle:FreeFailures"] = "0",
        }));

        Assert.Contains("not both", exception.Message, StringComparison.Ordinal);
        Assert.Contains("KeyPool:Auth:Jwt:Secret must be at least 32 bytes", exception.Message, StringComparison.Ordinal);
        Assert.Contains("KeyPool:Auth:Jwt:JwksUrl must be an absolute https URL", exception.Message, StringComparison.Ordinal);
        Assert.Contains("KeyPool:Auth:Jwt:ClockSkew", exception.Message, StringComparison.Ordinal);
        Assert.Contains("KeyPool:Auth:AdminThrottle:FreeFailures", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("too-short-secret", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GatewayKeysAlone_AreEnough_AndClientTokensAreThenOff()
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1, settings: new Dictionary<string, string?>
        {
            ["KeyPool:ClientTokens:0"] = "",
            ["KeyPool:Auth:GatewayKeys:Enabled"] = "true",
        });

        using var response = await gateway.Http.SendAsync(gateway.ChatRequest(GatewayHarness.ChatBody(), "alice"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(gateway.LogLines, l => l == "Callers may authenticate with: gateway keys");
    }
}
