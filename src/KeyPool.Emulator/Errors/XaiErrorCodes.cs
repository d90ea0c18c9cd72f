namespace KeyPool.Emulator.Errors;

/// <summary>
/// The "code" strings of xAI's error body: gRPC status descriptions as its Rust stack prints them,
/// not OpenAI's snake_case codes.
/// </summary>
internal static class XaiErrorCodes
{
    public const string InvalidArgument = "Client specified an invalid argument";
    public const string Unauthenticated = "The request does not have valid authentication credentials";
    public const string PermissionDenied = "The caller does not have permission to execute the specified operation";
    public const string NotFound = "Some requested entity was not found";
    public const string ResourceExhausted = "Some resource has been exhausted";
    public const string Internal = "Internal error";
    public const string Unavailable = "The service is currently unavailable";
    public const string DeadlineExceeded = "Deadline expired before operation could complete";

    public static string ForStatus(int status) => status switch
    {
        401 => Unauthenticated,
        403 => PermissionDenied,
        404 => NotFound,
        429 => ResourceExhausted,
        503 => Unavailable,
        504 => DeadlineExceeded,
        >= 500 => Internal,
        _ => InvalidArgument,
    };
}
