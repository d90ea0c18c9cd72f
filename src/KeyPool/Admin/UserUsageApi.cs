using KeyPool.Core.Money;
using System.Globalization;
using KeyPool.Core.Usage;
using KeyPool.Errors;

namespace KeyPool.Admin;

/// <summary>
/// Usage per user (issue 13): the <c>usage</c> of <c>GET /api/admin/users/{id}</c> and the heaviest users of a day,
/// <c>GET /api/admin/users?top=50&amp;by=tokens&amp;day=YYYY-MM-DD</c>. Both count what is still in memory.
/// </summary>
internal static class UserUsageApi
{
    public const int DefaultTop = 50;
    public const int MaxTop = 1000;
    public const int ChartDays = 30;

    /// <summary>Counts of a day or a period.</summary>
    public sealed record UsageCounts(long Requests, long PromptTokens, long CompletionTokens, long ReasoningTokens, long CachedTokens, long TotalTokens);

    public sealed record DayUsage(DateOnly Day, long Requests, long PromptTokens, long CompletionTokens, long ReasoningTokens, long CachedTokens, long TotalTokens)
    {
        /// <summary>usage.cost_in_usd_ticks summed (1 USD = 10^10 ticks), estimates included.</summary>
        public long CostTicks { get; init; }

        /// <summary><see cref="CostTicks"/> in USD.</summary>
        public decimal CostUsd { get; init; }

        /// <summary>Part of the cost is the price table's estimate (the upstream sent none).</summary>
        public bool CostEstimated { get; init; }
    }

    public sealed record PeriodUsage(DateOnly From, DateOnly To, long Requests, long PromptTokens, long CompletionTokens, long ReasoningTokens, long CachedTokens, long TotalTokens)
    {
        /// <summary>usage.cost_in_usd_ticks summed (1 USD = 10^10 ticks), estimates included.</summary>
        public long CostTicks { get; init; }

        /// <summary><see cref="CostTicks"/> in USD.</summary>
        public decimal CostUsd { get; init; }

        /// <summary>Part of the cost is the price table's estimate (the upstream sent none).</summary>
        public bool CostEstimated { get; init; }
    }

    /// <summary><paramref name="Days"/>: every day of the period, oldest first, zeros included (ready for a chart).</summary>
    public sealed record UserUsage(DayUsage Today, PeriodUsage Last30Days, IReadOnlyList<DayUsage> Days);

    public sealed record TopUser(string Id, long Requests, long PromptTokens, long CompletionTokens, long ReasoningTokens, long CachedTokens, long TotalTokens)
    {
        /// <summary>usage.cost_in_usd_ticks summed (1 USD = 10^10 ticks), estimates included.</summary>
        public long CostTicks { get; init; }

        /// <summary><see cref="CostTicks"/> in USD.</summary>
        public decimal CostUsd { get; init; }

        /// <summary>Part of the cost is the price table's estimate (the upstream sent none).</summary>
        public bool CostEstimated { get; init; }
    }

    public sealed record TopUsers(DateOnly Day, string By, IReadOnlyList<TopUser> Users);

    public static RouteGroupBuilder MapAdminUserUsage(this RouteGroupBuilder admin)
    {
        admin.MapGet("/users", TopAsync);
        return admin;
    }

    /// <summary>The user's usage today and over the last 30 days (today included), stored plus pending.</summary>
    public static async Task<UserUsage> ReadAsync(string userId, UserUsageRecorder recorder, IUserUsageStore store, CancellationToken cancellationToken)
    {
        var today = recorder.Today;
        var from = today.AddDays(1 - ChartDays);
        var rows = await recorder.ReadUserAsync(store, userId, from, today, cancellationToken);
        var byDay = rows.ToDictionary(r => r.Day);
        var days = new List<DayUsage>(ChartDays);
        for (var day = from; day <= today; day = day.AddDays(1))
        {
            days.Add(byDay.TryGetValue(day, out var row) ? ToDay(row) : new DayUsage(day, 0, 0, 0, 0, 0, 0));
        }
        var total = UserUsageSums.Total(userId, today, rows);
        return new UserUsage(
            days[^1],
            new PeriodUsage(from, today, total.Requests, total.PromptTokens, total.CompletionTokens, total.ReasoningTokens, total.CachedTokens, total.TotalTokens)
            {
                CostTicks = total.CostTicks,
                CostUsd = UsdTicks.ToUsd(total.CostTicks),
                CostEstimated = total.EstimatedCostTicks != 0,
            },
            days);
    }

    private static async Task<IResult> TopAsync(HttpRequest request, UserUsageRecorder recorder, IUserUsageStore store, CancellationToken cancellationToken)
    {
        var query = request.Query;
        var top = DefaultTop;
        if (query.TryGetValue("top", out var topText)
            && (!int.TryParse(topText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out top) || top is < 1 or > MaxTop))
        {
            return Invalid($"top must be a whole number from 1 to {MaxTop} (default {DefaultTop}), not '{topText}'.", "invalid_top", "top");
        }
        var by = UserUsageOrder.Tokens;
        if (query.TryGetValue("by", out var byText))
        {
            switch (byText.ToString().ToLowerInvariant())
            {
                case "tokens": by = UserUsageOrder.Tokens; break;
                case "requests": by = UserUsageOrder.Requests; break;
                case "cost": by = UserUsageOrder.Cost; break;
                default: return Invalid($"by must be 'tokens' (the default), 'requests' or 'cost', not '{byText}'.", "invalid_by", "by");
            }
        }
        var day = recorder.Today;
        if (query.TryGetValue("day", out var dayText)
            && !DateOnly.TryParseExact(dayText.ToString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out day))
        {
            return Invalid($"day must be a UTC date like 2026-11-28 (default today), not '{dayText}'.", "invalid_day", "day");
        }
        var rows = await recorder.TopAsync(store, day, by, top, cancellationToken);
        var users = rows.Select(r => new TopUser(r.UserId, r.Requests, r.PromptTokens, r.CompletionTokens, r.ReasoningTokens, r.CachedTokens, r.TotalTokens)
        {
            CostTicks = r.CostTicks,
            CostUsd = UsdTicks.ToUsd(r.CostTicks),
            CostEstimated = r.EstimatedCostTicks != 0,
        }).ToList();
        return TypedResults.Ok(new TopUsers(day, by switch { UserUsageOrder.Requests => "requests", UserUsageOrder.Cost => "cost", _ => "tokens" }, users));
    }

    private static DayUsage ToDay(UserDayUsage row) =>
        new(row.Day, row.Requests, row.PromptTokens, row.CompletionTokens, row.ReasoningTokens, row.CachedTokens, row.TotalTokens)
        {
            CostTicks = row.CostTicks,
            CostUsd = UsdTicks.ToUsd(row.CostTicks),
            CostEstimated = row.EstimatedCostTicks != 0,
        };

    private static OpenAiErrorResult Invalid(string message, string code, string param) =>
        new(400, message, OpenAiError.InvalidRequest, code, param);
}
