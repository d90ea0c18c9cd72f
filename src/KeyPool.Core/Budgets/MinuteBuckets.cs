namespace KeyPool.Core.Budgets;

/// <summary>
/// The table behind a <see cref="RateWindow"/>: 61 one-second buckets of requests, tokens and over-share requests,
/// and their sums. A bucket leaves 61 s after its second began, so the sums always cover at least the last full
/// 60 s. Not thread-safe: the window's lock guards it (the sums may be read without it, as hints).
/// </summary>
internal sealed class MinuteBuckets
{
    /// <summary>Buckets in the window.</summary>
    public const int Count = 61;

    private readonly long[] _requests = new long[Count];
    private readonly long[] _tokens = new long[Count];
    private readonly int[] _overShare = new int[Count]; // requests of users over their fair share, per bucket
    private readonly long[] _leftRequests = new long[Count]; // what left the window as each second began, by slot
    private readonly long[] _leftTokens = new long[Count];
    private long _requestSum;
    private long _tokenSum;

    /// <summary>The second of the newest bucket (<see cref="long.MinValue"/> before the first use).</summary>
    public long Second { get; private set; } = long.MinValue;

    /// <summary>The first second of the window's current run (it restarts after a minute idle).</summary>
    public long Since { get; private set; } = long.MinValue;

    /// <summary>Requests in the window (safe to read without the lock, as a hint).</summary>
    public long Requests => Volatile.Read(ref _requestSum);

    /// <summary>Tokens in the window (safe to read without the lock, as a hint).</summary>
    public long Tokens => Volatile.Read(ref _tokenSum);

    /// <summary>Requests in the window of users over their fair share.</summary>
    public long OverShare { get; private set; }

    /// <summary>Requests in the bucket of <paramref name="second"/> (or of the second 61 s before or after it).</summary>
    public long RequestsAt(long second) => _requests[Slot(second)];

    /// <summary>Whether the bucket of <paramref name="second"/> holds anything.</summary>
    public bool Holds(long second) => _requests[Slot(second)] > 0 || _tokens[Slot(second)] > 0;

    /// <summary>Copies the requests of every bucket, by slot.</summary>
    public void CopyRequests(Span<long> into) => _requests.CopyTo(into);

    /// <summary>
    /// Moves the window on to <paramref name="second"/>, emptying the buckets that left it. Returns the seconds that
    /// passed (0: not later than the newest bucket), or <see cref="long.MaxValue"/> when the window started afresh.
    /// </summary>
    public long Advance(long second)
    {
        if (second <= Second)
        {
            return 0;
        }
        long elapsed;
        if (Second == long.MinValue || second - Second >= Count)
        {
            Array.Clear(_requests);
            Array.Clear(_tokens);
            Array.Clear(_overShare);
            _requestSum = 0;
            _tokenSum = 0;
            OverShare = 0;
            Since = second;
            elapsed = long.MaxValue;
        }
        else
        {
            for (var s = Second + 1; s <= second; s++)
            {
                var slot = Slot(s);
                _leftRequests[slot] = _requests[slot];
                _leftTokens[slot] = _tokens[slot];
                _requestSum -= _requests[slot];
                _tokenSum -= _tokens[slot];
                OverShare -= _overShare[slot];
                _requests[slot] = 0;
                _tokens[slot] = 0;
                _overShare[slot] = 0;
            }
            elapsed = second - Second;
        }
        Second = second;
        return elapsed;
    }

    /// <summary>
    /// The sums as they were at the end of <paramref name="second"/> (an earlier second of the window's current run, less
    /// than <see cref="Count"/> seconds back): what was added since taken off, what left since put back. Null when the
    /// window cannot tell (before its run began, or too long ago).
    /// </summary>
    public (long Requests, long Tokens)? SumsAt(long second)
    {
        if (second >= Second)
        {
            return (_requestSum, _tokenSum);
        }
        if (second < Since || Second - second >= Count)
        {
            return null;
        }
        var (requests, tokens) = (_requestSum, _tokenSum);
        for (var s = second + 1; s <= Second; s++)
        {
            var slot = Slot(s);
            requests += _leftRequests[slot] - _requests[slot];
            tokens += _leftTokens[slot] - _tokens[slot];
        }
        return (requests, tokens);
    }

    /// <summary>Counts requests and tokens in the bucket of <paramref name="second"/>.</summary>
    public void Add(long second, long requests, long tokens, bool overShare = false)
    {
        var slot = Slot(second);
        _requests[slot] += requests;
        _tokens[slot] += tokens;
        _requestSum += requests;
        _tokenSum += tokens;
        if (overShare)
        {
            _overShare[slot] += (int)requests;
            OverShare += requests;
        }
    }

    /// <summary>Corrects the tokens of <paramref name="second"/>'s bucket by <paramref name="delta"/>, never below zero; nothing once it left the window.</summary>
    public void CorrectTokens(long second, long delta)
    {
        if (second <= Second - Count)
        {
            return;
        }
        var slot = Slot(second);
        delta = Math.Max(-_tokens[slot], delta);
        _tokens[slot] += delta;
        _tokenSum += delta;
    }

    /// <summary>The bucket of <paramref name="second"/> in an array of <see cref="Count"/>.</summary>
    public static int Slot(long second) => (int)(((second % Count) + Count) % Count);
}
