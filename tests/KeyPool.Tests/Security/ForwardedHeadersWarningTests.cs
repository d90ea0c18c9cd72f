using System.Net;
using System.Text.Json;
using KeyPool.Auth;
using KeyPool.Configuration;
using KeyPool.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KeyPool.Tests.Security;

/// <summary>
/// Requests that name a forwarded client from a peer KeyPool does not believe (a load balancer missing from
/// <c>KnownProxies</c>: every caller behind it shares one address for the failed-attempt throttle) are warned about once,
/// in the log and in health.
/// </summary>
public sealed class ForwardedHeadersWarningTests
{
    private const int UntrustedProxyEvent = 607;

    [Theory]
    [InlineData("X-Forwarded-For", "203.0.113.7")]
    [InlineData("Forwarded", "for=203.0.113.7")]
    public async Task ForwardedClient_FromAPeerThatIsNotAKnownProxy_IsWarnedOnce_InTheLogAndInHealth(string header, string value)
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1);
        Assert.Equal(200, (await gateway.ChatAsync("alice")).Status);
        Assert.Empty(Warnings(await gateway.HealthAsync())); // a request without the header says nothing

        for (var i = 0; i < 3; i++)
        {
            using var request = gateway.ChatRequest(GatewayHarness.ChatBody(), "alice");
            request.Headers.TryAddWithoutValidation(header, value);
            using var response = await gateway.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var warning = Assert.Single(Warnings(await gateway.HealthAsync()));
        Assert.Contains("from 127.0.0.1", warning, StringComparison.Ordinal);
        Assert.Contains("KeyPool__ForwardedHeaders__KnownProxies__0=127.0.0.1", warning, StringComparison.Ordinal);
        var logged = Assert.Single(gateway.Logs.GetSnapshot(), r => r.Id.Id == UntrustedProxyEvent);
        Assert.Equal(warning, logged.Message);
        Assert.Single(Warnings(await gateway.HealthAsync())); // kept until restart
    }

    [Theory]
    [InlineData("KeyPool:ForwardedHeaders:KnownProxies:0", "127.0.0.1")]
    [InlineData("KeyPool:ForwardedHeaders:KnownNetworks:0", "127.0.0.0/8")]
    public async Task ForwardedClient_FromAKnownProxyOrNetwork_IsBelieved_AndNoWarning(string setting, string value)
    {
        await using var gateway = await GatewayHarness.StartAsync(keyCount: 1, settings: new Dictionary<string, string?> { [setting] = value });

        // Six failed admin attempts of one forwarded client throttle that client only: the proxy's header is believed.
        for (var i = 0; i < 6; i++)
        {
            using var guess = gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health", token: "wrong-admin-token-guess-" + i);
            guess.Headers.Add("X-Forwarded-For", "203.0.113.7");
            using var _ = await gateway.Http.SendAsync(guess);
        }
        using var other = gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health", token: "another-clients-wrong-admin-token");
        other.Headers.Add("X-Forwarded-For", "198.51.100.9");
        using var otherResponse = await gateway.Http.SendAsync(other);
        Assert.Equal(HttpStatusCode.Unauthorized, otherResponse.StatusCode);

        using var forwarded = gateway.ChatRequest(GatewayHarness.ChatBody(), "alice");
        forwarded.Headers.Add("Forwarded", "for=203.0.113.8");
        using var response = await gateway.Http.SendAsync(forwarded);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        Assert.Empty(Warnings(await gateway.HealthAsync()));
        Assert.DoesNotContain(gateway.Logs.GetSnapshot(), r => r.Id.Id == UntrustedProxyEvent);
    }

    [Fact]
    public async Task TheWatch_AllocatesNothingPerRequest_BeforeOrAfterTheWarning()
    {
        var check = new ForwardedHeadersCheck(Options.Create(new ForwardedHeadersSettings()), NullLogger<ForwardedHeadersCheck>.Instance);
        var plain = new DefaultHttpContext();
        plain.Connection.RemoteIpAddress = IPAddress.Loopback;
        var forwarded = new DefaultHttpContext();
        forwarded.Connection.RemoteIpAddress = IPAddress.Loopback;
        forwarded.Request.Headers["X-Forwarded-For"] = "203.0.113.7";
        RequestDelegate next = _ => Task.CompletedTask;
        await check.InvokeAsync(plain, next); // warm up

        Assert.Equal(0, AllocatedBy(() => check.InvokeAsync(plain, next)));
        Assert.Null(check.Warning);
        await check.InvokeAsync(forwarded, next);
        Assert.NotNull(check.Warning);
        Assert.Equal(0, AllocatedBy(() => check.InvokeAsync(forwarded, next)));
    }

    private static long AllocatedBy(Func<Task> request)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++)
        {
            _ = request();
        }
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static string[] Warnings(JsonElement health) =>
        health.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()!).ToArray();
}
