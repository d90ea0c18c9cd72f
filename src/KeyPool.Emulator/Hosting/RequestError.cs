namespace KeyPool.Emulator.Hosting;

/// <summary>Why a body was refused; 422 for shape problems (as xAI's deserializer), 400 for bad values.</summary>
internal sealed record RequestError(int Status, string Message)
{
    private const string Prefix = "Failed to deserialize the JSON body into the target type: ";

    public static RequestError NotAnObject() => new(422, Prefix + "invalid type: expected a JSON object");

    public static RequestError Missing(string field) => new(422, Prefix + $"missing field `{field}`");

    public static RequestError WrongType(string field, string expected) => new(422, Prefix + $"{field}: invalid type, expected {expected}");

    public static RequestError Invalid(string message) => new(400, message);
}
