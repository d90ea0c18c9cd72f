using KeyPool.Core.Callers;
using KeyPool.Core.Storage;
using KeyPool.Core.Usage;
using KeyPool.Core.Users;
using KeyPool.Postgres;
using KeyPool.Sqlite;

namespace KeyPool.Storage;

/// <summary>Registers the store chosen by configuration (<see cref="StoreChoice"/>): the one place that knows both adapters.</summary>
internal static class StoreServices
{
    public const string SqliteMaxSizeKey = "KeyPool:Sqlite:MaxSizeBytes";

    public static IServiceCollection AddKeyPoolStore(this IServiceCollection services, IConfiguration configuration)
    {
        var choice = StoreChoice.From(configuration);
        services.AddSingleton(choice);
        if (choice.Kind == StoreKind.Postgres)
        {
            services.AddSingleton(sp => new PostgresStore(choice.ConnectionString, sp.GetRequiredService<TimeProvider>(), choice.Migrate));
            services.AddSingleton<IUserStore>(sp => sp.GetRequiredService<PostgresStore>());
            services.AddSingleton<IUsageStore>(sp => sp.GetRequiredService<PostgresStore>());
            services.AddSingleton<IUserUsageStore>(sp => sp.GetRequiredService<PostgresStore>());
            services.AddSingleton<IUserRebalancer>(sp => sp.GetRequiredService<PostgresStore>());
            services.AddSingleton<IUsableGroupStore>(sp => sp.GetRequiredService<PostgresStore>());
            services.AddHostedService<UsableGroupsPublisher>();
        }
        else
        {
            // KeyPool:Sqlite:MaxSizeBytes: a quota for the file on a shared disk (0, the default: none).
            var maxSize = configuration.GetValue<long>(SqliteMaxSizeKey);
            services.AddSingleton(sp => new SqliteStore(choice.ConnectionString, sp.GetRequiredService<TimeProvider>(), maxSize));
            services.AddSingleton<IUserStore>(sp => sp.GetRequiredService<SqliteStore>());
            services.AddSingleton<IUsageStore>(sp => sp.GetRequiredService<SqliteStore>());
            services.AddSingleton<IUserUsageStore>(sp => sp.GetRequiredService<SqliteStore>());
            services.AddSingleton<IUserRebalancer>(sp => sp.GetRequiredService<SqliteStore>());
        }
        services.AddSingleton<IGatewayKeyStore>(sp => choice.CreateGatewayKeyStore(sp.GetRequiredService<TimeProvider>()));
        return services;
    }
}
