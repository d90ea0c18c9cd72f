using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace KeyPool.Emulator.RateLimits;

/// <summary>The x-ratelimit-* headers xAI sends, plus OpenAI's reset pair when asked for.</summary>
internal static class RateLimitHeaders
{
    public const string LimitRequests = "x-ratelimit-limit-requests";
    public const string RemainingRequests = "x-ratelimit-remaining-requests";
    public const string LimitTokens = "x-ratelimit-limit-tokens";
    public const string RemainingTokens = "x-ratelimit-remaining-tokens";
    public const string ResetRequests = "x-ratelimit-reset-requests";
    public const string ResetTokens = "x-ratelimit-reset-tokens";

    public static void Apply(IHeaderDictionary headers, RateDecision decision, bool includeReset)
    {
        headers[LimitRequests] = decision.LimitRequests.ToString(CultureInfo.InvariantCulture);
        headers[RemainingRequests] = decision.RemainingRequests.ToString(CultureInfo.InvariantCulture);
        headers[LimitTokens] = decision.LimitTokens.ToString(CultureInfo.InvariantCulture);
        headers[RemainingTokens] = decision.RemainingTokens.ToString(CultureInfo.InvariantCulture);
        if (includeReset)
        {
            headers[ResetRequests] = GoDuration.Format(decision.ResetRequests);
            headers[ResetTokens] = GoDuration.Format(decision.ResetTokens);
        }
    }
}
