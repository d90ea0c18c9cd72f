using System.Text;
using KeyPool.Configuration;
using Microsoft.Extensions.Options;

namespace KeyPool.Auth;

/// <summary>
/// Who is calling: client tokens, per-user gateway keys and JWTs on <c>/v1/*</c>; the admin token
/// or a JWT with the admin role on <c>/api/admin/*</c>. Each method is off unless configured.
/// Client tokens are checked first and without allocating, since they carry most traffic.
/// </summary>
internal sealed class CallerAuthenticator
{
    private readonly byte[][] _clientTokens;
    private readonly byte[] _adminToken;
    private readonly GatewayKeyRegistry _gatewayKeys;
    private readonly JwtAuthenticator _jwt;

    public CallerAuthenticator(IOptions<GatewayOptions> options, GatewayKeyRegistry gatewayKeys, JwtAuthenticator jwt)
    {
        _clientTokens = options.Value.ClientTokens
            .Where(t => !string.IsNullOrWhiteSpace(t))
            .Select(t => Encoding.UTF8.GetBytes(t.Trim()))
            .ToArray();
        _adminToken = Encoding.UTF8.GetBytes(options.Value.AdminToken.Trim());
        _gatewayKeys = gatewayKeys;
        _jwt = jwt;
    }

    /// <summary>The ways callers may authenticate, for the start-up log.</summary>
    public IEnumerable<string> Methods
    {
        get
        {
            if (_clientTokens.Length > 0)
            {
                yield return $"client tokens ({_clientTokens.Length})";
            }
            if (_gatewayKeys.Enabled)
            {
                yield return "gateway keys";
            }
            if (_jwt.Enabled)
            {
                yield return "JWTs";
            }
        }
    }

    /// <summary>
    /// Who is calling <c>/v1/*</c>: null when no credential is valid. A credential that names the end
    /// user (a per-user gateway key, a JWT) sets <see cref="Caller.UserId"/>, which then wins over
    /// any user the request names.
    /// </summary>
    public ValueTask<Caller?> AuthenticateClientAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var presented = BearerToken.From(request);
        if (presented.IsEmpty)
        {
            return ValueTask.FromResult<Caller?>(null);
        }
        if (MatchesClientToken(presented))
        {
            return ValueTask.FromResult<Caller?>(Caller.ClientToken);
        }
        if (_gatewayKeys.Enabled)
        {
            var user = _gatewayKeys.AuthenticateAsync(presented, cancellationToken);
            if (user.IsCompletedSuccessfully)
            {
                if (user.Result is { } cached)
                {
                    return ValueTask.FromResult<Caller?>(new Caller(cached));
                }
            }
            else
            {
                return AwaitGatewayKeyAsync(user);
            }
        }
        if (_jwt.Enabled && JwtAuthenticator.LooksLike(presented))
        {
            return AuthenticateJwtAsync(presented.ToString(), cancellationToken);
        }
        return ValueTask.FromResult<Caller?>(null);
    }

    /// <summary>Whether the request may use <c>/api/admin/*</c>.</summary>
    public async ValueTask<AdminAccess> AuthenticateAdminAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (IsAdmin(request))
        {
            return AdminAccess.Granted;
        }
        var presented = BearerToken.From(request);
        if (_jwt.Enabled && JwtAuthenticator.LooksLike(presented)
            && await _jwt.AuthenticateAsync(presented.ToString(), cancellationToken).ConfigureAwait(false) is { } caller)
        {
            return caller.IsAdmin ? AdminAccess.Granted : AdminAccess.Forbidden;
        }
        return AdminAccess.Denied;
    }

    /// <summary>True for the admin token only (the check of <c>/metrics</c>).</summary>
    public bool IsAdmin(HttpRequest request) => BearerToken.Matches(BearerToken.From(request), _adminToken);

    private bool MatchesClientToken(ReadOnlySpan<char> presented)
    {
        var match = false;
        // Check every token so the time taken does not say which one nearly matched.
        foreach (var token in _clientTokens)
        {
            match |= BearerToken.Matches(presented, token);
        }
        return match;
    }

    private static async ValueTask<Caller?> AwaitGatewayKeyAsync(ValueTask<string?> user) =>
        await user.ConfigureAwait(false) is { } userId ? new Caller(userId) : null;

    private async ValueTask<Caller?> AuthenticateJwtAsync(string token, CancellationToken cancellationToken) =>
        await _jwt.AuthenticateAsync(token, cancellationToken).ConfigureAwait(false) is { } caller ? new Caller(caller.UserId) : null;
}

/// <summary>An authenticated caller of <c>/v1/*</c>.</summary>
/// <param name="UserId">The end user the credential itself names, or null when the request must name one.</param>
internal sealed record Caller(string? UserId)
{
    public static Caller ClientToken { get; } = new((string?)null);
}

/// <summary>The outcome of an admin check.</summary>
internal enum AdminAccess
{
    /// <summary>No admin credential: 401, and counted as a failed attempt.</summary>
    Denied,

    /// <summary>A valid JWT without the admin role: 403.</summary>
    Forbidden,

    /// <summary>The admin token, or a JWT with the admin role.</summary>
    Granted,
}
