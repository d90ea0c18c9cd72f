using KeyPool.Auth;
using KeyPool.Configuration;
using KeyPool.Core.Storage;
using KeyPool.Errors;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Options;

namespace KeyPool.Proxy;

/// <summary>
/// The door of <c>/v1</c>, before any body is read: refuse while draining, shed load over the concurrency
/// cap, authenticate the caller (throttling failing addresses), and let through only a clean, allow-listed path.
/// Each refusal is written here, in OpenAI's shape.
/// </summary>
internal sealed class ProxyGate(
    CallerAuthenticator auth, CallerThrottles throttles, EndpointAllowList endpoints, IHostApplicationLifetime lifetime, IOptions<LimitsOptions> limits)
{
    private readonly int _maxConcurrent = limits.Value.MaxConcurrentRequests;
    private readonly CallerThrottle _throttle = throttles.Api;
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;

    /// <summary>Who is calling and the validated path below <c>/v1</c>.</summary>
    public readonly record struct Entry(Caller Caller, string Path);

    /// <summary>The entry, or null when the request was refused (answered here). A non-null entry must be followed by <see cref="Leave"/>.</summary>
    public async ValueTask<Entry?> EnterAsync(HttpContext context)
    {
        var firstOnConnection = MarkServed(context);
        if (lifetime.ApplicationStopping.IsCancellationRequested && !firstOnConnection)
        {
            // Draining: requests in flight finish, new ones go to another instance.
            context.Response.Headers.RetryAfter = "1";
            context.Response.Headers.Connection = "close";
            await OpenAiError.WriteAsync(context, 503, "KeyPool is shutting down: retry on another instance.", OpenAiError.Server, "shutting_down");
            return null;
        }
        // Shed load before any work: a request over the cap costs one increment and a small answer.
        if (Interlocked.Increment(ref _inFlight) > _maxConcurrent)
        {
            Leave();
            context.Response.Headers.RetryAfter = "1";
            await OpenAiError.WriteAsync(context, 503, $"The gateway is handling its limit of {_maxConcurrent} requests at once (KeyPool:Limits:MaxConcurrentRequests): retry shortly.", OpenAiError.Server, "gateway_overloaded");
            return null;
        }
        try
        {
            if (await AuthorizeAsync(context) is { } entry)
            {
                return entry;
            }
        }
        catch
        {
            Leave();
            throw;
        }
        Leave();
        return null;
    }

    private static readonly object ServedKey = new();

    /// <summary>
    /// Whether this is the first request of its connection (marks the connection). The stop begins a moment before
    /// Kestrel closes its listener: a connection accepted in that moment was the load balancer's choice, and its first
    /// request cannot be retried elsewhere once sent (a POST), so it is served as part of the drain. A later request on
    /// a kept-alive connection is refused with <c>Connection: close</c>, so its client reconnects to another instance.
    /// </summary>
    private static bool MarkServed(HttpContext context)
    {
        if (context.Features.Get<IConnectionItemsFeature>()?.Items is not { } items)
        {
            return false;
        }
        return items.TryAdd(ServedKey, null);
    }

    public void Leave()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && lifetime.ApplicationStopping.IsCancellationRequested)
        {
            _idle.TrySetResult();
        }
    }

    /// <summary>Requests inside the gate now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>
    /// Completes once the last request inside the gate has left, after the stop began (no new one enters then): by then
    /// every attempt has been settled and its usage recorded, even those Kestrel cut at the drain deadline.
    /// </summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken) =>
        InFlight <= 0 ? Task.CompletedTask : _idle.Task.WaitAsync(cancellationToken);

    private async ValueTask<Entry?> AuthorizeAsync(HttpContext context)
    {
        Caller? caller;
        try
        {
            caller = await auth.AuthenticateClientAsync(context.Request, context.RequestAborted);
        }
        catch (StoreUnavailableException)
        {
            // A gateway key seen before is answered from the cache; only a first use needs the store.
            context.Response.Headers.RetryAfter = "5";
            await OpenAiError.WriteAsync(context, 503, "The key database is unavailable right now, so this gateway key cannot be checked; keys used before keep working. Retry in a few seconds.", OpenAiError.Server, "store_unavailable");
            return null;
        }
        if (caller is null)
        {
            if (await _throttle.FailedAsync(context, "authentication"))
            {
                return null;
            }
            await OpenAiError.WriteAsync(context, 401, "Invalid or missing credentials: send Authorization: Bearer <client token, gateway key or JWT>.", OpenAiError.Authentication, "invalid_api_key");
            return null;
        }
        switch (endpoints.Check(context, endUser: caller.UserId is not null, out var path))
        {
            case EndpointAllowList.Verdict.InvalidPath:
                await OpenAiError.WriteAsync(context, 400, "The request path is not valid: no dot segments, backslashes or percent-encoded characters.", OpenAiError.InvalidRequest, "invalid_path");
                return null;
            case EndpointAllowList.Verdict.NotAllowed:
                await OpenAiError.WriteAsync(context, 404, $"Unknown request URL: {context.Request.Method} {context.Request.Path}. KeyPool forwards only the endpoints in KeyPool:Upstream:AllowedPaths.", OpenAiError.InvalidRequest, "unknown_url");
                return null;
        }
        return new Entry(caller, path);
    }
}
