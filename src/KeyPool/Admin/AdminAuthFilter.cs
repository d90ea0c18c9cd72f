using KeyPool.Auth;
using KeyPool.Errors;

namespace KeyPool.Admin;

/// <summary>Lets only holders of the admin token through to <c>/api/admin/*</c>.</summary>
internal sealed class AdminAuthFilter(CallerAuthenticator auth) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (!auth.IsAdmin(context.HttpContext.Request))
        {
            return ValueTask.FromResult<object?>(new OpenAiErrorResult(401, "Admin endpoints need Authorization: Bearer <admin token> (KeyPool:AdminToken).", OpenAiError.Authentication, "invalid_admin_token"));
        }
        return next(context);
    }
}
