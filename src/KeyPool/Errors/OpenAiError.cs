using System.Text.Json;

namespace KeyPool.Errors;

/// <summary>Writes errors in OpenAI's shape: <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal static class OpenAiError
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Authentication = "authentication_error";
    public const string Permission = "permission_error";
    public const string RateLimit = "rate_limit_error";
    public const string Upstream = "upstream_error";
    public const string Server = "server_error";

    public static Task WriteAsync(HttpContext context, int status, string message, string type, string code, string? param = null)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        return response.Body.WriteAsync(Serialize(message, type, code, param), context.RequestAborted).AsTask();
    }

    public static byte[] Serialize(string message, string type, string code, string? param = null)
    {
        using var buffer = new MemoryStream(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, message, type, code, param);
        }
        return buffer.ToArray();
    }

    public static void Write(Utf8JsonWriter writer, string message, string type, string code, string? param)
    {
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", message);
        writer.WriteString("type", type);
        if (param is null)
        {
            writer.WriteNull("param");
        }
        else
        {
            writer.WriteString("param", param);
        }
        writer.WriteString("code", code);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>The OpenAI error type for an HTTP status.</summary>
    public static string TypeFor(int status) => status switch
    {
        401 => Authentication,
        403 => Permission,
        429 => RateLimit,
        >= 500 => Upstream,
        _ => InvalidRequest,
    };
}

/// <summary>An OpenAI-shaped error as a minimal-API result.</summary>
internal sealed class OpenAiErrorResult(int status, string message, string type, string code, string? param = null) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext) => OpenAiError.WriteAsync(httpContext, status, message, type, code, param);
}
