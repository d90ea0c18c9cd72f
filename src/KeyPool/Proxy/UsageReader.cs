using System.Text.Json;
using KeyPool.Core.Money;
using KeyPool.Core.Usage;

namespace KeyPool.Proxy;

/// <summary>
/// Reads the upstream's <c>usage</c> object without deserialising the rest: from a chat completion or chunk, from a
/// Responses answer, and from a Responses stream event, whose <c>response</c> carries it. Both shapes are read:
/// chat's prompt/completion tokens and Responses' input/output tokens, with cached, reasoning and cost.
/// </summary>
internal static class UsageReader
{
    /// <summary>Token counts of <paramref name="json"/>'s top-level <c>usage</c> (or its <c>response.usage</c>); false when absent or null.</summary>
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
                else if (reader.ValueTextEquals("response"u8))
                {
                    // A Responses stream event: response.completed (failed, incomplete) carries the whole answer.
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        reader.Skip();
                    }
                    else if (ReadResponseUsage(ref reader) is { } nested)
                    {
                        counts = nested;
                        found = true;
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

    /// <summary>The <c>usage</c> inside a response object (reader on its StartObject, left on its EndObject); null when it has none.</summary>
    private static TokenCounts? ReadResponseUsage(ref Utf8JsonReader reader)
    {
        TokenCounts? counts = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isUsage = reader.ValueTextEquals("usage"u8);
            reader.Read();
            if (isUsage && reader.TokenType == JsonTokenType.StartObject)
            {
                counts = ReadUsage(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }
        return counts;
    }

    private static TokenCounts ReadUsage(ref Utf8JsonReader reader)
    {
        long prompt = 0, completion = 0, total = -1, reasoning = 0, cached = 0, cost = -1;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("prompt_tokens"u8) || reader.ValueTextEquals("input_tokens"u8)) { prompt = ReadLong(ref reader); }
            else if (reader.ValueTextEquals("completion_tokens"u8) || reader.ValueTextEquals("output_tokens"u8)) { completion = ReadLong(ref reader); }
            else if (reader.ValueTextEquals("total_tokens"u8)) { total = ReadLong(ref reader); }
            else if (reader.ValueTextEquals("cost_in_usd_ticks"u8)) { cost = ReadLong(ref reader, missing: -1); }
            else if (reader.ValueTextEquals("prompt_tokens_details"u8) || reader.ValueTextEquals("input_tokens_details"u8)) { cached = ReadNested(ref reader, "cached_tokens"u8); }
            else if (reader.ValueTextEquals("completion_tokens_details"u8) || reader.ValueTextEquals("output_tokens_details"u8)) { reasoning = ReadNested(ref reader, "reasoning_tokens"u8); }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        // xAI counts reasoning on top of completion; total_tokens is the count of record when given.
        return new TokenCounts(prompt, completion, reasoning, cached, total >= 0 ? total : prompt + completion + reasoning)
        {
            CostTicks = cost >= 0 ? cost : null,
        };
    }

    private static long ReadLong(ref Utf8JsonReader reader, long missing = 0)
    {
        reader.Read();
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            reader.Skip();
            return missing;
        }
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) ? value : missing;
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

/// <summary>Token counts from one <c>usage</c> object (Prompt is chat's prompt or Responses' input tokens, Completion its output).</summary>
internal readonly record struct TokenCounts(long Prompt, long Completion, long Reasoning, long Cached, long Total)
{
    /// <summary><c>cost_in_usd_ticks</c> (1 USD = 10^10 ticks) when the upstream sent it.</summary>
    public long? CostTicks { get; init; }

    /// <summary>
    /// The sample recorded for this answer: the upstream's cost when it sent one, else the price table's estimate
    /// for <paramref name="model"/> (marked estimated), else none; and what the cached tokens saved.
    /// </summary>
    public UsageSample ToSample(int group, int status, PriceTable prices, string? model)
    {
        var estimate = CostTicks is null ? Estimate(prices, model) : null;
        return new(group, status, Prompt, Completion, Reasoning, Cached, Total, CostTicks ?? estimate ?? 0, estimate is not null, prices.Saved(model, Cached));
    }

    /// <summary>What the answer cost: the upstream's figure, else the price table's for these counts, else unknown (null).</summary>
    public long? Cost(PriceTable prices, string? model) => CostTicks ?? Estimate(prices, model);

    private long? Estimate(PriceTable prices, string? model) => prices.Estimate(model, Prompt, Cached, Completion, Reasoning);
}
