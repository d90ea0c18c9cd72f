using System.Net;
using KeyPool.Configuration;
using Microsoft.Extensions.Options;

namespace KeyPool.Proxy;

/// <summary>
/// The one connection pool to the upstream. A plain <see cref="HttpMessageInvoker"/> over a tuned
/// <see cref="SocketsHttpHandler"/>: no HttpClient timeout (the forwarder applies its own, long one),
/// no redirects, no cookies, no decompression (bodies pass through and are read for usage).
/// </summary>
internal sealed class UpstreamClient : IDisposable
{
    public UpstreamClient(IOptions<UpstreamOptions> options)
    {
        var upstream = options.Value;
        BaseUrl = upstream.BaseUrl.ToString().TrimEnd('/');
        Timeout = upstream.Timeout;
        Invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = upstream.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5), // follow DNS changes of the provider
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            MaxConnectionsPerServer = int.MaxValue,
            EnableMultipleHttp2Connections = true,
            ActivityHeadersPropagator = null,
        }, disposeHandler: true);
    }

    /// <summary>The User-Agent of the gateway's own calls (key checks, model list); forwarded requests carry the client's.</summary>
    public static System.Net.Http.Headers.ProductInfoHeaderValue OwnAgent { get; } = new("KeyPool", "2");

    /// <summary>Base URL without a trailing slash, e.g. <c>https://api.x.ai/v1</c>.</summary>
    public string BaseUrl { get; }

    public TimeSpan Timeout { get; }

    public HttpMessageInvoker Invoker { get; }

    public void Dispose() => Invoker.Dispose();
}
