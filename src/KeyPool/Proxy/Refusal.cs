using System.Globalization;
using KeyPool.Errors;

namespace KeyPool.Proxy;

/// <summary>
/// Why a stage of the request path (or a door outside it: the admin API, <c>/metrics</c>) will not go on, as the client
/// will see it. Stages return one instead of writing an answer; <see cref="WriteAsync"/> (<see cref="ExecuteAsync"/>
/// outside <c>/v1</c>) is the one writer. Refusals that never vary are static, so refusing allocates nothing more than
/// building the answer.
/// </summary>
/// <param name="Status">The HTTP status.</param>
/// <param name="Type">The OpenAI error type.</param>
/// <param name="Code">The error code, also the request's recorded error code.</param>
/// <param name="Message">What the client is told (free of secrets).</param>
/// <param name="Param">The request field at fault, if one is.</param>
/// <param name="RetryAfterSeconds">Sent as <c>Retry-After</c> when set.</param>
/// <param name="CloseConnection">Sent with <c>Connection: close</c>: the client must not send on this connection.</param>
internal sealed record Refusal(int Status, string Type, string Code, string Message, string? Param = null, int? RetryAfterSeconds = null, bool CloseConnection = false) : IResult
{
    public static Refusal InvalidRequest(int status, string code, string message, string? param = null) =>
        new(status, OpenAiError.InvalidRequest, code, message, param);

    public static Refusal Unavailable(string code, string message, int retryAfterSeconds) =>
        new(503, OpenAiError.Server, code, message, RetryAfterSeconds: retryAfterSeconds);

    /// <summary>Writes <paramref name="refusal"/> in OpenAI's shape and records it on the exchange (the request log reads it there).</summary>
    public static Task WriteAsync(ProxyExchange exchange, Refusal refusal)
    {
        exchange.Refusal = refusal;
        return refusal.ExecuteAsync(exchange.Context);
    }

    /// <summary>Writes this refusal in OpenAI's shape, with its headers.</summary>
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        if (response.HasStarted)
        {
            return; // the client has its answer's head already (a stream ended by an error event)
        }
        if (RetryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }
        if (CloseConnection)
        {
            response.Headers.Connection = "close";
        }
        try
        {
            await OpenAiError.WriteAsync(httpContext, Status, Message, Type, Code, Param);
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The client left, or Kestrel is closing the connection (a body it judged bad): it answers or closes on its own.
        }
    }
}
