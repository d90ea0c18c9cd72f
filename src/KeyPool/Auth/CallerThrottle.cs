using System.Globalization;
using KeyPool.Core.Callers;
using KeyPool.Errors;

namespace KeyPool.Auth;

/// <summary>
/// Slows down failed authentications per address at one door. A throttled address is answered 429 before its
/// credential is even looked at, so it learns nothing, not even whether a guess was right. While no address is
/// failing, the check costs one volatile read. There are two doors with separate counts (<see cref="CallerThrottles"/>):
/// an operator mistyping the admin token must not stop the chat traffic of the backend on the same machine.
/// </summary>
internal sealed class CallerThrottle(FailedAttemptThrottle throttle, ILogger logger)
{
    /// <summary>Writes 429 with Retry-After and returns true when the caller's address must wait.</summary>
    public async ValueTask<bool> RefuseIfThrottledAsync(HttpContext context, string door)
    {
        if (!throttle.Any)
        {
            return false;
        }
        var wait = throttle.RetryAfter(ClientAddress.SourceOf(context.Connection.RemoteIpAddress));
        if (wait <= TimeSpan.Zero)
        {
            return false;
        }
        var seconds = Seconds(wait);
        context.Response.Headers.RetryAfter = seconds;
        await OpenAiError.WriteAsync(context, 429, $"Too many failed {door} attempts from this address: retry after {seconds} s.", OpenAiError.RateLimit, "too_many_failed_attempts");
        return true;
    }

    /// <summary>Counts a failure; from the first one past the free ones, sets Retry-After on the answer.</summary>
    public void Failed(HttpContext context)
    {
        var source = ClientAddress.SourceOf(context.Connection.RemoteIpAddress);
        var delay = throttle.RecordFailure(source);
        if (delay > TimeSpan.Zero)
        {
            AuthLog.AdminThrottled(logger, source, delay);
            context.Response.Headers.RetryAfter = Seconds(delay);
        }
    }

    public void Succeeded(HttpContext context)
    {
        if (throttle.Any)
        {
            throttle.RecordSuccess(ClientAddress.SourceOf(context.Connection.RemoteIpAddress));
        }
    }

    private static string Seconds(TimeSpan wait) => ((int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}

/// <summary>The two doors: <c>/v1</c> (client tokens, gateway keys, JWTs) and the admin side (<c>/api/admin</c>, <c>/metrics</c>).</summary>
internal sealed class CallerThrottles(CallerThrottle api, CallerThrottle admin)
{
    public CallerThrottle Api { get; } = api;

    public CallerThrottle Admin { get; } = admin;
}
