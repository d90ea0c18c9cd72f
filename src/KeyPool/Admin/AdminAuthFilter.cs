using KeyPool.Auth;
using KeyPool.Errors;

namespace KeyPool.Admin;

/// <summary>
/// Lets only admins through to <c>/api/admin/*</c>: the admin token, or a JWT with the admin role.
/// Client tokens and gateway keys never open these routes. An address that keeps failing is made
/// to wait (429 with Retry-After) before each further attempt, whatever it presents.
/// </summary>
internal sealed class AdminAuthFilter(CallerAuthenticator auth, CallerThrottles throttles) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var throttle = throttles.Admin;
        var http = context.HttpContext;
        if (await throttle.RefuseIfThrottledAsync(http, "admin"))
        {
            return Results.Empty;
        }
        switch (await auth.AuthenticateAdminAsync(http.Request, http.RequestAborted))
        {
            case AdminAccess.Granted:
                throttle.Succeeded(http);
                return await next(context);
            case AdminAccess.Forbidden:
                return new OpenAiErrorResult(403, "The token is valid but does not carry the admin role (KeyPool:Auth:Jwt:AdminRole).", OpenAiError.Permission, "not_admin");
            default:
                throttle.Failed(http);
                return new OpenAiErrorResult(401, "Admin endpoints need Authorization: Bearer <admin token> (KeyPool:AdminToken) or a JWT with the admin role.", OpenAiError.Authentication, "invalid_admin_token");
        }
    }
}
