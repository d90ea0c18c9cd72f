using System.Globalization;
using KeyPool.Core.Callers;
using KeyPool.Errors;
using KeyPool.Proxy;

namespace KeyPool.Auth;

/// <summary>
/// Slows down failed authentications per address at one door. The throttle acts on failures only: a credential is
/// always checked, a valid one always passes, and only an attempt that failed is counted and, once its address must
/// wait, answered 429 instead of 401. Behind a load balancer that is not a known proxy every caller shares one
/// address, so refusing before the check would let one guesser lock everybody out. A success does not clear the
/// address either: a caller holding one valid key could otherwise wash its guesses away between them. Guessing a
/// credential stays hopeless because each is long and random (tokens ≥ 24 characters, 256-bit gateway keys, signed
/// JWTs); the throttle keeps failing addresses told to back off, their count in the log and their cost bounded.
/// There are two doors with separate counts (<see cref="CallerThrottles"/>).
/// </summary>
internal sealed class CallerThrottle(FailedAttemptThrottle throttle, ILogger logger)
{
    /// <summary>
    /// Counts a failed attempt and says how to answer it: 429 with Retry-After when the address was already made to
    /// wait, else <paramref name="unauthorized"/> (the door's 401), with Retry-After once past the free failures.
    /// </summary>
    public Refusal Failed(HttpContext context, string door, Refusal unauthorized)
    {
        var source = ClientAddress.SourceOf(context.Connection.RemoteIpAddress);
        var waiting = throttle.Any ? throttle.RetryAfter(source) : TimeSpan.Zero;
        var delay = throttle.RecordFailure(source);
        if (waiting > TimeSpan.Zero)
        {
            var seconds = Seconds(delay);
            return new Refusal(429, OpenAiError.RateLimit, "too_many_failed_attempts",
                string.Create(CultureInfo.InvariantCulture, $"Too many failed {door} attempts from this address: retry after {seconds} s."), RetryAfterSeconds: seconds);
        }
        if (delay > TimeSpan.Zero)
        {
            AuthLog.AdminThrottled(logger, source, delay);
            return unauthorized with { RetryAfterSeconds = Seconds(delay) };
        }
        return unauthorized;
    }

    private static int Seconds(TimeSpan wait) => (int)Math.Ceiling(wait.TotalSeconds);
}

/// <summary>The two doors: <c>/v1</c> (client tokens, gateway keys, JWTs) and the admin side (<c>/api/admin</c>, <c>/metrics</c>).</summary>
internal sealed class CallerThrottles(CallerThrottle api, CallerThrottle admin)
{
    public CallerThrottle Api { get; } = api;

    public CallerThrottle Admin { get; } = admin;
}
