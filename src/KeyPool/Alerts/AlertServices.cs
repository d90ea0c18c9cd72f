using KeyPool.Redis.Connections;
using KeyPool.Telemetry;

namespace KeyPool.Alerts;

internal static class AlertServices
{
    public static IServiceCollection AddKeyPoolAlerts(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AlertOptions>().BindConfiguration(AlertOptions.Section);
        services.AddSingleton<AlertDelivery>();
        services.AddHostedService(sp => sp.GetRequiredService<AlertDelivery>());
        if (configuration.GetConnectionString("Redis") is { Length: > 0 })
        {
            services.AddSingleton<IAlertLease>(sp => new RedisAlertLease(new RedisLease(sp.GetRequiredService<RedisConnection>()), sp.GetRequiredService<InstanceName>()));
        }
        else
        {
            services.AddSingleton<IAlertLease, LocalAlertLease>();
        }
        services.AddSingleton<DayCostReader>();
        services.AddSingleton<AlertService>();
        services.AddHostedService(sp => sp.GetRequiredService<AlertService>());
        return services;
    }
}
