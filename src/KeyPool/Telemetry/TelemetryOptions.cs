namespace KeyPool.Telemetry;

/// <summary>How an end user's id may appear in traces (and, with its own setting, the request log).</summary>
public enum UserIdMode
{
    /// <summary>Not at all.</summary>
    None,

    /// <summary>As a keyed hash: the same user gives the same value, the id cannot be read back.</summary>
    Hash,

    /// <summary>As sent.</summary>
    Plain,
}

/// <summary>
/// Traces (<c>KeyPool:Telemetry</c>). Exporting is turned on by the standard OpenTelemetry variables
/// (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>OTEL_SERVICE_NAME</c>), not here.
/// </summary>
public sealed class TelemetryOptions
{
    public const string Section = "KeyPool:Telemetry";

    /// <summary>The end user on spans (<c>enduser.id</c>): <c>none</c> (default), <c>hash</c> or <c>plain</c>.</summary>
    public UserIdMode UserId { get; set; } = UserIdMode.None;
}
