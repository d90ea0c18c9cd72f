using System.Globalization;
using KeyPool.Auth;
using KeyPool.Core.Callers;
using KeyPool.Errors;

namespace KeyPool.Admin;

/// <summary>
/// Lets only admins through to <c>/api/admin/*</c>: the admin token, or a JWT with the admin role.
/// Client tokens and gateway keys never open these routes. An address that keeps failing is made
/// to wait (429 with Retry-After) before each further attempt, whatever it presents.
/// </summary>
internal sealed class AdminAuthFilter(CallerAuthenticator auth, FailedAttemptThrottle throttle, ILogger<AdminAuthFilter> logger) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var source = ClientAddress.SourceOf(http.Connection.RemoteIpAddress);
        // Checked before the credential: a throttled address learns nothing, not even whether a guess was right.
        var wait = throttle.RetryAfter(source);
        if (wait > TimeSpan.Zero)
        {
            var seconds = Seconds(wait);
            http.Response.Headers.RetryAfter = seconds;
            return new OpenAiErrorResult(429, $"Too many failed admin attempts from this address: retry after {seconds} s.", OpenAiError.RateLimit, "too_many_admin_attempts");
        }

        switch (await auth.AuthenticateAdminAsync(http.Request, http.RequestAborted))
        {
            case AdminAccess.Granted:
                throttle.RecordSuccess(source);
                return await next(context);
            case AdminAccess.Forbidden:
                return new OpenAiErrorResult(403, "The token is valid but does not carry the admin role (KeyPool:Auth:Jwt:AdminRole).", OpenAiError.Permission, "not_admin");
            default:
                var delay = throttle.RecordFailure(source);
                if (delay > TimeSpan.Zero)
                {
                    AuthLog.AdminThrottled(logger, source, delay);
                    http.Response.Headers.RetryAfter = Seconds(delay);
                }
                return new OpenAiErrorResult(401, "Admin endpoints need Authorization: Bearer <admin token> (KeyPool:AdminToken) or a JWT with the admin role.", OpenAiError.Authentication, "invalid_admin_token");
        }
    }

    private static string Seconds(TimeSpan wait) => ((int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}

