namespace KeyPool.Alerts;

/// <summary>Alerts to webhooks (<c>KeyPool:Alerts</c>). Off while no webhook is configured.</summary>
public sealed class AlertOptions
{
    public const string Section = "KeyPool:Alerts";

    /// <summary><c>KeyPool:Alerts:Webhooks:0:Url</c>, <c>…:0:Format</c> (<c>slack</c> or <c>json</c>), …</summary>
    public List<WebhookOptions> Webhooks { get; set; } = [];

    /// <summary>How often conditions are checked. Default 1 s.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A condition is announced at most once per this interval (repeats in between are folded). Default 15 min.</summary>
    public TimeSpan RepeatInterval { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Alert when a key stays cooling (or its circuit open) longer than this. Default 5 min.</summary>
    public TimeSpan CoolingLongerThan { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Alert when the pool's measured headroom (share of the minute budget free, 0–1) falls below this. Default off.</summary>
    public double? HeadroomBelow { get; set; }

    /// <summary>Alert when the day's upstream cost (UTC day, USD) passes this. Default off.</summary>
    public decimal? DailyCostAbove { get; set; }

    /// <summary>How often the day's cost is read from the store (a sum over the day's usage rows) while <see cref="DailyCostAbove"/> is set. Default 30 s.</summary>
    public TimeSpan CostCheckInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>An upstream 429 alert resolves after this long without another. Default 5 min.</summary>
    public TimeSpan UpstreamRateLimitQuiet { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Tries per delivery (the first and the retries, with doubling waits from 1 s). Default 6.</summary>
    public int DeliveryAttempts { get; set; } = 6;

    /// <summary>Wait before the first retry of a failed delivery; doubled each time, at most 5 min. Default 1 s.</summary>
    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>One webhook.</summary>
public sealed class WebhookOptions
{
    public Uri? Url { get; set; }

    /// <summary><c>slack</c>: <c>{"text": …}</c> (Slack, Mattermost, Teams workflows); <c>json</c>: the alert's fields. Default json.</summary>
    public string Format { get; set; } = AlertFormats.Json;
}

public static class AlertFormats
{
    public const string Json = "json";
    public const string Slack = "slack";
}
