using System.Collections.Concurrent;

namespace KeyPool.Emulator.Usage;

/// <summary>
/// A crude model of xAI's prefix cache: a conversation (key, x-grok-conv-id) seen before gets the
/// previous request's prompt tokens back as cached, capped at this prompt.
/// </summary>
internal sealed class PromptCache
{
    // Bounded so that a long benchmark with fresh conversation ids cannot grow memory without end;
    // forgetting everything at once is a cache miss, which is realistic enough.
    private const int MaxConversations = 100_000;

    private readonly ConcurrentDictionary<(string Key, string Conversation), int> _lastPrompt = new();

    /// <summary>Cached tokens for this prompt, and remembers it for the next turn.</summary>
    public int Use(string key, string? conversationId, int promptTokens)
    {
        if (string.IsNullOrEmpty(conversationId))
        {
            return 0;
        }
        if (_lastPrompt.Count >= MaxConversations)
        {
            _lastPrompt.Clear();
        }
        var previous = 0;
        _lastPrompt.AddOrUpdate(
            (key, conversationId),
            static (_, prompt) => prompt,
            (_, old, prompt) =>
            {
                previous = old;
                return prompt;
            },
            promptTokens);
        return Math.Min(previous, promptTokens);
    }
}
