namespace KeyPool.Telemetry;

/// <summary>This instance's name in request log lines and alerts: the cluster's instance id when shared state is on, else the host name.</summary>
internal sealed class InstanceName(string value)
{
    public string Value { get; } = value;
}
