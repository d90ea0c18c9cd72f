using KeyPool.Auth;
using KeyPool.Configuration;
using KeyPool.Core.Storage;
using KeyPool.Errors;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Options;

namespace KeyPool.Proxy;

/// <summary>
/// The gate stage of <c>/v1</c>, before any body is read: refuse while draining, authenticate the caller (throttling
/// failing addresses), let through only a clean, allow-listed path, then shed load over the concurrency cap and over the
/// caller's share of it.
/// </summary>
internal sealed class ProxyGate(
    CallerAuthenticator auth, CallerThrottles throttles, EndpointAllowList endpoints, CallerSlots slots, IHostApplicationLifetime lifetime, IOptions<LimitsOptions> limits)
{
    private static readonly Refusal ShuttingDown = new(503, OpenAiError.Server, "shutting_down", "KeyPool is shutting down: retry on another instance.", RetryAfterSeconds: 1, CloseConnection: true);
    private static readonly Refusal StoreUnavailable = Refusal.Unavailable("store_unavailable", "The key database is unavailable right now, so this gateway key cannot be checked; keys used before keep working. Retry in a few seconds.", 5);
    private static readonly Refusal InvalidCredentials = new(401, OpenAiError.Authentication, "invalid_api_key", "Invalid or missing credentials: send Authorization: Bearer <client token, gateway key or JWT>.");
    private static readonly Refusal InvalidPath = Refusal.InvalidRequest(400, "invalid_path", "The request path is not valid: no dot segments, backslashes or percent-encoded characters.");

    private readonly int _maxConcurrent = limits.Value.MaxConcurrentRequests;
    private readonly Refusal _overloaded = Refusal.Unavailable(
        "gateway_overloaded", $"The gateway is handling its limit of {limits.Value.MaxConcurrentRequests} requests at once (KeyPool:Limits:MaxConcurrentRequests): retry shortly.", 1);
    private readonly CallerThrottle _throttle = throttles.Api;
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;

    /// <summary>
    /// Null when the request may go on (the caller and path are set on <paramref name="exchange"/>; <see cref="Leave"/>
    /// must follow), else why not (nothing is held then). Slots are taken only after authentication: a caller without a
    /// valid credential holds none, and one caller holds at most its share (<see cref="CallerSlots"/>).
    /// </summary>
    public async ValueTask<Refusal?> EnterAsync(ProxyExchange exchange)
    {
        var context = exchange.Context;
        var firstOnConnection = MarkServed(context);
        if (lifetime.ApplicationStopping.IsCancellationRequested && !firstOnConnection)
        {
            // Draining: requests in flight finish, new ones go to another instance.
            return ShuttingDown;
        }
        if (await AuthorizeAsync(exchange) is { } refused)
        {
            return refused;
        }
        // Shed load before any other work: a request over the cap costs one increment and a small answer.
        if (Interlocked.Increment(ref _inFlight) > _maxConcurrent)
        {
            LeaveGate();
            return _overloaded;
        }
        // The caller known before the body: the credential's user, or the user a client token names in the header. A user
        // named only in the body is held once the body is read (RequestIdentifier).
        var caller = exchange.Caller!.UserId ?? (context.Request.Headers[HeaderCopier.UserHeader].ToString() is { Length: > 0 } header ? header : null);
        if (caller is not null && slots.Hold(exchange, caller) is { } busy)
        {
            LeaveGate();
            return busy;
        }
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

    /// <summary>Gives back what <see cref="EnterAsync"/> (and a later stage) held for <paramref name="exchange"/>.</summary>
    public void Leave(ProxyExchange exchange)
    {
        slots.Release(exchange);
        LeaveGate();
    }

    private void LeaveGate()
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

    private async ValueTask<Refusal?> AuthorizeAsync(ProxyExchange exchange)
    {
        var context = exchange.Context;
        Caller? caller;
        try
        {
            caller = await auth.AuthenticateClientAsync(context.Request, context.RequestAborted);
        }
        catch (StoreUnavailableException)
        {
            // A gateway key seen before is answered from the cache; only a first use needs the store.
            return StoreUnavailable;
        }
        if (caller is null)
        {
            return _throttle.Failed(context, "authentication", InvalidCredentials);
        }
        exchange.Caller = caller;
        switch (endpoints.Check(context, endUser: caller.UserId is not null, out var path))
        {
            case EndpointAllowList.Verdict.InvalidPath:
                return InvalidPath;
            case EndpointAllowList.Verdict.NotAllowed:
                return Refusal.InvalidRequest(404, "unknown_url", $"Unknown request URL: {context.Request.Method} {context.Request.Path}. KeyPool forwards only the endpoints in KeyPool:Upstream:AllowedPaths.");
        }
        exchange.Path = path;
        return null;
    }
}
