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
