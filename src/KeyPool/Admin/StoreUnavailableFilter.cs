using KeyPool.Core.Storage;
using KeyPool.Errors;
using KeyPool.Storage;

namespace KeyPool.Admin;

/// <summary>
/// Admin endpoints that need the database (sign-ups, look-ups, gateway keys, rebalance) answer
/// <c>503</c> in OpenAI's error shape with <c>Retry-After</c> while the store is unavailable, instead of a 500.
/// </summary>
internal sealed class StoreUnavailableFilter(ILogger<StoreUnavailableFilter> logger) : IEndpointFilter
{
    internal const int RetryAfterSeconds = 5;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (StoreUnavailableException exception)
        {
            var request = context.HttpContext.Request;
            StoreLog.StoreUnavailable(logger, request.Method, request.Path, exception);
            context.HttpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return new OpenAiErrorResult(
                503,
                "The user database is unavailable right now, so users cannot be registered or changed; known users keep being served. Retry in a few seconds.",
                OpenAiError.Server,
                "store_unavailable");
        }
    }
}
