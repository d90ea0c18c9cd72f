using KeyPool.Core.Routing;

namespace KeyPool.Capacity;

/// <summary>The gateway's side of the burst allowance: tighten a team's burst when the upstream shows a finer window, and say so. Event ids 26x.</summary>
internal static partial class BurstLog
{
    /// <summary>After an upstream answer: a 429 while the upstream still reported room tightens the team's burst (logged once per tightening).</summary>
    public static void TightenOnRefusal(ILogger logger, in Admission admission, int status, long second, long? remainingRequests, long? remainingTokens)
    {
        if (status == 429 && admission.Window.TightenBurst(second, remainingRequests, remainingTokens))
        {
            BurstTightened(logger, admission.Member.Group, admission.Member.Team, remainingRequests ?? -1, admission.Window.BurstRequests);
        }
    }

    [LoggerMessage(260, LogLevel.Warning, "Upstream refused group {Group} (team {Team}) with {Remaining} requests left in its minute: it enforces a finer window; the team's burst is now {Burst} requests")]
    private static partial void BurstTightened(ILogger logger, int group, string team, long remaining, int burst);
}
