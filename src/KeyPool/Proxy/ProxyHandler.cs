using System.Buffers;
using System.Net.Http.Headers;
using KeyPool.Auth;
using KeyPool.Configuration;
using KeyPool.Core.Keys;
using KeyPool.Core.Routing;
using KeyPool.Core.Usage;
using KeyPool.Errors;
using KeyPool.Hosting;
using KeyPool.Keys;
using KeyPool.Users;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace KeyPool.Proxy;

/// <summary>
/// <c>/v1/*</c>: authenticate the caller, find the end user's key group, forward with that group's
/// key, pass the answer back (streams event by event) and count usage in memory.
/// </summary>
internal sealed class ProxyHandler(
    CallerAuthenticator auth,
    KeyRingProvider keys,
    UserResolver users,
    KeyRouter router,
    InFlightTracker inFlight,
    UsageRecorder usage,
    UpstreamClient upstream,
    IOptions<LimitsOptions> limits,
    IOptionsMonitor<Dictionary<string, TierOptions>> tiers,
    ILogger<ProxyHandler> logger)
{
    private const string ConversationHeader = "x-grok-conv-id";
    private const int MaxErrorBody = 1024 * 1024;

    private readonly long _maxBody = limits.Value.MaxRequestBodyBytes;

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        if (!auth.IsClient(request))
        {
            await OpenAiError.WriteAsync(context, 401, "Invalid or missing client token: send Authorization: Bearer <client token>.", OpenAiError.Authentication, "invalid_api_key");
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
            await ForwardAsync(context, body.AsMemory());
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private async Task ForwardAsync(HttpContext context, ReadOnlyMemory<byte> body)
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

        var userId = request.Headers[HeaderCopier.UserHeader].ToString() is { Length: > 0 } header ? header : chat.User;
        string tier;
        RouteDecision? decision;
        if (HttpMethods.IsGet(request.Method) && string.IsNullOrEmpty(userId))
        {
            // Listing models and similar reads belong to no end user: any key may answer.
            tier = "-";
            decision = router.LeastLoaded(ring) is { } any ? new RouteDecision(any, RouteReason.Sticky) : null;
        }
        else
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
            decision = router.Route(ring, user.ApiKeyGroup);
            if (decision is { Reason: RouteReason.MissingKeyFallback } fallback)
            {
                Log.MissingKeyFallback(logger, user.ApiKeyGroup, fallback.Key.Group, router.Fallback.ToString());
            }
        }
        if (decision is not { } route)
        {
            await OpenAiError.WriteAsync(context, 503, "No upstream API key is available.", OpenAiError.Server, "no_keys");
            return;
        }

        var pinnedModel = tiers.CurrentValue.TryGetValue(tier, out var tierOptions) ? tierOptions.Model : null;
        var addIncludeUsage = chat.Stream && !chat.IncludeUsage;
        var upstreamBody = body.IsEmpty ? body : RequestBodyRewriter.Rewrite(body, chat, pinnedModel, addIncludeUsage);
        Log.UsingModel(logger, pinnedModel ?? chat.Model ?? "-", tier, route.Key.Group);

        using var lease = inFlight.Start(route.Key.Group);
        using var upstreamRequest = BuildUpstreamRequest(request, upstreamBody, route.Key, userId);
        await SendAsync(context, upstreamRequest, route.Key, ring, addIncludeUsage);
    }

    private HttpRequestMessage BuildUpstreamRequest(HttpRequest request, ReadOnlyMemory<byte> body, UpstreamKey key, string? userId)
    {
        var path = request.Path.Value.AsSpan();
        var rest = path.StartsWith("/v1", StringComparison.Ordinal) ? path[3..] : path;
        var target = string.Concat(upstream.BaseUrl, rest, request.QueryString.Value);
        var message = new HttpRequestMessage(new HttpMethod(request.Method), target);
        if (!body.IsEmpty)
        {
            message.Content = new ReadOnlyMemoryContent(body);
            message.Content.Headers.ContentType = MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
                ? contentType
                : new MediaTypeHeaderValue("application/json");
        }
        HeaderCopier.ToUpstream(request.Headers, message);
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key.Secret);
        if (userId is not null && !message.Headers.Contains(ConversationHeader))
        {
            // One stable id per user keeps their calls on the same upstream cache server.
            message.Headers.TryAddWithoutValidation(ConversationHeader, ConversationId.For(userId));
        }
        return message;
    }

    private async Task SendAsync(HttpContext context, HttpRequestMessage upstreamRequest, UpstreamKey key, KeyRing ring, bool stripUsageChunk)
    {
        var clientAborted = context.RequestAborted;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(clientAborted);
        timeout.CancelAfter(upstream.Timeout);
        var status = 0;
        TokenCounts? counts = null;
        HttpResponseMessage? response = null;
        try
        {
            try
            {
                response = await upstream.Invoker.SendAsync(upstreamRequest, timeout.Token);
            }
            catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
            {
                return;
            }
            catch (OperationCanceledException)
            {
                status = 504;
                Log.UpstreamTimeout(logger, key.Group, upstream.Timeout);
                await OpenAiError.WriteAsync(context, 504, $"The upstream did not answer within {upstream.Timeout}.", OpenAiError.Upstream, "upstream_timeout");
                return;
            }
            catch (HttpRequestException exception)
            {
                status = 502;
                Log.UpstreamUnreachable(logger, key.Group, exception.Message);
                await OpenAiError.WriteAsync(context, 502, "The upstream could not be reached.", OpenAiError.Upstream, "upstream_unreachable");
                return;
            }

            status = (int)response.StatusCode;
            if (status >= 400)
            {
                await RelayErrorAsync(context, response, key, ring, timeout.Token);
                return;
            }

            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase))
            {
                counts = await RelayStreamAsync(context, response, key, stripUsageChunk, timeout.Token);
            }
            else if (string.Equals(mediaType, "application/json", StringComparison.OrdinalIgnoreCase))
            {
                counts = await RelayJsonAsync(context, response, timeout.Token);
            }
            else
            {
                context.Response.StatusCode = status;
                HeaderCopier.ToClient(response, context.Response, keepContentLength: true);
                await response.Content.CopyToAsync(context.Response.Body, timeout.Token);
            }
        }
        catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
        {
            // The client left; usage seen so far is still counted below.
        }
        finally
        {
            response?.Dispose();
            usage.Record(counts is { } c ? c.ToSample(key.Group, status) : new UsageSample(key.Group, status));
        }
    }

    private async Task RelayErrorAsync(HttpContext context, HttpResponseMessage response, UpstreamKey key, KeyRing ring, CancellationToken cancellationToken)
    {
        var body = await ReadBoundedAsync(response.Content, MaxErrorBody, cancellationToken);
        var translated = UpstreamErrorTranslator.Translate((int)response.StatusCode, body, ring, key.Group);
        if (translated.KeyRejected)
        {
            Log.KeyRejected(logger, key.Group, (int)response.StatusCode, translated.Message);
        }
        var retryAfter = response.Headers.RetryAfter?.Delta;
        if (retryAfter is { } delay)
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(delay.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        context.Response.StatusCode = translated.Status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = translated.Body.Length;
        await context.Response.Body.WriteAsync(translated.Body, cancellationToken);
    }

    private static async Task<TokenCounts?> RelayJsonAsync(HttpContext context, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        context.Response.StatusCode = (int)response.StatusCode;
        HeaderCopier.ToClient(response, context.Response, keepContentLength: false);
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, cancellationToken);
        return UsageReader.TryRead(body, out var counts, out _) ? counts : null;
    }

    private async Task<TokenCounts?> RelayStreamAsync(HttpContext context, HttpResponseMessage response, UpstreamKey key, bool stripUsageChunk, CancellationToken cancellationToken)
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
            Log.StreamFailed(logger, key.Group, exception.GetType().Name);
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
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(length ?? 16 * 1024, _maxBody) + 1);
        var total = 0;
        while (true)
        {
            if (total == buffer.Length)
            {
                if (total > _maxBody)
                {
                    return (new ArraySegment<byte>(buffer, 0, 0), true);
                }
                var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, _maxBody + 1));
                buffer.AsSpan(0, total).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = bigger;
            }
            var read = await request.Body.ReadAsync(buffer.AsMemory(total), cancellationToken);
            if (read == 0)
            {
                break;
            }
            total += read;
            if (total > _maxBody)
            {
                return (new ArraySegment<byte>(buffer, 0, 0), true);
            }
        }
        return (new ArraySegment<byte>(buffer, 0, total), false);
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpContent content, int max, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while (buffer.Length < max && (read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private Task TooLargeAsync(HttpContext context) =>
        OpenAiError.WriteAsync(context, 413, $"The request body is larger than the limit of {_maxBody} bytes (KeyPool:Limits:MaxRequestBodyBytes).", OpenAiError.InvalidRequest, "request_too_large");
}
