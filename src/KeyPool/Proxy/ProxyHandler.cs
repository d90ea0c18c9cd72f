using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using KeyPool.Auth;
using KeyPool.Capacity;
using KeyPool.Configuration;
using KeyPool.Core.Budgets;
using KeyPool.Core.Routing;
using KeyPool.Core.Usage;
using KeyPool.Errors;
using KeyPool.Hosting;
using KeyPool.Keys;
using KeyPool.Metrics;
using KeyPool.Users;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace KeyPool.Proxy;

/// <summary>
/// <c>/v1/*</c>: authenticate the caller, find the end user's key group, admit the request to a key
/// with budget (the user's own while it can), forward it, pass the answer back (streams event by
/// event), settle the budget and count usage in memory. A failure before any byte reached the
/// client is retried on another key.
/// </summary>
internal sealed class ProxyHandler(
    CallerAuthenticator auth,
    KeyRingProvider keys,
    UserResolver users,
    KeyPoolRouter router,
    UsageRecorder usage,
    UpstreamClient upstream,
    IOptions<LimitsOptions> limits,
    IOptions<BudgetOptions> budgets,
    IOptions<RoutingOptions> routing,
    IOptionsMonitor<Dictionary<string, TierOptions>> tiers,
    GatewayMetrics metrics,
    TimeProvider time,
    ILogger<ProxyHandler> logger)
{
    private const string ConversationHeader = "x-grok-conv-id";
    private const int MaxErrorBody = 1024 * 1024;

    private readonly long _maxBody = limits.Value.MaxRequestBodyBytes;
    private readonly BudgetOptions _budgets = budgets.Value;
    private readonly int _maxAttempts = Math.Max(1, routing.Value.MaxAttempts);

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var caller = await auth.AuthenticateClientAsync(request, context.RequestAborted);
        if (caller is null)
        {
            await OpenAiError.WriteAsync(context, 401, "Invalid or missing credentials: send Authorization: Bearer <client token, gateway key or JWT>.", OpenAiError.Authentication, "invalid_api_key");
            return;
        }
        if (request.ContentLength > _maxBody)
        {
            await TooLargeAsync(context);
            return;
        }

        byte[]? rented = null;
        try
        {
            var (body, tooLarge) = await ReadBodyAsync(context, context.RequestAborted);
            rented = body.Array;
            if (tooLarge)
            {
                await TooLargeAsync(context);
                return;
            }
            await ForwardAsync(context, body.AsMemory(), caller);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private async Task ForwardAsync(HttpContext context, ReadOnlyMemory<byte> body, Caller caller)
    {
        var request = context.Request;
        ChatRequest chat = default;
        if (!body.IsEmpty)
        {
            if (ChatRequest.Read(body.Span, out var error) is not { } parsed)
            {
                await OpenAiError.WriteAsync(context, 400, error!, OpenAiError.InvalidRequest, "invalid_json");
                return;
            }
            chat = parsed;
        }

        var ring = keys.Current;
        if (ring.Count == 0)
        {
            await OpenAiError.WriteAsync(context, 503, "No upstream API key is configured.", OpenAiError.Server, "no_keys");
            return;
        }

        var userId = caller.UserId
            ?? (request.Headers[HeaderCopier.UserHeader].ToString() is { Length: > 0 } header ? header : chat.User);
        var tier = "-";
        var userGroup = 0; // no user: any key may answer (model lists and similar reads)
        if (!(HttpMethods.IsGet(request.Method) && string.IsNullOrEmpty(userId)))
        {
            if (UserResolver.Validate(userId) is { } invalid)
            {
                await OpenAiError.WriteAsync(context, 400, invalid, OpenAiError.InvalidRequest, "missing_user", "user");
                return;
            }
            var user = await users.ResolveAsync(userId!, ring, context.RequestAborted);
            if (user is null)
            {
                await OpenAiError.WriteAsync(context, 403, $"User '{userId}' is not registered and automatic registration is off: register the user through POST /api/admin/users first.", OpenAiError.Permission, "user_not_registered");
                return;
            }
            tier = user.Tier;
            userGroup = user.ApiKeyGroup;
        }

        var pinnedModel = tiers.CurrentValue.TryGetValue(tier, out var tierOptions) ? tierOptions.Model : null;
        var model = pinnedModel ?? chat.Model;
        var addIncludeUsage = chat.Stream && !chat.IncludeUsage;
        var upstreamBody = body.IsEmpty ? body : RequestBodyRewriter.Rewrite(body, chat, pinnedModel, addIncludeUsage);
        var modelId = router.Pool.ModelId(model);
        var tokens = TokenEstimate.Reserve(body.Length, chat.MaxTokens, _budgets);

        // One deadline for the whole exchange, retries included; the source is pooled (one per request adds up).
        using var deadline = DeadlineSource.Rent(upstream.Timeout, context.RequestAborted);
        var exchange = new Exchange(context, upstreamBody, userId, addIncludeUsage, deadline.Token);
        Failure? failure = null;
        var exclude = 0;
        for (var attempt = 1; attempt <= _maxAttempts; attempt++)
        {
            Admission? admitted;
            try
            {
                admitted = await router.AdmitAsync(userGroup, modelId, tokens, exclude, userId, context.RequestAborted);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                return;
            }
            if (admitted is not { } admission)
            {
                break;
            }
            if (admission.Reason == RouteReason.MissingKeyFallback)
            {
                Log.MissingKeyFallback(logger, userGroup, admission.Member.Group, router.Policy.Name);
            }
            else if (admission.Reason == RouteReason.Spill)
            {
                Log.Spilled(logger, userGroup, admission.Member.Group);
            }
            Log.UsingModel(logger, model ?? "-", tier, admission.Member.Group);
            failure = await AttemptAsync(exchange, admission, modelId, canRetry: attempt < _maxAttempts);
            if (failure is null)
            {
                return;
            }
            exclude = admission.Member.Group;
        }

        if (failure is { } last)
        {
            await WriteFailureAsync(context, last);
            return;
        }
        var retryAfter = router.RetryAfterSeconds(modelId, userId);
        context.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        await OpenAiError.WriteAsync(context, 429, $"Every upstream key is at its rate limit. Retry after {retryAfter} s.", OpenAiError.RateLimit, "rate_limit_exceeded");
    }

    /// <summary>One try on one key. Null when the exchange is finished (well or not); a failure when another key may try.</summary>
    private async Task<Failure?> AttemptAsync(Exchange exchange, Admission admission, int modelId, bool canRetry)
    {
        var context = exchange.Context;
        var member = admission.Member;
        var key = member.Key;
        var status = 0;
        TokenCounts? counts = null;
        var settled = admission.ReservedTokens; // kept when the cost is unknown (client left mid-stream)
        HttpResponseMessage? response = null;
        var started = time.GetTimestamp();
        TimeSpan? firstByte = null;
        using var upstreamRequest = BuildUpstreamRequest(context.Request, exchange.Body, key.Secret, exchange.UserId);
        try
        {
            try
            {
                response = await upstream.Invoker.SendAsync(upstreamRequest, exchange.Cancellation);
                firstByte = time.GetElapsedTime(started);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                member.Health.Abandon();
                return null;
            }
            catch (OperationCanceledException)
            {
                status = 504;
                settled = 0;
                member.Health.RecordFailure();
                Log.UpstreamTimeout(logger, key.Group, upstream.Timeout);
                await OpenAiError.WriteAsync(context, 504, $"The upstream did not answer within {upstream.Timeout}.", OpenAiError.Upstream, "upstream_timeout");
                return null;
            }
            catch (HttpRequestException exception)
            {
                status = 502;
                settled = 0;
                if (member.Health.RecordFailure())
                {
                    Log.CircuitOpened(logger, key.Group);
                }
                Log.UpstreamUnreachable(logger, key.Group, exception.Message);
                return await FailAsync(context, canRetry, new Failure(502, OpenAiError.Serialize("The upstream could not be reached.", OpenAiError.Upstream, "upstream_unreachable"), null));
            }

            status = (int)response.StatusCode;
            var limits = RateLimitHeaders.From(response.Headers);
            admission.Window.Observe(router.Second, limits.RemainingRequests, limits.RemainingTokens);
            BurstLog.TightenOnRefusal(logger, admission, status, router.Second, limits.RemainingRequests, limits.RemainingTokens);
            if (status >= 400)
            {
                settled = 0; // refused: the upstream spent no tokens on it
                return await FailAsync(context, canRetry, await ClassifyAsync(response, member, limits));
            }

            member.Health.RecordSuccess();
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase))
            {
                counts = await RelayStreamAsync(context, response, member, exchange.StripUsageChunk, exchange.Cancellation);
            }
            else if (string.Equals(mediaType, "application/json", StringComparison.OrdinalIgnoreCase))
            {
                counts = await RelayJsonAsync(context, response, exchange.Cancellation);
            }
            else
            {
                context.Response.StatusCode = status;
                HeaderCopier.ToClient(response, context.Response, keepContentLength: true);
                await response.Content.CopyToAsync(context.Response.Body, exchange.Cancellation);
            }
            if (counts is { } actual)
            {
                settled = actual.Total;
            }
            return null;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return null; // the client left; what was seen is still counted below
        }
        finally
        {
            response?.Dispose();
            metrics.Latency.ObserveUpstream(key.Group, firstByte, time.GetElapsedTime(started));
            admission.Settle(settled);
            usage.Record(counts is { } c ? c.ToSample(key.Group, status) : new UsageSample(key.Group, status));
        }
    }

    /// <summary>Decides what an upstream error means for the key, and whether another key may help.</summary>
    private async Task<Failure> ClassifyAsync(HttpResponseMessage response, PoolMember member, RateLimitHeaders limits)
    {
        var status = (int)response.StatusCode;
        var body = await ReadBoundedAsync(response.Content, MaxErrorBody);
        var translated = UpstreamErrorTranslator.Translate(status, body, keys.Current, member.Group);
        string? retryAfter = null;
        if (translated.KeyRejected || translated.CreditsExhausted)
        {
            var reason = translated.CreditsExhausted ? "credits exhausted or spending limit reached" : $"rejected by the upstream ({status})";
            if (member.Health.Revoke(reason))
            {
                Log.KeyRejected(logger, member.Group, status, translated.Message);
            }
            return new Failure(translated.Status, translated.Body, null, Retryable: true);
        }
        if (status == 429)
        {
            var wait = member.Health.CoolDown(limits.ResetAfter);
            Log.CoolingDown(logger, member.Group, wait);
            retryAfter = ((int)Math.Ceiling(Math.Max(1, wait.TotalSeconds))).ToString(CultureInfo.InvariantCulture);
            return new Failure(429, translated.Body, retryAfter, Retryable: true);
        }
        if (status >= 500)
        {
            if (member.Health.RecordFailure())
            {
                Log.CircuitOpened(logger, member.Group);
            }
            return new Failure(status, translated.Body, null, Retryable: true);
        }
        member.Health.RecordSuccess(); // the request was wrong, not the key
        return new Failure(translated.Status, translated.Body, null, Retryable: false);
    }

    private static async Task<Failure?> FailAsync(HttpContext context, bool canRetry, Failure failure)
    {
        if (canRetry && failure.Retryable)
        {
            return failure;
        }
        await WriteFailureAsync(context, failure);
        return null;
    }

    private static async Task WriteFailureAsync(HttpContext context, Failure failure)
    {
        if (failure.RetryAfter is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter;
        }
        context.Response.StatusCode = failure.Status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = failure.Body.Length;
        await context.Response.Body.WriteAsync(failure.Body, context.RequestAborted);
    }

    private HttpRequestMessage BuildUpstreamRequest(HttpRequest request, ReadOnlyMemory<byte> body, string secret, string? userId)
    {
        var path = request.Path.Value.AsSpan();
        var rest = path.StartsWith("/v1", StringComparison.Ordinal) ? path[3..] : path;
        var target = string.Concat(upstream.BaseUrl, rest, request.QueryString.Value);
        // HttpMethod.Parse returns the shared instances for the common methods.
        var message = new HttpRequestMessage(HttpMethod.Parse(request.Method), target);
        if (!body.IsEmpty)
        {
            message.Content = new ReadOnlyMemoryContent(body);
            message.Content.Headers.TryAddWithoutValidation("Content-Type", request.ContentType is { Length: > 0 } contentType ? contentType : "application/json");
        }
        HeaderCopier.ToUpstream(request.Headers, message);
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        if (userId is not null && !message.Headers.Contains(ConversationHeader))
        {
            // One stable id per user keeps their calls on the same upstream cache server.
            message.Headers.TryAddWithoutValidation(ConversationHeader, ConversationId.For(userId));
        }
        return message;
    }

    private static async Task<TokenCounts?> RelayJsonAsync(HttpContext context, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        // Buffered (answers are small, and usage is read from the whole body) in a pooled array.
        var expected = response.Content.Headers.ContentLength is { } length and > 0 and < int.MaxValue ? (int)length : 16 * 1024;
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var (buffer, total, _) = await PooledRead.ReadAsync(stream, expected, Array.MaxLength - 1, cancellationToken);
        try
        {
            context.Response.StatusCode = (int)response.StatusCode;
            HeaderCopier.ToClient(response, context.Response, keepContentLength: false);
            context.Response.ContentLength = total;
            await context.Response.Body.WriteAsync(buffer.AsMemory(0, total), cancellationToken);
            return UsageReader.TryRead(buffer.AsSpan(0, total), out var counts, out _) ? counts : null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<TokenCounts?> RelayStreamAsync(HttpContext context, HttpResponseMessage response, PoolMember member, bool stripUsageChunk, CancellationToken cancellationToken)
    {
        context.Response.StatusCode = (int)response.StatusCode;
        HeaderCopier.ToClient(response, context.Response, keepContentLength: false);
        // Tell buffering intermediaries (nginx) to pass events on at once.
        context.Response.Headers["X-Accel-Buffering"] = "no";
        var state = new SseRelay.State();
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            await SseRelay.RelayAsync(stream, context.Response.BodyWriter, stripUsageChunk, state, cancellationToken);
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException or InvalidDataException
            || (exception is OperationCanceledException && !context.RequestAborted.IsCancellationRequested))
        {
            // Never retried: the client has bytes of this answer already.
            member.Health.RecordFailure();
            Log.StreamFailed(logger, member.Group, exception.GetType().Name);
            if (!context.RequestAborted.IsCancellationRequested)
            {
                // Headers are out: the only way left to tell an OpenAI SDK client is an error event.
                var error = OpenAiError.Serialize("The upstream stream failed before it completed.", OpenAiError.Upstream, "upstream_stream_failed");
                var writer = context.Response.BodyWriter;
                writer.Write("data: "u8);
                writer.Write(error);
                writer.Write("\n\n"u8);
                await writer.FlushAsync(CancellationToken.None);
            }
        }
        return state.Usage;
    }

    private async Task<(ArraySegment<byte> Body, bool TooLarge)> ReadBodyAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var request = context.Request;
        var length = request.ContentLength;
        if (length == 0 || context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
        {
            return (default, false);
        }
        var (buffer, total, tooLarge) = await PooledRead.ReadAsync(request.Body, length ?? 16 * 1024, _maxBody, cancellationToken);
        return (new ArraySegment<byte>(buffer, 0, tooLarge ? 0 : total), tooLarge);
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpContent content, int max)
    {
        // Error bodies are small; a bounded read keeps a misbehaving upstream from holding memory.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var stream = await content.ReadAsStreamAsync(timeout.Token);
        var (buffer, total, _) = await PooledRead.ReadAsync(stream, 8192, max, timeout.Token);
        try
        {
            return buffer.AsSpan(0, Math.Min(total, max)).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private Task TooLargeAsync(HttpContext context) =>
        OpenAiError.WriteAsync(context, 413, $"The request body is larger than the limit of {_maxBody} bytes (KeyPool:Limits:MaxRequestBodyBytes).", OpenAiError.InvalidRequest, "request_too_large");

    /// <summary>What every attempt of one request shares.</summary>
    private sealed record Exchange(HttpContext Context, ReadOnlyMemory<byte> Body, string? UserId, bool StripUsageChunk, CancellationToken Cancellation);

    /// <summary>An error answer not yet written, kept while another key may still succeed.</summary>
    private sealed record Failure(int Status, byte[] Body, string? RetryAfter, bool Retryable = true);
}
