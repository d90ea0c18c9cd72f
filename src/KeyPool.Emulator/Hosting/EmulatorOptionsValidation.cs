namespace KeyPool.Emulator.Hosting;

/// <summary>Checks options before start and names every problem at once.</summary>
internal static class EmulatorOptionsValidation
{
    public static void ThrowIfInvalid(EmulatorOptions options)
    {
        var problems = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Keys.Count; i++)
        {
            var key = options.Keys[i];
            if (string.IsNullOrWhiteSpace(key) || key.Any(char.IsWhiteSpace))
            {
                problems.Add($"Keys[{i}] is empty or contains whitespace.");
            }
            else if (!seen.Add(key))
            {
                problems.Add($"Keys[{i}] repeats an earlier key.");
            }
        }
        foreach (var (key, team) in options.Teams)
        {
            if (string.IsNullOrWhiteSpace(team))
            {
                problems.Add($"Teams has an empty team id for key at position {options.Keys.IndexOf(key) + 1}.");
            }
        }
        if (options.RequestsPerMinute < 1)
        {
            problems.Add($"RequestsPerMinute must be at least 1, got {options.RequestsPerMinute}.");
        }
        if (options.TokensPerMinute < 1)
        {
            problems.Add($"TokensPerMinute must be at least 1, got {options.TokensPerMinute}.");
        }
        if (options.StreamChunks < 1)
        {
            problems.Add($"StreamChunks must be at least 1, got {options.StreamChunks}.");
        }
        if (options.CompletionTokens < 0)
        {
            problems.Add($"CompletionTokens must not be negative, got {options.CompletionTokens}.");
        }
        if (options.Latency < TimeSpan.Zero)
        {
            problems.Add($"Latency must not be negative, got {options.Latency}.");
        }
        if (options.Models.Any(string.IsNullOrWhiteSpace))
        {
            problems.Add("Models contains an empty model id.");
        }
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid emulator options: " + string.Join(" ", problems), nameof(options));
        }
    }
}
