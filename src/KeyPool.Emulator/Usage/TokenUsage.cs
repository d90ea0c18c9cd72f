using System.Text.Json;

namespace KeyPool.Emulator.Usage;

/// <summary>
/// Token counts of one reply. As on xAI, reasoning tokens come on top of completion tokens
/// and cached tokens are part of prompt tokens. <paramref name="Costless"/>: the answer states no cost (billed 0 here).
/// </summary>
internal readonly record struct TokenUsage(int Prompt, int Cached, int Completion, int Reasoning, bool Costless = false)
{
    // 1 USD = 10^10 ticks; per-token prices in the range of xAI's fast models.
    private const long TicksPerPromptToken = 2_000;
    private const long TicksPerCachedToken = 500;
    private const long TicksPerOutputToken = 5_000;

    public int Total => Prompt + Completion + Reasoning;

    public long CostInUsdTicks => Costless ? 0 :
        (Prompt - Cached) * TicksPerPromptToken + Cached * TicksPerCachedToken + (Completion + Reasoning) * TicksPerOutputToken;

    public ServedUsage ToServed() => new(Prompt, Cached, Completion, Reasoning, Total, CostInUsdTicks);

    /// <summary>The chat-completions shape of xAI's usage object.</summary>
    public void WriteChat(Utf8JsonWriter json)
    {
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", Prompt);
        json.WriteNumber("completion_tokens", Completion);
        json.WriteNumber("total_tokens", Total);
        json.WriteStartObject("prompt_tokens_details");
        json.WriteNumber("text_tokens", Prompt);
        json.WriteNumber("audio_tokens", 0);
        json.WriteNumber("image_tokens", 0);
        json.WriteNumber("cached_tokens", Cached);
        json.WriteEndObject();
        json.WriteStartObject("completion_tokens_details");
        json.WriteNumber("reasoning_tokens", Reasoning);
        json.WriteNumber("audio_tokens", 0);
        json.WriteNumber("accepted_prediction_tokens", 0);
        json.WriteNumber("rejected_prediction_tokens", 0);
        json.WriteEndObject();
        json.WriteNumber("num_sources_used", 0);
        WriteCost(json);
        json.WriteEndObject();
    }

    /// <summary>The /v1/responses shape (input/output tokens).</summary>
    public void WriteResponses(Utf8JsonWriter json)
    {
        json.WriteStartObject("usage");
        json.WriteNumber("input_tokens", Prompt);
        json.WriteStartObject("input_tokens_details");
        json.WriteNumber("cached_tokens", Cached);
        json.WriteEndObject();
        json.WriteNumber("output_tokens", Completion);
        json.WriteStartObject("output_tokens_details");
        json.WriteNumber("reasoning_tokens", Reasoning);
        json.WriteEndObject();
        json.WriteNumber("total_tokens", Total);
        json.WriteNumber("num_sources_used", 0);
        WriteCost(json);
        json.WriteEndObject();
    }

    private void WriteCost(Utf8JsonWriter json)
    {
        if (!Costless)
        {
            json.WriteNumber("cost_in_usd_ticks", CostInUsdTicks);
        }
    }
}
