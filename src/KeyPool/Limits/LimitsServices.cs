using KeyPool.Configuration;
using KeyPool.Core.Limits;
using KeyPool.Core.Money;
using KeyPool.Core.Usage;
using Microsoft.Extensions.Options;

namespace KeyPool.Limits;

/// <summary>
/// Per-user tier limits: the in-memory counters of tokens and of money, seeded when a store records usage per user —
/// a new counter starts from the user's stored tokens of the day and stored cost of the day and month, so a restart
/// (or a counter dropped at the cap) does not hand out a limit a second time.
/// </summary>
internal static class LimitsServices
{
    public static IServiceCollection AddKeyPoolTierLimits(this IServiceCollection services)
    {
        services.AddSingleton(sp => new UsageSeedReader(
            sp.GetService<IUserUsageStore>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger("KeyPool.Limits"), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new UserLimiter(Counters(sp), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<UsageSeedReader>().Tokens));
        services.AddSingleton<TierLimits>();
        services.AddSingleton(sp => new SpendLimiter(Counters(sp), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<UsageSeedReader>().Spend));
        services.AddSingleton(sp => new CostEstimator(sp.GetRequiredService<PriceTable>()));
        services.AddSingleton<TierSpendLimits>();
        return services;
    }

    private static int Counters(IServiceProvider sp) => sp.GetRequiredService<IOptions<UsersOptions>>().Value.LimitCounters;
}

/// <summary>
/// Reads the stored usage a new limit counter starts from; failures are logged at most once a minute. Without a store
/// of usage per user there is no seed: the counters then start at 0 on a restart.
/// </summary>
internal sealed class UsageSeedReader(IUserUsageStore? store, ILogger logger, TimeProvider time)
{
    // A read that takes longer holds one of the few read slots; the user is counted from memory meanwhile.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private long _lastLogged = long.MinValue;

    /// <summary>The seed of the token counters; null without a store.</summary>
    public Func<string, DateOnly, CancellationToken, Task<long>>? Tokens => store is null ? null : ReadTokensAsync;

    /// <summary>The seed of the spend counters; null without a store.</summary>
    public Func<string, DateOnly, CancellationToken, Task<(long Day, long Month)>>? Spend => store is null ? null : ReadSpendAsync;

    /// <summary>The user's stored tokens of <paramref name="day"/>.</summary>
    public async Task<long> ReadTokensAsync(string userId, DateOnly day, CancellationToken cancellationToken) =>
        (await ReadAsync(userId, day, day, cancellationToken).ConfigureAwait(false)).Sum(r => r.TotalTokens);

    /// <summary>The user's stored cost in ticks of <paramref name="day"/> and of its UTC month up to that day.</summary>
    public async Task<(long Day, long Month)> ReadSpendAsync(string userId, DateOnly day, CancellationToken cancellationToken)
    {
        var rows = await ReadAsync(userId, new DateOnly(day.Year, day.Month, 1), day, cancellationToken).ConfigureAwait(false);
        return (rows.Where(r => r.Day == day).Sum(r => r.CostTicks), rows.Sum(r => r.CostTicks));
    }

    private async Task<IReadOnlyList<UserDayUsage>> ReadAsync(string userId, DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            return await store!.ReadUserAsync(userId, from, to, timeout.Token).ConfigureAwait(false);
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
    [LoggerMessage(700, LogLevel.Warning, "A user's stored usage (tokens of today, or spend of today and this month) could not be read from the store (logged at most once a minute): counted from memory, read again at their next request")]
    public static partial void SeedFailed(ILogger logger, Exception exception);
}
