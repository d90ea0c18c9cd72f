using KeyPool.Core.Cluster;
using KeyPool.Redis.Budgets;
using KeyPool.Redis.Connections;
using KeyPool.Redis.Events;
using Microsoft.Extensions.Options;

namespace KeyPool.Cluster;

/// <summary>
/// Shared state between instances: with <c>ConnectionStrings:Redis</c> budgets are leased from Redis, key
/// states, reloads and cache invalidations travel over pub/sub and instances send heartbeats; without it
/// the instance is alone and everything stays in memory as before.
/// </summary>
internal static class ClusterServices
{
    public static IServiceCollection AddKeyPoolCluster(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ClusterOptions>().BindConfiguration(ClusterOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ClusterOptions>, ClusterOptionsValidation>();
        services.AddSingleton<ClusterHealth>();
        if (configuration.GetConnectionString("Redis") is not { Length: > 0 } redis)
        {
            services.AddSingleton<IClusterBus, LocalClusterBus>();
            return services;
        }
        services.AddSingleton(sp => RedisConnection.Connect(redis, sp.GetRequiredService<IOptions<ClusterOptions>>().Value.Prefix));
        services.AddSingleton<IBudgetLedger>(sp => new RedisBudgetLedger(sp.GetRequiredService<RedisConnection>()));
        services.AddSingleton(sp => new SharedBudgets(
            sp.GetRequiredService<IBudgetLedger>(),
            sp.GetRequiredService<IOptions<ClusterOptions>>().Value,
            sp.GetRequiredService<ClusterHealth>(),
            sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IClusterBus>(sp => new RedisClusterBus(sp.GetRequiredService<RedisConnection>(), sp.GetRequiredService<SharedBudgets>().InstanceId));
        services.AddHostedService<ClusterSync>();
        return services;
    }
}

/// <summary>Lists every problem of <c>KeyPool:Cluster</c>.</summary>
internal sealed class ClusterOptionsValidation : IValidateOptions<ClusterOptions>
{
    public ValidateOptionsResult Validate(string? name, ClusterOptions options) =>
        options.Problems() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
