using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using KeyPool.Auth;
using KeyPool.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenAI.Chat;

namespace KeyPool.Tests.Auth;

/// <summary>JWTs from the app's auth provider (Supabase-shaped HS256), so a front end can call KeyPool directly.</summary>
public sealed class JwtTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync() =>
        _gateway = await GatewayHarness.StartAsync(keyCount: 4, settings: TestTokens.SupabaseSettings(adminRole: "service_role"), time: _time);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private async Task<HttpStatusCode> ChatAsync(string token, string? userHeader = null)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(), userHeader, token: token));
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            Assert.Equal("authentication_error", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("type").GetString());
        }
        return response.StatusCode;
    }

    [Fact]
    public async Task SupabaseAccessToken_WorksWithTheOpenAiSdk_SubIsTheUser()
    {
        var userId = Guid.NewGuid().ToString();
        var token = TestTokens.Supabase(userId, _time.GetUtcNow());

        var completion = await _gateway.ChatClient(token: token).CompleteChatAsync([new UserChatMessage("Hello")]);

        Assert.False(string.IsNullOrEmpty(completion.Value.Content[0].Text));
        Assert.Equal([await _gateway.GroupOfAsync(userId)], _gateway.GroupsThatServed(userId));
    }

    [Fact]
    public async Task Token_WithAHeaderNamingAnotherUser_ActsAsSub()
    {
        var token = TestTokens.Supabase("user-a", _time.GetUtcNow());

        Assert.Equal(HttpStatusCode.OK, await ChatAsync(token, userHeader: "user-b"));
        Assert.Single(_gateway.GroupsThatServed("user-a"));
        Assert.Empty(_gateway.GroupsThatServed("user-b"));
    }

    [Fact]
    public async Task ExpiredToken_Is401_ByTheGatewaysClock()
    {
        var token = TestTokens.Supabase("user-a", _time.GetUtcNow(), lifetime: TimeSpan.FromMinutes(5));
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(token));

        _time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(20)); // within the 30 s skew
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(token));
        _time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(token));
    }

    [Fact]
    public async Task TokenNotYetValid_Is401()
    {
        var token = TestTokens.Supabase("user-a", _time.GetUtcNow() + TimeSpan.FromMinutes(5));

        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(token));
    }

    [Fact]
    public async Task WrongSignature_Is401()
    {
        var token = TestTokens.Supabase("user-a", _time.GetUtcNow(), secret: "another-projects-secret-of-at-least-32-characters");
        var parts = TestTokens.Supabase("user-a", _time.GetUtcNow()).Split('.');
        var tampered = TestTokens.Supabase("user-b", _time.GetUtcNow()).Split('.')[1];

        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(token));
        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync($"{parts[0]}.{tampered}.{parts[2]}"));
    }

    [Fact]
    public async Task WrongAudience_Is401()
    {
        var token = TestTokens.Supabase("user-a", _time.GetUtcNow(), audience: "some-other-api");

        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(token));
    }

    [Fact]
    public async Task SignedToken_WithoutExp_Is401()
    {
        var claims = new Dictionary<string, object> { ["sub"] = "user-a", ["role"] = "authenticated" };
        var descriptor = new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Claims = claims,
            Issuer = TestTokens.SupabaseIssuer,
            Audience = TestTokens.SupabaseAudience,
            IssuedAt = _time.GetUtcNow().UtcDateTime,
            SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(
                new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(TestTokens.SupabaseSecret)),
                Microsoft.IdentityModel.Tokens.SecurityAlgorithms.HmacSha256),
        };
        var handler = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        var token = handler.CreateToken(descriptor);
        Assert.DoesNotContain("\"exp\"", Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(token.Split('.')[1]), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(token));
    }

    [Fact]
    public async Task UnsignedToken_AlgNone_Is401()
    {
        static string Part(object value) => Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(JsonSerializer.Serialize(value));
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var token = $"{Part(new { alg = "none", typ = "JWT" })}.{Part(new { sub = "user-a", aud = TestTokens.SupabaseAudience, iss = TestTokens.SupabaseIssuer, exp = now + 600, iat = now })}.";

        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(token));
    }

    [Fact]
    public async Task RsaSignedToken_IsRefused_WhenOnlyTheSharedSecretIsConfigured()
    {
        using var rsa = RSA.Create(2048);
        var token = TestTokens.Rs256(rsa, "k1", "user-a", _time.GetUtcNow(), TestTokens.SupabaseIssuer, TestTokens.SupabaseAudience);

        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(token));
    }

    [Fact]
    public async Task AdminRoute_WithTheAdminRole_Opens_WithoutIt_Is403()
    {
        var admin = TestTokens.Supabase("ops", _time.GetUtcNow(), role: "service_role");
        var user = TestTokens.Supabase("user-a", _time.GetUtcNow());

        using var granted = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health", token: admin));
        using var forbidden = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health", token: user));
        using var expired = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health",
            token: TestTokens.Supabase("ops", _time.GetUtcNow() - TimeSpan.FromHours(2), role: "service_role")));

        Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal("permission_error", (await forbidden.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
    }

    [Fact]
    public async Task ClientTokens_StillWork_BesideJwts()
    {
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(GatewayHarness.ClientToken, userHeader: "dave"));
        Assert.Single(_gateway.GroupsThatServed("dave"));
    }
}

/// <summary>The role claim: a name, an array, or a dotted path into an object claim such as Supabase's <c>app_metadata</c>.</summary>
public sealed class JwtRoleClaimTests
{
    private static JsonWebToken Token(object appMetadata, string role = "authenticated") =>
        new(TestTokens.Supabase("u", DateTimeOffset.UtcNow, role: role, appMetadata: appMetadata));

    [Fact]
    public void HasRole_PlainClaim()
    {
        Assert.True(JwtAuthenticator.HasRole(Token(new { }, role: "service_role").Claims, ["role"], "service_role"));
        Assert.False(JwtAuthenticator.HasRole(Token(new { }).Claims, ["role"], "service_role"));
    }

    [Fact]
    public void HasRole_NestedPath_StringOrArray()
    {
        Assert.True(JwtAuthenticator.HasRole(Token(new { role = "keypool_admin" }).Claims, ["app_metadata", "role"], "keypool_admin"));
        Assert.True(JwtAuthenticator.HasRole(Token(new { roles = new[] { "x", "keypool_admin" } }).Claims, ["app_metadata", "roles"], "keypool_admin"));
        Assert.False(JwtAuthenticator.HasRole(Token(new { role = "member" }).Claims, ["app_metadata", "role"], "keypool_admin"));
        Assert.False(JwtAuthenticator.HasRole(Token(new { provider = "email" }).Claims, ["app_metadata", "role"], "keypool_admin"));
    }
}

/// <summary>Tokens signed with the provider's private keys, checked against its JSON Web Key Set.</summary>
public sealed class JwksTests : IAsyncLifetime
{
    private const string Issuer = "https://auth.example.test/";
    private const string Audience = "keypool";

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly RSA _first = RSA.Create(2048);
    private readonly RSA _second = RSA.Create(2048);
    private JwksServer _jwks = null!;
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync()
    {
        _jwks = await JwksServer.StartAsync(TestTokens.Jwks((_first, "k1")));
        _gateway = await GatewayHarness.StartAsync(keyCount: 3, time: _time, settings: new Dictionary<string, string?>
        {
            ["KeyPool:ClientTokens:0"] = "", // JWTs only
            ["KeyPool:Auth:Jwt:JwksUrl"] = _jwks.Url.ToString(),
            ["KeyPool:Auth:Jwt:Issuer"] = Issuer,
            ["KeyPool:Auth:Jwt:Audience"] = Audience,
            ["KeyPool:Auth:Jwt:AdminRole"] = "admin",
        });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _jwks.DisposeAsync();
        _first.Dispose();
        _second.Dispose();
    }

    private async Task<HttpStatusCode> ChatAsync(string token)
    {
        using var response = await _gateway.Http.SendAsync(_gateway.ChatRequest(GatewayHarness.ChatBody(), token: token));
        return response.StatusCode;
    }

    [Fact]
    public async Task Rs256Token_Works_KeySetFetchedOnce()
    {
        var token = TestTokens.Rs256(_first, "k1", "user-r", _time.GetUtcNow(), Issuer, Audience);

        var completion = await _gateway.ChatClient(token: token).CompleteChatAsync([new UserChatMessage("Hello")]);
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(token));

        Assert.False(string.IsNullOrEmpty(completion.Value.Content[0].Text));
        Assert.Equal(2, _gateway.GroupsThatServed("user-r").Count);
        Assert.Equal(1, _jwks.Requests); // at start, then from memory
    }

    [Fact]
    public async Task UnknownSigningKey_Is401_UntilTheKeySetIsFetchedAgain()
    {
        var rotated = TestTokens.Rs256(_second, "k2", "user-r", _time.GetUtcNow(), Issuer, Audience);
        _jwks.Document = TestTokens.Jwks((_first, "k1"), (_second, "k2"));

        // Refetches are spaced out so made-up key ids cannot hammer the provider.
        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(rotated));
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(TestTokens.Rs256(_second, "k2", "user-r", _time.GetUtcNow(), Issuer, Audience)));
        Assert.Equal(2, _jwks.Requests);
    }

    [Fact]
    public async Task WrongIssuer_WrongAudience_ForeignKey_Are401()
    {
        using var stranger = RSA.Create(2048);

        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(TestTokens.Rs256(_first, "k1", "user-r", _time.GetUtcNow(), "https://evil.test/", Audience)));
        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(TestTokens.Rs256(_first, "k1", "user-r", _time.GetUtcNow(), Issuer, "other")));
        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(TestTokens.Rs256(stranger, "k1", "user-r", _time.GetUtcNow(), Issuer, Audience)));
        Assert.Equal(HttpStatusCode.Unauthorized, await ChatAsync(GatewayHarness.ClientToken)); // client tokens are off here
    }

    [Fact]
    public async Task AdminRoute_WithTheAdminRole_Opens()
    {
        using var granted = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health",
            token: TestTokens.Rs256(_first, "k1", "ops", _time.GetUtcNow(), Issuer, Audience, role: "admin")));
        using var forbidden = await _gateway.Http.SendAsync(_gateway.Admin(HttpMethod.Get, "/api/admin/api-keys/health",
            token: TestTokens.Rs256(_first, "k1", "user-r", _time.GetUtcNow(), Issuer, Audience)));

        Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
    }
}
