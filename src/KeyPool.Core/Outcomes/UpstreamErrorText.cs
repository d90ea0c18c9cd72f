namespace KeyPool.Core.Outcomes;

/// <summary>Reads the meaning of an upstream error from its status and message (xAI puts the reason in the text).</summary>
public static class UpstreamErrorText
{
    /// <summary>
    /// The key itself was refused: 401/403, or xAI's 400 "Incorrect API key provided".
    /// </summary>
    public static bool RejectsKey(int status, string message) =>
        status is 401 or 403 || (status == 400 && message.Contains("API key", StringComparison.OrdinalIgnoreCase));

    /// <summary>A 429 that is not a rate limit but the end of the team's credits or spending limit: not transient.</summary>
    public static bool CreditsExhausted(string message) =>
        message.Contains("credits", StringComparison.OrdinalIgnoreCase) || message.Contains("spending limit", StringComparison.OrdinalIgnoreCase);
}
