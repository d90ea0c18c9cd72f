using KeyPool.Core.Routing;

namespace KeyPool.Capacity;

/// <summary>Says when the upstream showed a window finer than the minute and a team's burst was tightened. Event ids 26x.</summary>
internal static partial class BurstLog
{
    public static void Tightened(ILogger logger, in Admission admission, long? remainingRequests) =>
        BurstTightened(logger, admission.Member.Group, admission.Member.Team, remainingRequests ?? -1, admission.Window.BurstRequests);

    [LoggerMessage(260, LogLevel.Warning, "Upstream refused group {Group} (team {Team}) with {Remaining} requests left in its minute: it enforces a finer window; the team's burst is now {Burst} requests")]
    private static partial void BurstTightened(ILogger logger, int group, string team, long remaining, int burst);
}
