using KeyPool.Configuration;
using Microsoft.Extensions.Options;

namespace KeyPool.Proxy;

/// <summary>The forwarders <c>KeyPool:Upstream:Forwarder</c> may name, and their registration.</summary>
internal static class UpstreamForwarders
{
    /// <summary>Hand-written on <see cref="HttpMessageInvoker"/> (<see cref="UpstreamForwarder"/>).</summary>
    public const string HttpClient = nameof(HttpClient);

    /// <summary>YARP's <c>IHttpForwarder</c> with KeyPool's transformer (<see cref="YarpForwarder"/>).</summary>
    public const string Yarp = nameof(Yarp);

    public static readonly string[] All = [HttpClient, Yarp];

    public static IServiceCollection AddUpstreamForwarder(this IServiceCollection services)
    {
        services.AddHttpForwarder();
        services.AddSingleton<UpstreamForwarder>();
        services.AddSingleton<YarpForwarder>();
        services.AddSingleton<IUpstreamForwarder>(sp =>
            string.Equals(sp.GetRequiredService<IOptions<UpstreamOptions>>().Value.Forwarder, Yarp, StringComparison.OrdinalIgnoreCase)
                ? sp.GetRequiredService<YarpForwarder>()
                : sp.GetRequiredService<UpstreamForwarder>());
        return services;
    }
}
