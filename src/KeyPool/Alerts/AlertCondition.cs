namespace KeyPool.Alerts;

/// <summary>What an alert is about. Names are stable: receivers may route on them.</summary>
internal static class AlertKinds
{
    public const string KeyRevoked = "key_revoked";
    public const string KeyCooling = "key_cooling";
    public const string PoolDegraded = "pool_degraded";
    public const string StoreUnreachable = "store_unreachable";
    public const string HeadroomLow = "headroom_low";
    public const string UpstreamRateLimited = "upstream_rate_limited";
    public const string DailyCost = "daily_cost";
}

/// <summary>A condition that holds now: its identity (kind and key group) and why, in words without any key.</summary>
internal readonly record struct AlertCondition(string Kind, int? KeyGroup, string Reason)
{
    /// <summary>One condition per kind and group: what folding and "resolved" are counted by.</summary>
    public string Id => KeyGroup is { } group ? $"{Kind}/{group}" : Kind;
}

/// <summary>One message to the webhooks: a condition began (<c>firing</c>) or ended (<c>resolved</c>).</summary>
internal sealed record AlertMessage(string Status, string Kind, int? KeyGroup, string Reason, DateTimeOffset Time, string Instance, DateTimeOffset Since)
{
    public const string Firing = "firing";
    public const string Resolved = "resolved";

    public string Id => KeyGroup is { } group ? $"{Kind}/{group}" : Kind;

    public string Text()
    {
        var what = KeyGroup is { } group ? $"key group {group}" : "pool";
        var head = Status == Firing ? "ALERT" : "RESOLVED";
        return $"[KeyPool] {head} {Kind} ({what}): {Reason}. At {Time:yyyy-MM-dd HH:mm:ss}Z on {Instance}"
            + (Status == Resolved ? $", after {Math.Max(0, (Time - Since).TotalSeconds):0} s." : ".");
    }
}
