using System.Text.Json;
using KeyPool.Core.Usage;

namespace KeyPool.Proxy;

/// <summary>Reads the upstream's <c>usage</c> object from a completion or a stream chunk without deserialising the rest.</summary>
internal static class UsageReader
{
    /// <summary>Token counts of <paramref name="json"/>'s top-level <c>usage</c>; false when absent or null.</summary>
    public static bool TryRead(ReadOnlySpan<byte> json, out TokenCounts counts, out bool emptyChoices)
    {
        counts = default;
        emptyChoices = false;
        var found = false;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        counts = ReadUsage(ref reader);
                        found = true;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("choices"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        var depth = reader.CurrentDepth;
                        reader.Read();
                        emptyChoices = reader.TokenType == JsonTokenType.EndArray;
                        while (!(reader.TokenType == JsonTokenType.EndArray && reader.CurrentDepth == depth))
                        {
                            reader.Skip();
                            reader.Read();
                        }
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return false; // a malformed upstream body is passed through, just not counted
        }
        return found;
    }

    private static TokenCounts ReadUsage(ref Utf8JsonReader reader)
    {
        long prompt = 0, completion = 0, total = -1, reasoning = 0, cached = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("prompt_tokens"u8)) { prompt = ReadLong(ref reader); }
            else if (reader.ValueTextEquals("completion_tokens"u8)) { completion = ReadLong(ref reader); }
            else if (reader.ValueTextEquals("total_tokens"u8)) { total = ReadLong(ref reader); }
            else if (reader.ValueTextEquals("prompt_tokens_details"u8)) { cached = ReadNested(ref reader, "cached_tokens"u8); }
            else if (reader.ValueTextEquals("completion_tokens_details"u8)) { reasoning = ReadNested(ref reader, "reasoning_tokens"u8); }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        // xAI counts reasoning on top of completion; total_tokens is the count of record when given.
        return new TokenCounts(prompt, completion, reasoning, cached, total >= 0 ? total : prompt + completion + reasoning);
    }

    private static long ReadLong(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) ? value : 0;
    }

    private static long ReadNested(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return 0;
        }
        long value = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(name))
            {
                value = ReadLong(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return value;
    }
}

/// <summary>Token counts from one <c>usage</c> object.</summary>
internal readonly record struct TokenCounts(long Prompt, long Completion, long Reasoning, long Cached, long Total)
{
    public UsageSample ToSample(int group, int status) => new(group, status, Prompt, Completion, Reasoning, Cached, Total);
}
