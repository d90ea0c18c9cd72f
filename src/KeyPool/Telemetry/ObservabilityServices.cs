using KeyPool.Admin;
using KeyPool.Alerts;
using KeyPool.Core.Cluster;
using KeyPool.RequestLog;
using Microsoft.Extensions.Options;

namespace KeyPool.Telemetry;

/// <summary>Traces, the request log and alerts: one call to compose them, one to map the dashboard's request list.</summary>
internal static class ObservabilityServices
{
    public static IServiceCollection AddKeyPoolObservability(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddKeyPoolTelemetry(configuration);
        services.AddSingleton(sp => new InstanceName(sp.GetService<SharedBudgets>()?.InstanceId ?? Environment.MachineName));
        services.AddSingleton(sp => new Fingerprints(
            sp.GetRequiredService<IOptions<Configuration.GatewayOptions>>().Value.AdminToken is { Length: > 0 } token ? token : "keypool"));
        services.AddOptions<RequestLogOptions>().BindConfiguration(RequestLogOptions.Section);
        services.AddSingleton(sp => new RecentRequests(sp.GetRequiredService<IOptions<RequestLogOptions>>().Value.Recent));
        services.AddSingleton<RequestLogWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<RequestLogWriter>());
        services.AddSingleton<RequestObserver>();
        services.AddKeyPoolAlerts(configuration);
        return services;
    }

    public static WebApplication MapObservability(this WebApplication app)
    {
        app.MapGroup("/api/admin").AddEndpointFilter<AdminAuthFilter>().MapRecentRequests();
        return app;
    }
}
