using KeyPool.Core.KeyHealth;
using KeyPool.Core.Routing;

namespace KeyPool.Core.Capacity;

/// <summary>
/// How many users the pool carries at the demand actually observed (health's <c>measured</c> block), beside the
/// planning constants of <c>estimatedCapacity</c>. Users here are users active in the same minute.
/// </summary>
/// <param name="Enough">False while there is too little traffic to say (see <see cref="Note"/>); the figures are then null.</param>
/// <param name="Note">What the figures rest on, or why there are none.</param>
/// <param name="Minutes">Minutes of traffic measured (at most an hour).</param>
/// <param name="RequestsPerUserPerMinute">Requests per active user per minute, over the measured minutes.</param>
/// <param name="PeakRequestsPerUserPerMinute">The highest minute's requests per active user.</param>
/// <param name="TokensPerRequest">Tokens per request (settled from the upstream's usage).</param>
/// <param name="ActiveUsersLastMinute">Users active in the last complete minute.</param>
/// <param name="PeakActiveUsers">Most users active in one minute.</param>
/// <param name="UsersCarried">Users active at once the usable keys carry at the average demand per user.</param>
/// <param name="UsersCarriedAtPeak">The same at the peak demand per user.</param>
/// <param name="BindingLimit"><c>RPM</c> or <c>TPM</c>: the limit that runs out first at this demand.</param>
/// <param name="BusiestTeam">The team with the least headroom now (keys of a team share its budget).</param>
/// <param name="Headroom">Share of the pool's minute budget free now (the tighter of requests and tokens).</param>
/// <param name="TargetUsers">The target asked for (<c>?targetUsers=</c>), if any.</param>
/// <param name="KeysToAdd">Keys (each its own team, default limits) to add so the target is carried at peak demand.</param>
public sealed record MeasuredCapacity(
    bool Enough,
    string Note,
    int Minutes,
    double? RequestsPerUserPerMinute,
    double? PeakRequestsPerUserPerMinute,
    double? TokensPerRequest,
    long? ActiveUsersLastMinute,
    long? PeakActiveUsers,
    long? UsersCarried,
    long? UsersCarriedAtPeak,
    string? BindingLimit,
    string? BusiestTeam,
    double? Headroom,
    long? TargetUsers,
    int? KeysToAdd)
{
    /// <summary>Requests needed before the figures mean anything.</summary>
    public const int MinRequests = 100;

    /// <summary>Minutes of traffic needed before the figures mean anything.</summary>
    public const int MinMinutes = 5;

    /// <summary>Reads <paramref name="meter"/> and the pool's budgets at <paramref name="second"/>.</summary>
    public static MeasuredCapacity Of(DemandMeter meter, PoolSnapshot pool, long second, long? targetUsers = null)
    {
        ArgumentNullException.ThrowIfNull(meter);
        ArgumentNullException.ThrowIfNull(pool);
        var minutes = meter.History(second).Where(m => m.Requests > 0 && m.Users > 0).ToArray();
        var requests = minutes.Sum(m => m.Requests);
        if (minutes.Length < MinMinutes || requests < MinRequests)
        {
            return new MeasuredCapacity(false,
                $"Too little traffic to measure: {requests} requests over {minutes.Length} minutes; at least {MinRequests} requests over {MinMinutes} minutes are needed.",
                minutes.Length, null, null, null, null, null, null, null, null, null, null, targetUsers, null);
        }

        var perUser = (double)requests / minutes.Sum(m => m.Users);
        var peakPerUser = minutes.Max(m => (double)m.Requests / m.Users);
        var read = minutes.Where(m => m.WindowRequests > 0).ToArray();
        var tokensPerRequest = read.Length == 0 ? 0 : (double)read.Sum(m => m.WindowTokens) / read.Sum(m => m.WindowRequests);

        // The usable teams' budgets, at the 60/61 KeyPool keeps (one-second buckets, never past the upstream's minute).
        double rpm = 0, tpm = 0;
        var usableTeams = 0;
        string? busiest = null;
        var lowest = double.MaxValue;
        long usedRequests = 0, usedTokens = 0;
        foreach (var team in pool.Teams)
        {
            if (!Array.Exists(team, m => m.Health.State != KeyState.Revoked))
            {
                continue;
            }
            usableTeams++;
            rpm += team[0].Limits.RequestsPerMinute * 60.0 / 61;
            tpm += team[0].Limits.TokensPerMinute * 60.0 / 61;
            foreach (var window in pool.WindowsOf(team[0]))
            {
                var used = window.Used(second);
                usedRequests += used.Requests;
                usedTokens += used.Tokens;
                var headroom = window.Headroom(second);
                if (headroom < lowest)
                {
                    lowest = headroom;
                    busiest = team[0].Team;
                }
            }
        }
        var byRequests = rpm / perUser;
        var byTokens = tokensPerRequest > 0 ? tpm / (perUser * tokensPerRequest) : double.MaxValue;
        var carried = (long)Math.Floor(Math.Min(byRequests, byTokens));
        var carriedAtPeak = (long)Math.Floor(Math.Min(rpm / peakPerUser, tokensPerRequest > 0 ? tpm / (peakPerUser * tokensPerRequest) : double.MaxValue));
        var headroomNow = usableTeams == 0 ? 0 : Math.Max(0, Math.Min(1 - (usedRequests / rpm), 1 - (usedTokens / tpm)));
        int? keysToAdd = null;
        if (targetUsers is > 0 && usableTeams > 0 && carriedAtPeak > 0)
        {
            var perKey = (double)carriedAtPeak / usableTeams;
            keysToAdd = Math.Max(0, (int)Math.Ceiling(targetUsers.Value / perKey) - usableTeams);
        }
        var last = minutes[^1];
        return new MeasuredCapacity(
            true,
            $"Measured over {minutes.Length} minutes ({requests} requests); users are users active in the same minute.",
            minutes.Length,
            Math.Round(perUser, 3),
            Math.Round(peakPerUser, 3),
            Math.Round(tokensPerRequest, 1),
            last.Start / 60 == (second / 60) - 1 ? last.Users : 0,
            minutes.Max(m => m.Users),
            carried,
            carriedAtPeak,
            byRequests <= byTokens ? "RPM" : "TPM",
            busiest,
            Math.Round(headroomNow, 4),
            targetUsers,
            keysToAdd);
    }
}
