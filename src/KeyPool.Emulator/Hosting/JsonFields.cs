using System.Text.Json;

namespace KeyPool.Emulator.Hosting;

/// <summary>Typed reads of optional top-level fields; null JSON values count as absent, as serde's Option does.</summary>
internal static class JsonFields
{
    public static RequestError? String(JsonElement obj, string name, bool required, out string? value)
    {
        value = null;
        if (!obj.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            return required ? RequestError.Missing(name) : null;
        }
        if (e.ValueKind != JsonValueKind.String)
        {
            return RequestError.WrongType(name, "a string");
        }
        value = e.GetString();
        return null;
    }

    public static RequestError? Bool(JsonElement obj, string name, out bool value)
    {
        value = false;
        if (!obj.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (e.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            return RequestError.WrongType(name, "a boolean");
        }
        value = e.GetBoolean();
        return null;
    }

    /// <summary>An optional token count: must be a positive integer when present.</summary>
    public static RequestError? PositiveInt(JsonElement obj, string name, out int? value)
    {
        value = null;
        if (!obj.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out var n))
        {
            return RequestError.WrongType(name, "an integer");
        }
        if (n < 1)
        {
            return RequestError.Invalid($"{name} must be a positive integer, got {n}.");
        }
        value = n;
        return null;
    }

    /// <summary>Text of a message "content": a string, or the "text" of each part in an array.</summary>
    public static bool TryReadContent(JsonElement content, out string text)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                text = content.GetString() ?? "";
                return true;
            case JsonValueKind.Null:
            case JsonValueKind.Undefined:
                text = "";
                return true;
            case JsonValueKind.Array:
                var parts = new List<string>();
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind == JsonValueKind.String)
                    {
                        parts.Add(part.GetString() ?? "");
                    }
                    else if (part.ValueKind == JsonValueKind.Object)
                    {
                        if (part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                        {
                            parts.Add(t.GetString() ?? "");
                        }
                    }
                    else
                    {
                        text = "";
                        return false;
                    }
                }
                text = string.Concat(parts);
                return true;
            default:
                text = "";
                return false;
        }
    }
}
