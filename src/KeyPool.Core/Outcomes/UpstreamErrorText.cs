namespace KeyPool.Core.Outcomes;

/// <summary>Reads the meaning of an upstream error from its status and message (xAI puts the reason in the text).</summary>
public static class UpstreamErrorText
{
    /// <summary>
    /// The key itself was refused: 401, or xAI's 400 "Incorrect API key provided". Not 403: xAI answers 403 when the
    /// key's team may not use a model or endpoint, which a caller can provoke at will (see <see cref="UpstreamOutcomePolicy"/>).
    /// </summary>
    public static bool RejectsKey(int status, string message) =>
        status == 401 || (status == 400 && message.Contains("Incorrect API key", StringComparison.OrdinalIgnoreCase));

    /// <summary>A 429 that is not a rate limit but the end of the team's credits or spending limit: not transient.</summary>
    public static bool CreditsExhausted(string message) =>
        message.Contains("credits", StringComparison.OrdinalIgnoreCase) || message.Contains("spending limit", StringComparison.OrdinalIgnoreCase);
}
