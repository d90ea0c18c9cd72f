using System.Text;
using KeyPool.Configuration;
using Microsoft.Extensions.Options;

namespace KeyPool.Auth;

/// <summary>Checks client tokens on <c>/v1/*</c> and the admin token on <c>/api/admin/*</c>.</summary>
internal sealed class CallerAuthenticator
{
    private readonly byte[][] _clientTokens;
    private readonly byte[] _adminToken;

    public CallerAuthenticator(IOptions<GatewayOptions> options)
    {
        _clientTokens = options.Value.ClientTokens
            .Where(t => !string.IsNullOrWhiteSpace(t))
            .Select(t => Encoding.UTF8.GetBytes(t.Trim()))
            .ToArray();
        _adminToken = Encoding.UTF8.GetBytes(options.Value.AdminToken.Trim());
    }

    /// <summary>
    /// Who is calling <c>/v1/*</c>: null when no credential is valid. A credential that names the end
    /// user (a per-user gateway key, a JWT) sets <see cref="Caller.UserId"/>, which then wins over
    /// any user the request names.
    /// </summary>
    public ValueTask<Caller?> AuthenticateClientAsync(HttpRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(IsClient(request) ? Caller.ClientToken : null);

    public bool IsClient(HttpRequest request)
    {
        var presented = BearerToken.From(request);
        var match = false;
        // Check every token so the time taken does not say which one nearly matched.
        foreach (var token in _clientTokens)
        {
            match |= BearerToken.Matches(presented, token);
        }
        return match;
    }

    public bool IsAdmin(HttpRequest request) => BearerToken.Matches(BearerToken.From(request), _adminToken);
}

/// <summary>An authenticated caller of <c>/v1/*</c>.</summary>
/// <param name="UserId">The end user the credential itself names, or null when the request must name one.</param>
internal sealed record Caller(string? UserId)
{
    public static Caller ClientToken { get; } = new((string?)null);
}
