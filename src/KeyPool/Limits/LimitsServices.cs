using KeyPool.Configuration;
using KeyPool.Core.Limits;
using KeyPool.Core.Usage;
using Microsoft.Extensions.Options;

namespace KeyPool.Limits;

/// <summary>Per-user tier limits: the in-memory counters, seeded with the day's stored usage when a store records it.</summary>
internal static class LimitsServices
{
    public static IServiceCollection AddKeyPoolTierLimits(this IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var store = sp.GetService<IUserUsageStore>(); // absent until per-user usage is stored: day totals then start at 0 on a restart
            var time = sp.GetRequiredService<TimeProvider>();
            var reader = store is null ? null : new DayTotalReader(store, sp.GetRequiredService<ILoggerFactory>().CreateLogger("KeyPool.Limits"), time);
            return new UserLimiter(sp.GetRequiredService<IOptions<UsersOptions>>().Value.LimitCounters, time, reader is null ? null : reader.ReadAsync);
        });
        services.AddSingleton<TierLimits>();
        services.AddSingleton(sp => new SpendLimiter(sp.GetRequiredService<IOptions<UsersOptions>>().Value.LimitCounters, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<TierSpendLimits>();
        return services;
    }
}

/// <summary>Reads a user's stored tokens of a day, the seed of a new counter; failures are logged at most once a minute.</summary>
internal sealed class DayTotalReader(IUserUsageStore store, ILogger logger, TimeProvider time)
{
    // A read that takes longer holds one of the few read slots; the user is counted from memory meanwhile.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private long _lastLogged = long.MinValue;

    public async Task<long> ReadAsync(string userId, DateOnly day, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            var rows = await store.ReadUserAsync(userId, day, day, timeout.Token).ConfigureAwait(false);
            return rows.Sum(r => r.TotalTokens);
        }
        catch (Exception e)
        {
            var now = time.GetTimestamp();
            var last = Interlocked.Read(ref _lastLogged);
            if ((last == long.MinValue || time.GetElapsedTime(last, now) >= TimeSpan.FromMinutes(1)) && Interlocked.CompareExchange(ref _lastLogged, now, last) == last)
            {
                LimitsLog.SeedFailed(logger, e);
            }
            throw;
        }
    }
}

/// <summary>Log lines of the per-user limits (event ids 7xx).</summary>
internal static partial class LimitsLog
{
    [LoggerMessage(700, LogLevel.Warning, "A user's tokens of today could not be read from the store (logged at most once a minute): counted from memory, read again at their next request")]
    public static partial void SeedFailed(ILogger logger, Exception exception);
}
