using System.Security.Claims;
using System.Text.Json;
using KeyPool.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace KeyPool.Auth;

/// <summary>
/// Checks JWTs from the app's auth provider: signature (HS256 with the shared secret, or RS256/ES256
/// with the provider's key set), lifetime with a small skew, and the issuer and audience when set.
/// The <c>sub</c> claim is the end user; the role claim may make the caller an admin.
/// </summary>
internal sealed class JwtAuthenticator
{
    private static readonly string[] SecretAlgorithms = [SecurityAlgorithms.HmacSha256];
    private static readonly string[] KeySetAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256];

    private readonly JsonWebTokenHandler _handler = new();
    private readonly JwksKeySource _keySet;
    private readonly TokenValidationParameters _template;
    private readonly string[] _rolePath;
    private readonly string _adminRole;
    private readonly ILogger<JwtAuthenticator> _logger;
    private volatile Prepared? _prepared;

    public JwtAuthenticator(IOptions<GatewayOptions> options, JwksKeySource keySet, TimeProvider time, ILogger<JwtAuthenticator> logger)
    {
        var jwt = options.Value.Auth.Jwt;
        _keySet = keySet;
        _logger = logger;
        Enabled = jwt.IsConfigured;
        _rolePath = jwt.RoleClaim.Split('.', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        _adminRole = jwt.AdminRole?.Trim() ?? "";
        var hasSecret = !string.IsNullOrWhiteSpace(jwt.Secret);
        _template = new TokenValidationParameters
        {
            // Pinned per key kind: an HS256 token must not pass as RS256 with a public key as its secret, nor "none" ever.
            ValidAlgorithms = hasSecret ? SecretAlgorithms : KeySetAlgorithms,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = jwt.ClockSkew,
            // Our own check so lifetimes follow the gateway's TimeProvider (the library reads the system clock).
            LifetimeValidator = (notBefore, expires, _, parameters) => IsWithinLifetime(notBefore, expires, time.GetUtcNow().UtcDateTime, parameters.ClockSkew),
            ValidateIssuer = !string.IsNullOrWhiteSpace(jwt.Issuer),
            ValidIssuer = string.IsNullOrWhiteSpace(jwt.Issuer) ? null : jwt.Issuer.Trim(),
            ValidateAudience = !string.IsNullOrWhiteSpace(jwt.Audience),
            ValidAudience = string.IsNullOrWhiteSpace(jwt.Audience) ? null : jwt.Audience.Trim(),
            ValidateIssuerSigningKey = false,
            // Supabase (like most providers) uses the secret's UTF-8 bytes as the HMAC key.
            IssuerSigningKey = hasSecret ? new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(jwt.Secret)) : null,
        };
        if (hasSecret)
        {
            _prepared = new Prepared(null, _template);
        }
    }

    public bool Enabled { get; }

    /// <summary>Three base64url parts; cheap enough to run before a real check.</summary>
    public static bool LooksLike(ReadOnlySpan<char> token) =>
        token.Length > 20 && token.StartsWith("eyJ", StringComparison.Ordinal) && token.Count('.') == 2;

    /// <summary>The caller the token names, or null when it is not valid.</summary>
    public async Task<JwtCaller?> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        if (!Enabled || !LooksLike(token))
        {
            return null;
        }
        var prepared = await PrepareAsync(cancellationToken).ConfigureAwait(false);
        if (prepared is null)
        {
            AuthLog.JwtRejected(_logger, "no signing key is available (the key set could not be fetched)");
            return null;
        }
        var result = await _handler.ValidateTokenAsync(token, prepared.Parameters).ConfigureAwait(false);
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException && _keySet.Enabled
            && await _keySet.RefreshForUnknownKeyAsync(prepared.Set, cancellationToken).ConfigureAwait(false) is { } fresh)
        {
            result = await _handler.ValidateTokenAsync(token, Prepare(fresh).Parameters).ConfigureAwait(false);
        }
        if (!result.IsValid)
        {
            // The exception's type says why (expired, bad signature, audience); its message may quote claims.
            AuthLog.JwtRejected(_logger, result.Exception?.GetType().Name ?? "invalid");
            return null;
        }
        var jwt = (JsonWebToken)result.SecurityToken;
        var subject = jwt.Subject;
        if (string.IsNullOrWhiteSpace(subject))
        {
            AuthLog.JwtRejected(_logger, "no sub claim");
            return null;
        }
        return new JwtCaller(subject, _adminRole.Length > 0 && HasRole(jwt.Claims, _rolePath, _adminRole));
    }

    private async ValueTask<Prepared?> PrepareAsync(CancellationToken cancellationToken)
    {
        if (!_keySet.Enabled)
        {
            return _prepared;
        }
        var set = await _keySet.GetAsync(cancellationToken).ConfigureAwait(false);
        return set is null ? null : Prepare(set);
    }

    // Parameters are built once per fetched key set, not per request.
    private Prepared Prepare(JwksKeySource.KeySet set)
    {
        var prepared = _prepared;
        if (prepared is not null && ReferenceEquals(prepared.Set, set))
        {
            return prepared;
        }
        var parameters = _template.Clone();
        parameters.IssuerSigningKeys = set.Keys;
        prepared = new Prepared(set, parameters);
        _prepared = prepared;
        return prepared;
    }

    internal static bool IsWithinLifetime(DateTime? notBefore, DateTime? expires, DateTime now, TimeSpan skew) =>
        expires is { } end
        && (notBefore is not { } start || (start <= end && start <= now + skew))
        && end >= now - skew;

    /// <summary>True when the claim at <paramref name="path"/> is <paramref name="role"/> or an array holding it.</summary>
    internal static bool HasRole(IEnumerable<Claim> claims, string[] path, string role)
    {
        if (path.Length == 0)
        {
            return false;
        }
        foreach (var claim in claims)
        {
            if (!string.Equals(claim.Type, path[0], StringComparison.Ordinal))
            {
                continue;
            }
            if (path.Length == 1 && string.Equals(claim.Value, role, StringComparison.Ordinal))
            {
                return true; // a plain value, or one element of an array of strings
            }
            if (path.Length > 1 && claim.ValueType == JsonClaimValueTypes.Json && Nested(claim.Value, path, role))
            {
                return true;
            }
        }
        return false;
    }

    private static bool Nested(string json, string[] path, string role)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var element = document.RootElement;
            for (var i = 1; i < path.Length; i++)
            {
                if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(path[i], out element))
                {
                    return false;
                }
            }
            return element.ValueKind switch
            {
                JsonValueKind.String => element.ValueEquals(role),
                JsonValueKind.Array => element.EnumerateArray().Any(e => e.ValueKind == JsonValueKind.String && e.ValueEquals(role)),
                _ => false,
            };
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private sealed record Prepared(JwksKeySource.KeySet? Set, TokenValidationParameters Parameters);
}

/// <summary>A caller authenticated by a JWT.</summary>
/// <param name="UserId">The <c>sub</c> claim.</param>
/// <param name="IsAdmin">True when the role claim holds the configured admin role.</param>
internal sealed record JwtCaller(string UserId, bool IsAdmin);
