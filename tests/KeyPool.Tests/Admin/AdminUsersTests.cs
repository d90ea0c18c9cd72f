using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using KeyPool.Tests.Infrastructure;

namespace KeyPool.Tests.Admin;

public sealed class AdminUsersTests : IAsyncLifetime
{
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHarness.StartAsync(keyCount: 7);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Create_NewUser_Is201_ExistingIs200WithTheSameGroup()
    {
        using var created = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = "u1", tier = "free" }));
        var first = await created.Content.ReadFromJsonAsync<JsonElement>();
        using var again = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = "u1", tier = "pro" }));
        var second = await again.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("u1", first.GetProperty("id").GetString());
        Assert.Equal("free", first.GetProperty("tier").GetString());
        Assert.InRange(first.GetProperty("apiKeyGroup").GetInt32(), 1, 7);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(first.GetProperty("apiKeyGroup").GetInt32(), second.GetProperty("apiKeyGroup").GetInt32());
    }

    [Fact]
    public async Task Get_KnownUser_200_UnknownUser_404()
    {
        using (await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = "known" })))
        {
        }
        using var known = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/users/known"));
        using var unknown = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/users/nobody"));

        Assert.Equal(HttpStatusCode.OK, known.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("user_not_found", (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task ConcurrentSignUps_StayBalancedWithinOne()
    {
        var tasks = Enumerable.Range(0, 300).Select(async i =>
        {
            using var response = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = $"rush-{i}" }));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        });
        await Task.WhenAll(tasks);

        var counts = (await _gateway.HealthAsync()).GetProperty("keyGroupStats").EnumerateArray().Select(s => s.GetProperty("user_count").GetInt64()).ToArray();
        Assert.Equal(300, counts.Sum());
        Assert.True(counts.Max() - counts.Min() <= 1, string.Join(",", counts));
    }

    [Theory]
    [InlineData("{bad json")]
    [InlineData("{\"tier\":\"free\"}")]
    [InlineData("{\"id\":\"\"}")]
    public async Task Create_BadBody_Is400(string body)
    {
        var request = _gateway.Admin(HttpMethod.Post, "/api/admin/users");
        request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _gateway.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).TryGetProperty("error", out _));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong")]
    [InlineData(GatewayHarness.ClientToken)]
    public async Task AdminRoutes_WithoutTheAdminToken_Are401(string? token)
    {
        using var users = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Post, "/api/admin/users", new { id = "sneaky" }, token));
        using var health = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health", token: token));

        Assert.Equal(HttpStatusCode.Unauthorized, users.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, health.StatusCode);
    }
}
