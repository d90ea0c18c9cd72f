namespace KeyPool.Core.Cluster;

/// <summary>How instances that share keys coordinate (<c>KeyPool:Cluster</c>); used only when shared state is configured.</summary>
public sealed class ClusterOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "KeyPool:Cluster";

    /// <summary>
    /// How many instances share the keys, for the fallback while the shared state is unreachable (each then
    /// serves 1/N of every budget). 0 (default) = the count of the last heartbeats.
    /// </summary>
    public int Instances { get; set; }

    /// <summary>How often budget leases are renewed and returned. Default 50 ms; bounds 10 ms to 1 s.</summary>
    public TimeSpan LeaseInterval { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How often an instance says it is alive. Default 1 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>An instance not heard from for this long no longer counts. Default 5 s.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Prefix of every shared key and channel, so several pools can share one server. Default <c>keypool</c>.</summary>
    public string Prefix { get; set; } = "keypool";

    /// <summary>This instance's name in heartbeats and events; empty (default) = host name, process id and a random suffix.</summary>
    public string InstanceId { get; set; } = "";

    /// <summary>Every problem with the options, empty when they are valid.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (Instances < 0)
        {
            problems.Add($"{Section}:Instances must be 0 (from heartbeats) or more, not {Instances}.");
        }
        if (LeaseInterval < TimeSpan.FromMilliseconds(10) || LeaseInterval > TimeSpan.FromSeconds(1))
        {
            problems.Add($"{Section}:LeaseInterval must be between 00:00:00.010 and 00:00:01, not {LeaseInterval}.");
        }
        if (HeartbeatInterval <= TimeSpan.Zero)
        {
            problems.Add($"{Section}:HeartbeatInterval must be positive, not {HeartbeatInterval}.");
        }
        if (HeartbeatTimeout <= HeartbeatInterval)
        {
            problems.Add($"{Section}:HeartbeatTimeout ({HeartbeatTimeout}) must be longer than HeartbeatInterval ({HeartbeatInterval}).");
        }
        if (string.IsNullOrWhiteSpace(Prefix) || Prefix.Any(char.IsWhiteSpace))
        {
            problems.Add($"{Section}:Prefix must be a non-empty name without spaces, not '{Prefix}'.");
        }
        return problems;
    }

    /// <summary>The configured instance id, or a fresh one for this process.</summary>
    public string ResolveInstanceId() =>
        InstanceId is { Length: > 0 } id ? id : $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
}
