using KeyPool.Configuration;
using KeyPool.Core.Callers;
using Microsoft.Extensions.Options;

namespace KeyPool.Auth;

/// <summary>Registers who may call: client tokens, gateway keys, JWTs and the admin throttle.</summary>
internal static class CallerServices
{
    /// <remarks>The gateway key store comes from <c>AddKeyPoolStore</c>, with the users and usage.</remarks>
    public static IServiceCollection AddKeyPoolCallers(this IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var keys = sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Auth.GatewayKeys;
            return new GatewayKeyCache(keys.CacheSize, keys.CacheTimeToLive, sp.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton<GatewayKeyRegistry>();
        services.AddSingleton<JwksKeySource>();
        services.AddSingleton<JwtAuthenticator>();
        services.AddSingleton<CallerAuthenticator>();
        services.AddSingleton<ForwardedHeadersCheck>();
        services.AddSingleton(sp =>
        {
            var settings = sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Auth.AdminThrottle;
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("KeyPool.Auth");
            CallerThrottle Door() => new(new FailedAttemptThrottle(settings.FreeFailures, settings.Window, settings.MaxDelay, settings.MaxAddresses, sp.GetRequiredService<TimeProvider>()), logger);
            return new CallerThrottles(Door(), Door());
        });
        services.AddHostedService<CallerStartup>();
        return services;
    }
}

/// <summary>Before the server listens: creates the gateway key table when keys are on, and fetches the JWT key set once.</summary>
internal sealed class CallerStartup(
    CallerAuthenticator callers,
    GatewayKeyRegistry gatewayKeys,
    IGatewayKeyStore store,
    JwksKeySource keySet,
    ILogger<CallerStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (gatewayKeys.Enabled)
        {
            await store.InitializeAsync(cancellationToken);
        }
        if (keySet.Enabled)
        {
            // A failure is logged and retried at the first token: the provider may come up after KeyPool.
            await keySet.GetAsync(cancellationToken);
        }
        AuthLog.CallerMethods(logger, string.Join(", ", callers.Methods));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
