using KeyPool.Admin;
using KeyPool.Auth;
using KeyPool.Cluster;
using KeyPool.Configuration;
using KeyPool.Core.Money;
using KeyPool.Core.Budgets;
using KeyPool.Core.Cluster;
using KeyPool.Core.Health;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Routing;
using KeyPool.Core.Usage;
using KeyPool.Core.Users;
using KeyPool.Dashboard;
using KeyPool.Keys;
using KeyPool.Limits;
using KeyPool.Metrics;
using KeyPool.Models;
using KeyPool.Core.Models;
using KeyPool.Proxy;
using KeyPool.Storage;
using KeyPool.Telemetry;
using KeyPool.StoredObjects;
using KeyPool.Usage;
using KeyPool.Users;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace KeyPool.Hosting;

/// <summary>Composes the gateway: the one place that knows every part.</summary>
internal static class GatewayServices
{
    public static IServiceCollection AddKeyPool(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateOnStart();
        services.AddOptions<KeysOptions>().BindConfiguration(KeysOptions.Section).ValidateOnStart();
        services.AddOptions<UpstreamOptions>().BindConfiguration(UpstreamOptions.Section).ValidateOnStart();
        services.AddOptions<UsersOptions>().BindConfiguration(UsersOptions.Section).ValidateOnStart();
        services.AddOptions<LimitsOptions>().BindConfiguration(LimitsOptions.Section).ValidateOnStart();
        services.AddOptions<UsageOptions>().BindConfiguration(UsageOptions.Section).ValidateOnStart();
        services.AddOptions<CapacityOptions>().BindConfiguration(CapacityOptions.Section).ValidateOnStart();
        services.AddOptions<RoutingOptions>().BindConfiguration(RoutingOptions.Section).ValidateOnStart();
        services.AddOptions<BudgetOptions>().BindConfiguration(BudgetOptions.Section).ValidateOnStart();
        services.AddOptions<ForwardedHeadersSettings>().BindConfiguration(ForwardedHeadersSettings.Section).ValidateOnStart();
        services.AddOptions<KeyHealthOptions>().BindConfiguration(KeyHealthOptions.Section).ValidateOnStart();
        services.AddOptions<Dictionary<string, TierOptions>>().BindConfiguration("KeyPool:Tiers").ValidateOnStart();
        services.AddSingleton<OptionsValidation>();
        services.AddSingleton<IValidateOptions<GatewayOptions>>(sp => sp.GetRequiredService<OptionsValidation>());
        services.AddSingleton<IValidateOptions<UpstreamOptions>>(sp => sp.GetRequiredService<OptionsValidation>());
        services.AddSingleton<IValidateOptions<UsersOptions>>(sp => sp.GetRequiredService<OptionsValidation>());
        services.AddSingleton<IValidateOptions<LimitsOptions>>(sp => sp.GetRequiredService<OptionsValidation>());
        services.AddSingleton<IValidateOptions<UsageOptions>>(sp => sp.GetRequiredService<OptionsValidation>());
        services.AddSingleton<IValidateOptions<RoutingOptions>>(sp => sp.GetRequiredService<OptionsValidation>());
        services.AddSingleton<IValidateOptions<BudgetOptions>>(sp => sp.GetRequiredService<OptionsValidation>());
        services.AddSingleton<IValidateOptions<KeysOptions>>(sp => sp.GetRequiredService<OptionsValidation>());
        services.AddSingleton<IValidateOptions<KeyHealthOptions>>(sp => sp.GetRequiredService<OptionsValidation>());
        services.AddSingleton<IValidateOptions<ForwardedHeadersSettings>>(sp => sp.GetRequiredService<OptionsValidation>());
        services.AddSingleton<IValidateOptions<CapacityOptions>>(sp => sp.GetRequiredService<OptionsValidation>());
        services.AddSingleton<IValidateOptions<Dictionary<string, TierOptions>>>(sp => sp.GetRequiredService<OptionsValidation>());

        var keys = KeySet.Load(configuration);
        if (keys.Problems.Count > 0)
        {
            throw new StartupException(string.Join(" ", keys.Problems));
        }
        if (keys.Ring.Count == 0)
        {
            var prefix = configuration[$"{KeysOptions.Section}:EnvPrefix"] is { Length: > 0 } p ? p : Core.Keys.KeyDiscovery.DefaultPrefix;
            throw new StartupException(
                $"No upstream API keys found: set {prefix}, {prefix}_2, … {prefix}_N (the prefix is KeyPool:Keys:EnvPrefix) or KeyPool:Keys:File, or try `keypool serve --demo`.");
        }
        services.AddSingleton(keys); // the keys found at start; from then on the router holds the pool
        services.AddSingleton<KeyReloader>();
        services.AddHostedService<KeyReloadTriggers>();

        services.TryAddSingletonTime();
        services.AddKeyPoolStore(configuration);

        services.AddSingleton(sp => new UserGroupCache(sp.GetRequiredService<IOptions<UsersOptions>>().Value.CacheSize));
        services.AddSingleton<UserResolver>();
        services.AddSingleton<UserCounts>();
        services.AddKeyPoolTierLimits();
        services.AddKeyPoolStoredObjects();
        services.AddSingleton(sp =>
        {
            var routing = sp.GetRequiredService<IOptions<RoutingOptions>>().Value;
            var time = sp.GetRequiredService<TimeProvider>();
            var policy = KeySelectionPolicies.Create(routing.Policy, routing, sp.GetService<Random>() ?? Random.Shared)!;
            return new KeyPoolRouter(
                keys.Ring,
                policy,
                routing,
                sp.GetRequiredService<IOptions<BudgetOptions>>().Value,
                sp.GetRequiredService<IOptions<KeyHealthOptions>>().Value,
                keys.Groups,
                time,
                sp.GetService<SharedBudgets>(),
                sp.GetRequiredService<ModelCatalog>());
        });
        services.AddKeyPoolCluster(configuration);
        services.AddSingleton<UpstreamKeyCheck>();
        services.AddSingleton<KeyAccessProbe>();
        services.AddOptions<ModelsOptions>().BindConfiguration(ModelsOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ModelsOptions>>(sp => sp.GetRequiredService<OptionsValidation>());
        services.AddSingleton(sp =>
        {
            var models = sp.GetRequiredService<IOptions<ModelsOptions>>().Value;
            return new ModelCatalog(models.Known, models.Aliases);
        });
        services.AddSingleton<ModelListRefresher>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelListRefresher>());
        services.AddSingleton<UsageRecorder>();
        services.AddSingleton<PoolTotals>();
        services.AddSingleton(sp => new UserUsageRecorder(
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IOptions<UsageOptions>>().Value.MaxPendingUserRows));
        services.AddKeyPoolCallers();
        services.AddSingleton<UpstreamClient>();
        services.AddSingleton<DeadlineSources>();
        services.AddSingleton<EndpointAllowList>();
        services.AddSingleton<ProxyGate>();
        services.AddSingleton<UpstreamForwarder>();
        services.AddSingleton(sp => new UpstreamOutcomePolicy(sp.GetRequiredService<IOptions<KeyHealthOptions>>().Value));
        services.AddSingleton<KeyHealthUpdater>();
        services.AddSingleton(sp => new CallerSlots(sp.GetRequiredService<IOptions<LimitsOptions>>().Value.PerUserConcurrency));
        services.AddSingleton(sp => new BodyMemory(sp.GetRequiredService<IOptions<LimitsOptions>>().Value.MaxBufferedBodyBytes));
        services.AddSingleton<RequestBodies>();
        services.AddSingleton<RequestIdentifier>();
        services.AddSingleton<RequestPlanner>();
        services.AddSingleton<UpstreamAttempts>();
        services.AddSingleton(sp => new PriceTable(sp.GetRequiredService<IOptions<ModelsOptions>>().Value.Prices));
        services.AddSingleton<AttemptLog>();
        services.AddSingleton<ProxyHandler>();
        services.AddSingleton<AdminAuthFilter>();

        services.AddHostedService<GatewayStartup>();
        services.AddHostedService<UsageFlushService>();
        services.AddSingleton<RevokedKeyProbe>();
        services.AddHostedService(sp => sp.GetRequiredService<RevokedKeyProbe>());
        services.AddKeyPoolDashboard();
        services.AddKeyPoolMetrics();
        services.AddKeyPoolObservability(configuration);
        return services;
    }

    public static WebApplication MapKeyPool(this WebApplication app)
    {
        app.Use(ConnectionHeader.OnRequestAsync);
        app.UseKnownProxies();
        var proxy = app.Services.GetRequiredService<ProxyHandler>();
        app.Map("/v1/{**path}", proxy.HandleAsync);
        var admin = app.MapGroup("/api/admin").AddEndpointFilter<AdminAuthFilter>().AddEndpointFilter<StoreUnavailableFilter>();
        admin.MapAdminUsers();
        admin.MapHealth();
        admin.MapKeyAdmin();
        admin.MapRebalance();
        admin.MapGatewayKeys();
        app.MapDashboard();
        app.MapMetrics();
        app.MapObservability();
        return app;
    }

    /// <summary>
    /// Believes <c>X-Forwarded-For</c> only from the proxies named in <c>KeyPool:ForwardedHeaders:KnownProxies</c> or <c>KnownNetworks</c>
    /// (never by default, not even from loopback): a caller could otherwise pick the address it is throttled by.
    /// </summary>
    private static void UseKnownProxies(this WebApplication app)
    {
        var known = app.Services.GetRequiredService<ForwardedHeadersCheck>();
        app.Use(known.InvokeAsync); // sees the peer's own address, before the middleware below replaces it
        if (known.Proxies.Count == 0 && known.Networks.Count == 0)
        {
            return;
        }
        var options = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor, ForwardLimit = 1 };
        options.KnownIPNetworks.Clear();
        options.KnownProxies.Clear();
        foreach (var proxy in known.Proxies)
        {
            options.KnownProxies.Add(proxy);
        }
        foreach (var network in known.Networks)
        {
            options.KnownIPNetworks.Add(network);
        }
        app.UseForwardedHeaders(options);
    }

    private static void TryAddSingletonTime(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }
}
