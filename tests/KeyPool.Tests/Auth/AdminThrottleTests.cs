using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace KeyPool.Tests.Auth;

/// <summary>Failed admin attempts from one address are slowed down (429 with Retry-After), on a fake clock; the right token always passes.</summary>
public sealed class AdminThrottleTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHarness.StartAsync(keyCount: 2, time: _time);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private async Task<(HttpStatusCode Status, int? RetryAfter, JsonElement Body)> HealthAsync(string token)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health", token: token));
        var retryAfter = response.Headers.RetryAfter?.Delta is { } delta ? (int)delta.TotalSeconds : (int?)null;
        return (response.StatusCode, retryAfter, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    [Fact]
    public async Task FailedAttempts_AreSlowedDown_TheRightTokenNever()
    {
        for (var i = 0; i < 5; i++)
        {
            var free = await HealthAsync("wrong-guess");
            Assert.Equal((HttpStatusCode.Unauthorized, (int?)null), (free.Status, free.RetryAfter));
        }

        var sixth = await HealthAsync("wrong-guess");
        Assert.Equal((HttpStatusCode.Unauthorized, (int?)1), (sixth.Status, sixth.RetryAfter));

        // While the address waits, the right token still passes: one guesser must not lock out the operators behind it.
        Assert.Equal(HttpStatusCode.OK, (await HealthAsync(GatewayHarness.AdminToken)).Status);
        var blocked = await HealthAsync("wrong-guess");
        Assert.Equal((HttpStatusCode.TooManyRequests, (int?)2), (blocked.Status, blocked.RetryAfter));
        Assert.Equal("rate_limit_error", blocked.Body.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("too_many_failed_attempts", blocked.Body.GetProperty("error").GetProperty("code").GetString());

        var waits = new List<int> { 2 };
        for (var i = 0; i < 5; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(waits[^1]));
            var failed = await HealthAsync("wrong-guess");
            Assert.Equal(HttpStatusCode.Unauthorized, failed.Status);
            waits.Add(failed.RetryAfter!.Value);
            Assert.Equal(HttpStatusCode.OK, (await HealthAsync(GatewayHarness.AdminToken)).Status);
        }
        Assert.Equal([2, 4, 8, 16, 30, 30], waits); // doubling, capped at 30 s

        // A success does not wash the failures away: the next guess is still slowed.
        var afterSuccess = await HealthAsync("wrong-guess");
        Assert.Equal((HttpStatusCode.TooManyRequests, (int?)30), (afterSuccess.Status, afterSuccess.RetryAfter));
        Assert.Contains(_gateway.LogLines, l => l.Contains("Failed authentication attempts from 127.0.0.1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ProxyTraffic_IsNotThrottled_ByAdminFailures()
    {
        for (var i = 0; i < 8; i++)
        {
            await HealthAsync("wrong-guess");
        }

        var (status, _, _) = await _gateway.ChatAsync("someone");

        Assert.Equal(200, status);
    }
}
