using System.Net;
using KeyPool.Configuration;
using Microsoft.Extensions.Options;

namespace KeyPool.Auth;

/// <summary>
/// The proxies whose <c>X-Forwarded-For</c> is believed (<c>KeyPool:ForwardedHeaders</c>), and a watch for requests that
/// name a forwarded client from any other peer. Such a peer is usually a load balancer nobody told KeyPool about: its
/// header is ignored, so every caller behind it has the balancer's address, and one caller's failed guesses throttle
/// them all. The first such request is logged once and kept as a health warning until restart; from then on the watch
/// costs one field read per request, and before it a header look-up (no allocation).
/// </summary>
internal sealed class ForwardedHeadersCheck
{
    private readonly ILogger<ForwardedHeadersCheck> _logger;
    private string? _warning;

    public ForwardedHeadersCheck(IOptions<ForwardedHeadersSettings> settings, ILogger<ForwardedHeadersCheck> logger)
    {
        _logger = logger;
        Proxies = settings.Value.KnownProxies.Select(IPAddress.Parse).ToArray();
        Networks = settings.Value.KnownNetworks.Select(n => IPNetwork.Parse(n)).ToArray();
    }

    public IReadOnlyList<IPAddress> Proxies { get; }

    public IReadOnlyList<IPNetwork> Networks { get; }

    /// <summary>Set once a request named a forwarded client from a peer that is not a known proxy; never cleared.</summary>
    public string? Warning => Volatile.Read(ref _warning);

    /// <summary>Runs before the forwarded-headers middleware, which replaces the peer's address.</summary>
    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (Volatile.Read(ref _warning) is null)
        {
            Inspect(context);
        }
        return next(context);
    }

    private void Inspect(HttpContext context)
    {
        var headers = context.Request.Headers;
        if (!headers.ContainsKey("X-Forwarded-For") && !headers.ContainsKey("Forwarded"))
        {
            return;
        }
        var peer = context.Connection.RemoteIpAddress;
        if (peer is null || IsKnown(peer))
        {
            return;
        }
        var address = (peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer).ToString();
        var warning = $"Requests name a forwarded client (X-Forwarded-For or Forwarded) but come from {address}, which is not in "
            + "KeyPool:ForwardedHeaders:KnownProxies or KnownNetworks: the header is ignored, so every caller behind that proxy "
            + "shares its address for the failed-attempt throttle. If it is your load balancer, set "
            + $"KeyPool__ForwardedHeaders__KnownProxies__0={address} (or KnownNetworks__0 with its subnet).";
        if (Interlocked.CompareExchange(ref _warning, warning, null) is null)
        {
            AuthLog.UntrustedProxy(_logger, warning);
        }
    }

    private bool IsKnown(IPAddress peer)
    {
        if (peer.IsIPv4MappedToIPv6)
        {
            peer = peer.MapToIPv4();
        }
        foreach (var proxy in Proxies)
        {
            if (proxy.Equals(peer) || (proxy.IsIPv4MappedToIPv6 && proxy.MapToIPv4().Equals(peer)))
            {
                return true;
            }
        }
        foreach (var network in Networks)
        {
            if (network.Contains(peer))
            {
                return true;
            }
        }
        return false;
    }
}
