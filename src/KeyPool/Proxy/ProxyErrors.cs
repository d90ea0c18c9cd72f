using System.Globalization;
using KeyPool.Core.Keys;
using KeyPool.Core.Outcomes;
using KeyPool.Errors;

namespace KeyPool.Proxy;

/// <summary>Writes what the client sees when the last attempt failed: the verdict's status and code, with a message free of secrets.</summary>
internal static class ProxyErrors
{
    public static Task WriteAsync(HttpContext context, in OutcomeVerdict verdict, in ForwardResult attempt, KeyRing ring, int group, TimeSpan timeout)
    {
        var response = context.Response;
        if (!response.HasStarted)
        {
            response.Clear(); // a stream that failed before its first event left its status and headers here
        }
        if (verdict.CoolFor is { } wait)
        {
            response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(1, wait.TotalSeconds))).ToString(CultureInfo.InvariantCulture);
        }
        var upstream = attempt.Outcome.ErrorMessage is { } raw ? SecretScrubber.Scrub(raw, ring) : null;
        var message = verdict.ErrorCode switch
        {
            "upstream_key_rejected" => $"The upstream rejected the API key of group {group} ({upstream ?? $"status {attempt.Outcome.Status}"}). The gateway operator must replace or re-enable it.",
            "upstream_unreachable" => "The upstream could not be reached.",
            "upstream_timeout" => $"The upstream did not answer within {timeout}.",
            "upstream_failed" => "The upstream failed before its answer was complete.",
            _ => upstream ?? $"The upstream answered {attempt.Outcome.Status}.",
        };
        return OpenAiError.WriteAsync(context, verdict.ClientStatus, message, OpenAiError.TypeFor(verdict.ClientStatus), verdict.ErrorCode ?? "upstream_error");
    }
}
