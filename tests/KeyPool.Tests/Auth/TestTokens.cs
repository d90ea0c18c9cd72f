using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace KeyPool.Tests.Auth;

/// <summary>Makes JWTs the way an auth provider does, for the gateway to check.</summary>
internal static class TestTokens
{
    /// <summary>A Supabase project's JWT secret is a long random string used as the HS256 key's UTF-8 bytes.</summary>
    public const string SupabaseSecret = "super-secret-jwt-token-with-at-least-32-characters-long";
    public const string SupabaseIssuer = "https://abcdefghijklmnop.supabase.co/auth/v1";
    public const string SupabaseAudience = "authenticated";

    public static IDictionary<string, string?> SupabaseSettings(string? adminRole = null) => new Dictionary<string, string?>
    {
        ["KeyPool:Auth:Jwt:Secret"] = SupabaseSecret,
        ["KeyPool:Auth:Jwt:Issuer"] = SupabaseIssuer,
        ["KeyPool:Auth:Jwt:Audience"] = SupabaseAudience,
        ["KeyPool:Auth:Jwt:AdminRole"] = adminRole,
    };

    /// <summary>An access token shaped like Supabase's: HS256, <c>aud</c> "authenticated", <c>sub</c> the user's id, a <c>role</c>.</summary>
    public static string Supabase(
        string userId,
        DateTimeOffset now,
        string role = "authenticated",
        string secret = SupabaseSecret,
        string audience = SupabaseAudience,
        TimeSpan? lifetime = null,
        object? appMetadata = null)
    {
        var claims = new Dictionary<string, object>
        {
            ["sub"] = userId,
            ["email"] = $"{userId}@example.com",
            ["phone"] = "",
            ["app_metadata"] = JsonSerializer.SerializeToElement(appMetadata ?? new { provider = "email", providers = new[] { "email" } }),
            ["user_metadata"] = JsonSerializer.SerializeToElement(new { }),
            ["role"] = role,
            ["aal"] = "aal1",
            ["session_id"] = Guid.NewGuid().ToString(),
            ["is_anonymous"] = false,
        };
        return Create(claims, SupabaseIssuer, audience, now, lifetime ?? TimeSpan.FromHours(1),
            new SigningCredentials(new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256));
    }

    public static string Rs256(RSA rsa, string keyId, string userId, DateTimeOffset now, string issuer, string audience, string? role = null)
    {
        var claims = new Dictionary<string, object> { ["sub"] = userId };
        if (role is not null)
        {
            claims["role"] = role;
        }
        return Create(claims, issuer, audience, now, TimeSpan.FromMinutes(10),
            new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = keyId }, SecurityAlgorithms.RsaSha256));
    }

    /// <summary>The public half of RSA keys as a JSON Web Key Set document.</summary>
    public static string Jwks(params (RSA Rsa, string KeyId)[] keys) => JsonSerializer.Serialize(new
    {
        keys = keys.Select(k =>
        {
            var parameters = k.Rsa.ExportParameters(includePrivateParameters: false);
            return new { kty = "RSA", use = "sig", alg = "RS256", kid = k.KeyId, n = Base64UrlEncoder.Encode(parameters.Modulus), e = Base64UrlEncoder.Encode(parameters.Exponent) };
        }),
    });

    private static string Create(Dictionary<string, object> claims, string issuer, string audience, DateTimeOffset now, TimeSpan lifetime, SigningCredentials credentials)
    {
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims,
            Issuer = issuer,
            Audience = audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + lifetime).UtcDateTime,
            SigningCredentials = credentials,
        });
    }
}
