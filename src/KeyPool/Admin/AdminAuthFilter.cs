using KeyPool.Auth;
using KeyPool.Errors;
using KeyPool.Proxy;

namespace KeyPool.Admin;

/// <summary>
/// Lets only admins through to <c>/api/admin/*</c>: the admin token, or a JWT with the admin role.
/// Client tokens and gateway keys never open these routes. An address that keeps failing has its
/// further failures answered 429 with Retry-After; a valid credential always passes.
/// </summary>
internal sealed class AdminAuthFilter(CallerAuthenticator auth, CallerThrottles throttles) : IEndpointFilter
{
    private static readonly Refusal NotAdmin = new(403, OpenAiError.Permission, "not_admin", "The token is valid but does not carry the admin role (KeyPool:Auth:Jwt:AdminRole).");
    private static readonly Refusal InvalidToken = new(401, OpenAiError.Authentication, "invalid_admin_token",
        "Admin endpoints need Authorization: Bearer <admin token> (KeyPool:AdminToken) or a JWT with the admin role.");

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var throttle = throttles.Admin;
        var http = context.HttpContext;
        switch (await auth.AuthenticateAdminAsync(http.Request, http.RequestAborted))
        {
            case AdminAccess.Granted:
                return await next(context);
            case AdminAccess.Forbidden:
                return NotAdmin;
            default:
                return throttle.Failed(http, "admin", InvalidToken);
        }
    }
}
