using System.Globalization;
using KeyPool.Errors;

namespace KeyPool.Proxy;

/// <summary>
/// Why a stage of the request path will not go on, as the client will see it. Stages return one instead of writing an
/// answer; <see cref="WriteAsync"/> is the one writer. Refusals that never vary are static, so refusing allocates
/// nothing more than building the answer.
/// </summary>
/// <param name="Status">The HTTP status.</param>
/// <param name="Type">The OpenAI error type.</param>
/// <param name="Code">The error code, also the request's recorded error code.</param>
/// <param name="Message">What the client is told (free of secrets).</param>
/// <param name="Param">The request field at fault, if one is.</param>
/// <param name="RetryAfterSeconds">Sent as <c>Retry-After</c> when set.</param>
/// <param name="CloseConnection">Sent with <c>Connection: close</c>: the client must not send on this connection.</param>
internal sealed record Refusal(int Status, string Type, string Code, string Message, string? Param = null, int? RetryAfterSeconds = null, bool CloseConnection = false)
{
    /// <summary>The stage answered already (a part outside the request path writes its own answer): nothing more is written.</summary>
    public static readonly Refusal Answered = new(0, "", "", "");

    public static Refusal InvalidRequest(int status, string code, string message, string? param = null) =>
        new(status, OpenAiError.InvalidRequest, code, message, param);

    public static Refusal Unavailable(string code, string message, int retryAfterSeconds) =>
        new(503, OpenAiError.Server, code, message, RetryAfterSeconds: retryAfterSeconds);

    /// <summary>Writes <paramref name="refusal"/> in OpenAI's shape and records its status and code on the exchange.</summary>
    public static async Task WriteAsync(ProxyExchange exchange, Refusal refusal)
    {
        exchange.Refusal = refusal;
        if (ReferenceEquals(refusal, Answered))
        {
            return;
        }
        var context = exchange.Context;
        exchange.Status = refusal.Status;
        exchange.ErrorCode = refusal.Code;
        if (context.Response.HasStarted)
        {
            return; // the client has its answer's head already (a stream ended by an error event)
        }
        if (refusal.RetryAfterSeconds is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }
        if (refusal.CloseConnection)
        {
            context.Response.Headers.Connection = "close";
        }
        try
        {
            await OpenAiError.WriteAsync(context, refusal.Status, refusal.Message, refusal.Type, refusal.Code, refusal.Param);
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The client left, or Kestrel is closing the connection (a body it judged bad): it answers or closes on its own.
        }
    }
}
