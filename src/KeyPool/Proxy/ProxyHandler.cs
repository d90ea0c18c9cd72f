using System.Buffers;
using System.Globalization;
using KeyPool.Auth;
using KeyPool.Configuration;
using KeyPool.Core.Outcomes;
using KeyPool.Core.Storage;
using KeyPool.Core.Users;
using KeyPool.Core.Routing;
using KeyPool.Core.Limits;
using KeyPool.Errors;
using KeyPool.Limits;
using KeyPool.StoredObjects;
using KeyPool.Users;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace KeyPool.Proxy;

/// <summary>
/// <c>/v1/*</c>, as a short orchestration: pass the gate (<see cref="ProxyGate"/>), read the body, take the pool once,
/// find the end user's group, plan the upstream request, then per attempt admit it to a key, let the
/// forwarder send and relay it, and let the outcome policy say what the answer means (for the key,
/// and whether another key may try). Nothing here changes a key's health itself.
/// </summary>
internal sealed class ProxyHandler(
    ProxyGate gate,
    KeyPoolRouter router,
    UserResolver users,
    TierLimits tierLimits,
    RequestPlanner planner,
    UpstreamForwarder forwarder,
    UpstreamOutcomePolicy outcomes,
    AttemptLog attempts,
    DeadlineSources deadlines,
    StoredObjectAccess storedObjects,
    IOptions<LimitsOptions> limits,
    IOptions<RoutingOptions> routing)
{
    private const int InitialBodyBuffer = 64 * 1024;

    private readonly long _maxBody = limits.Value.MaxRequestBodyBytes;
    private readonly int _maxMessages = limits.Value.MaxMessages;
    private readonly int _maxAttempts = Math.Max(1, routing.Value.MaxAttempts);

    public async Task HandleAsync(HttpContext context)
    {
        if (await gate.EnterAsync(context) is not { } entry)
        {
            return;
        }
        try
        {
            await ReadAndServeAsync(context, entry.Caller, entry.Path);
        }
        finally
        {
            gate.Leave();
        }
    }

    private async Task ReadAndServeAsync(HttpContext context, Caller caller, string path)
    {
        if (context.Request.ContentLength > _maxBody)
        {
            await TooLargeAsync(context);
            return;
        }
        byte[] buffer;
        int length;
        bool tooLarge;
        try
        {
            (buffer, length, tooLarge) = await ReadBodyAsync(context);
        }
        catch (BadHttpRequestException exception)
        {
            // Kestrel's verdict on the body (too slow: below KeyPool:Limits:MinRequestBodyBytesPerSecond; malformed chunking).
            await BadBodyAsync(context, exception);
            return;
        }
        try
        {
            if (tooLarge)
            {
                await TooLargeAsync(context);
                return;
            }
            await ServeAsync(context, caller, path, buffer.AsMemory(0, length));
        }
        finally
        {
            if (buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private async Task ServeAsync(HttpContext context, Caller caller, string path, ReadOnlyMemory<byte> body)
    {
        ChatRequest chat = default;
        if (body.IsEmpty && HttpMethods.IsPost(context.Request.Method))
        {
            // Every POST endpoint behind the gateway takes a JSON object; an empty one would only cost an upstream call.
            await OpenAiError.WriteAsync(context, 400, "The request body must be a JSON object.", OpenAiError.InvalidRequest, ChatRequest.InvalidJson);
            return;
        }
        if (!body.IsEmpty)
        {
            if (!IsJson(context.Request.ContentType))
            {
                await OpenAiError.WriteAsync(context, 415, $"The request body must be JSON (Content-Type: application/json), not '{context.Request.ContentType}'.", OpenAiError.InvalidRequest, "unsupported_media_type");
                return;
            }
            if (ChatRequest.Read(body.Span, _maxMessages, out var error, out var code) is not { } parsed)
            {
                await OpenAiError.WriteAsync(context, 400, error!, OpenAiError.InvalidRequest, code!);
                return;
            }
            chat = parsed;
        }
        var pool = router.Pool; // one snapshot for the whole request: assignment, routing and scrubbing
        if (pool.Ring.Count == 0)
        {
            await OpenAiError.WriteAsync(context, 503, "No upstream API key is configured.", OpenAiError.Server, "no_keys");
            return;
        }
        var request = context.Request;
        var userId = caller.UserId
            ?? (request.Headers[HeaderCopier.UserHeader].ToString() is { Length: > 0 } header ? header : chat.User);
        var (tier, userGroup) = ("-", 0); // no user: any key may answer (model lists and similar reads)
        UserRecord? user = null;
        if (!(HttpMethods.IsGet(request.Method) && string.IsNullOrEmpty(userId)))
        {
            if (UserResolver.Validate(userId) is { } invalid)
            {
                await OpenAiError.WriteAsync(context, 400, invalid, OpenAiError.InvalidRequest, "missing_user", "user");
                return;
            }
            try
            {
                user = await users.ResolveAsync(userId!, pool, context.RequestAborted);
            }
            catch (StoreUnavailableException)
            {
                // Known users come from the cache and never get here; only a new one needs the store.
                context.Response.Headers.RetryAfter = "5";
                await OpenAiError.WriteAsync(context, 503, "The user database is unavailable right now, so a new user cannot be given a key group; known users keep being served. Retry in a few seconds.", OpenAiError.Server, "store_unavailable");
                return;
            }
            if (user is null)
            {
                await OpenAiError.WriteAsync(context, 403, $"User '{userId}' is not registered and automatic registration is off: register the user through POST /api/admin/users first.", OpenAiError.Permission, "user_not_registered");
                return;
            }
            (tier, userGroup) = (user.Tier, user.ApiKeyGroup);
        }
        // Stored responses and deferred completions: the owner's check, and the team that holds the object.
        var stored = await storedObjects.ResolveAsync(context, path, body, caller.UserId is not null, string.IsNullOrEmpty(userId) ? null : userId, pool);
        if (stored is { IsAnswered: true })
        {
            return;
        }
        var plan = planner.Plan(body, chat, tier, caller.UserId, pool);
        if (plan.UnknownModel)
        {
            await OpenAiError.WriteAsync(context, 404, $"The model '{plan.Model}' does not exist or is not available through this gateway.", OpenAiError.InvalidRequest, "model_not_found", "model");
            return;
        }
        // The user's tier limits, before any key is asked: a refusal costs no key's budget and never reaches the upstream.
        var limit = user is null ? default : tierLimits.TryAcquire(userId!, tier, plan.Tokens); // the id usage is recorded under
        if (!limit.Admitted)
        {
            context.Response.Headers.RetryAfter = limit.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
            await OpenAiError.WriteAsync(context, 429, TierLimits.Message(limit, tier), OpenAiError.RateLimit, "user_rate_limit_exceeded");
            return;
        }
        long? spent = null;
        try
        {
            using var deadline = deadlines.Rent(forwarder.Timeout, context.RequestAborted);
            var exchange = new ProxyExchange(context, path, caller.UserId is not null, plan.Body, userId, plan.StripUsageChunk, deadline.Token);
            spent = await AttemptAsync(exchange, pool, plan, userGroup, stored);
            stored?.Complete(context);
        }
        finally
        {
            limit.Reservation.Settle(spent ?? limit.Reservation.Tokens); // unknown after a failure: the estimate stands
        }
    }

    /// <summary>Tries keys until one answers, the outcome forbids another try, or no key has room; returns the tokens the upstream spent.</summary>
    private async Task<long> AttemptAsync(ProxyExchange exchange, PoolSnapshot pool, RequestPlan plan, int userGroup, StoredObjectRoute? stored)
    {
        var context = exchange.Context;
        (OutcomeVerdict Verdict, ForwardResult Result, int Group)? failed = null;
        var exclude = 0;
        var spent = 0L;
        var usageUser = userGroup == 0 ? null : exchange.UserId; // a request of no user (GET /v1/models) is only the key's usage
        for (var attempt = 1; attempt <= _maxAttempts; attempt++)
        {
            Admission? admitted;
            try
            {
                admitted = await router.AdmitAsync(pool, userGroup, plan.ModelId, plan.Tokens, exclude, exchange.UserId, stored?.Team, context.RequestAborted);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                return spent;
            }
            if (admitted is not { } admission)
            {
                break;
            }
            attempts.Routed(admission, userGroup, plan, router.Policy.Name);
            stored?.Admitted(admission.Member);
            ForwardResult result;
            try
            {
                result = await forwarder.ForwardAsync(exchange, admission.Member.Key);
            }
            catch (Exception exception)
            {
                // The forwarder reports failures as facts; anything else escaping it must still settle the reservation,
                // record the attempt and free a half-open probe — exactly once — before it goes up.
                var kind = exchange.ClientLeft ? OutcomeKind.ClientLeft : OutcomeKind.BrokeMidway;
                var broke = new ForwardResult(new UpstreamOutcome(kind, ClientSawBytes: context.Response.HasStarted), null, null, TimeSpan.Zero, exception.GetType().Name);
                attempts.Completed(pool, admission, broke, outcomes.Complete(admission, broke.Outcome), forwarder.Timeout, usageUser);
                throw;
            }
            var verdict = outcomes.Complete(admission, result.Outcome);
            attempts.Completed(pool, admission, result, verdict, forwarder.Timeout, usageUser);
            spent += UpstreamOutcomePolicy.SpentTokens(admission.ReservedTokens, result.Outcome);
            if (verdict.Succeeded || result.Outcome.ClientSawBytes)
            {
                return spent; // answered, or a stream that failed midway already told the client
            }
            failed = (verdict, result, admission.Member.Group);
            if (!verdict.MayRetry)
            {
                break;
            }
            exclude = admission.Member.Group;
        }
        if (failed is { } last)
        {
            await ProxyErrors.WriteAsync(context, last.Verdict, last.Result, pool.Ring, last.Group, forwarder.Timeout);
            return spent;
        }
        if (!pool.AnyPermits(plan.ModelId, router.Second))
        {
            await OpenAiError.WriteAsync(context, 403, $"No upstream key of this gateway may use the model '{plan.Model}': the upstream refused it to every key.", OpenAiError.Permission, "model_not_permitted", "model");
            return spent;
        }
        if (stored?.Team is { } team)
        {
            // A stored object lives on one team: only that team's budget can free a slot for it.
            var teamRetry = router.RetryAfterSecondsOnTeam(pool, plan.ModelId, team);
            context.Response.Headers.RetryAfter = teamRetry.ToString(CultureInfo.InvariantCulture);
            await OpenAiError.WriteAsync(context, 429, $"The upstream keys that hold this stored object are at their rate limit. Retry after {teamRetry} s.", OpenAiError.RateLimit, "rate_limit_exceeded");
            return spent;
        }
        var retryAfter = router.RetryAfterSeconds(pool, plan.ModelId, exchange.UserId);
        context.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        await OpenAiError.WriteAsync(context, 429, $"Every upstream key is at its rate limit. Retry after {retryAfter} s.", OpenAiError.RateLimit, "rate_limit_exceeded");
        return spent;
    }

    private async Task<(byte[] Buffer, int Length, bool TooLarge)> ReadBodyAsync(HttpContext context)
    {
        var request = context.Request;
        var length = request.ContentLength;
        if (length == 0 || context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
        {
            return ([], 0, false);
        }
        // The buffer grows as bytes arrive: a declared length is a claim, not bytes, and slow senders must not hold memory they never send.
        var (buffer, total, tooLarge) = await PooledRead.ReadAsync(request.Body, Math.Min(length ?? InitialBodyBuffer, InitialBodyBuffer), _maxBody, context.RequestAborted);
        return (buffer, tooLarge ? 0 : total, tooLarge);
    }

    // Every endpoint behind the gateway takes JSON; a missing type is taken as JSON (curl without -H).
    private static bool IsJson(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return true;
        }
        var mediaType = contentType.AsSpan();
        var semicolon = mediaType.IndexOf(';');
        if (semicolon >= 0)
        {
            mediaType = mediaType[..semicolon];
        }
        mediaType = mediaType.Trim();
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (mediaType.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }

    private static async Task BadBodyAsync(HttpContext context, BadHttpRequestException exception)
    {
        var (code, message) = exception.StatusCode == StatusCodes.Status408RequestTimeout
            ? ("request_timeout", "The request body arrived too slowly (KeyPool:Limits:MinRequestBodyBytesPerSecond).")
            : ("invalid_request_body", "The request body could not be read: " + exception.Message);
        try
        {
            await OpenAiError.WriteAsync(context, exception.StatusCode, message, OpenAiError.InvalidRequest, code);
        }
        catch (Exception writeFailure) when (writeFailure is IOException or OperationCanceledException or InvalidOperationException)
        {
            // Kestrel may already be closing the connection; it then answers (or closes) on its own.
        }
    }

    private Task TooLargeAsync(HttpContext context) =>
        OpenAiError.WriteAsync(context, 413, $"The request body is larger than the limit of {_maxBody} bytes (KeyPool:Limits:MaxRequestBodyBytes).", OpenAiError.InvalidRequest, "request_too_large");
}
