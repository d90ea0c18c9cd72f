using System.Collections.Concurrent;

namespace KeyPool.Emulator.RateLimits;

/// <summary>
/// xAI budgets per team and per model: keys of one team share a window, different models do not.
/// </summary>
internal sealed class TeamModelRateLimiter(TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<(string Team, string Model), SlidingWindow> _windows = new();

    public RateDecision TryAdmit(string team, string model, long tokens, int requestLimit, long tokenLimit) =>
        WindowOf(team, model).TryAdmit(tokens, requestLimit, tokenLimit);

    public RateDecision Peek(string team, string model, int requestLimit, long tokenLimit) =>
        WindowOf(team, model).Peek(requestLimit, tokenLimit);

    private SlidingWindow WindowOf(string team, string model) =>
        _windows.GetOrAdd((team, model), static (_, tp) => new SlidingWindow(tp), timeProvider);
}
