using System.Collections.Concurrent;
using KeyPool.Emulator.Faults;

namespace KeyPool.Emulator;

/// <summary>
/// Live fault knobs, safe to change while requests are in flight. Injected failures apply to
/// inference requests (chat completions, responses, embeddings) after authentication and body checks.
/// </summary>
public sealed class EmulatorFaults
{
    private const int DefaultSeed = 1;

    private readonly Lock _gate = new();
    private readonly FailureQueue _any = new();
    private readonly Dictionary<string, FailureQueue> _byKey = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyCondition> _conditions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Key, string Model), bool> _deniedModels = new();
    private Random _random = new(DefaultSeed);
    private int _seed = DefaultSeed;
    private double _serverErrorRate;
    private int _serverErrorStatus = 500;
    private int? _resetMidStreamAfterChunks;
    private int? _truncateStreamAfterChunks;
    private int _resetsBeforeFirstByte;
    private int _garbledAnswers;
    private TimeSpan _firstByteDelay;
    private TimeSpan _chunkDelay;

    /// <summary>Share (0..1) of inference requests answered with <see cref="ServerErrorStatus"/>, drawn from a seeded Random.</summary>
    public double ServerErrorRate
    {
        get { lock (_gate) { return _serverErrorRate; } }
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 0.0);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 1.0);
            lock (_gate) { _serverErrorRate = value; }
        }
    }

    /// <summary>Status used by <see cref="ServerErrorRate"/> (500, 502, 503 …). Default 500.</summary>
    public int ServerErrorStatus
    {
        get { lock (_gate) { return _serverErrorStatus; } }
        set
        {
            ThrowIfNotErrorStatus(value);
            lock (_gate) { _serverErrorStatus = value; }
        }
    }

    /// <summary>Seed of the Random behind <see cref="ServerErrorRate"/>; setting it restarts the sequence. Default 1.</summary>
    public int Seed
    {
        get { lock (_gate) { return _seed; } }
        set
        {
            lock (_gate)
            {
                _seed = value;
                _random = new Random(value);
            }
        }
    }

    /// <summary>
    /// When set (and not above the chunk count), a stream's connection is closed after this many content
    /// chunks, without the finish chunk, usage or [DONE]; the chunks before it are delivered. Served records "reset_mid_stream".
    /// </summary>
    public int? ResetMidStreamAfterChunks
    {
        get { lock (_gate) { return _resetMidStreamAfterChunks; } }
        set
        {
            if (value < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Must be zero or more.");
            }
            lock (_gate) { _resetMidStreamAfterChunks = value; }
        }
    }

    /// <summary>
    /// When set (and not above the chunk count), a stream ends cleanly after this many content chunks — the HTTP
    /// answer completes — but without the finish chunk, usage or [DONE]: a truncated SSE answer. Served records "truncated".
    /// </summary>
    public int? TruncateStreamAfterChunks
    {
        get { lock (_gate) { return _truncateStreamAfterChunks; } }
        set
        {
            if (value < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Must be zero or more.");
            }
            lock (_gate) { _truncateStreamAfterChunks = value; }
        }
    }

    /// <summary>
    /// The next <paramref name="count"/> chat completions that would succeed lose their connection before the first
    /// byte (no status line): what a client sees of a crashed or reset upstream. Served records status 0, "reset_before_first_byte".
    /// </summary>
    public void ResetNextBeforeFirstByte(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_gate) { _resetsBeforeFirstByte += count; }
    }

    /// <summary>
    /// The next <paramref name="count"/> chat completions that would succeed answer 200 with the right content type
    /// (JSON or SSE) and bytes that are neither. Served records "garbled".
    /// </summary>
    public void GarbleNext(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_gate) { _garbledAnswers += count; }
    }

    /// <summary>Consumes the fault (if any) a successful answer must show instead of itself.</summary>
    internal AnswerFault TakeAnswerFault()
    {
        lock (_gate)
        {
            if (_resetsBeforeFirstByte > 0)
            {
                _resetsBeforeFirstByte--;
                return AnswerFault.ResetBeforeFirstByte;
            }
            if (_garbledAnswers > 0)
            {
                _garbledAnswers--;
                return AnswerFault.Garbled;
            }
            return AnswerFault.None;
        }
    }

    /// <summary>Delay before the first byte of a successful response (headers included).</summary>
    public TimeSpan FirstByteDelay
    {
        get { lock (_gate) { return _firstByteDelay; } }
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            lock (_gate) { _firstByteDelay = value; }
        }
    }

    /// <summary>Delay between the chunks of a stream.</summary>
    public TimeSpan ChunkDelay
    {
        get { lock (_gate) { return _chunkDelay; } }
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            lock (_gate) { _chunkDelay = value; }
        }
    }

    /// <summary>The next <paramref name="count"/> inference requests, whatever their key, fail with <paramref name="status"/>. Calls queue up.</summary>
    public void FailNext(int count, int status = 500)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ThrowIfNotErrorStatus(status);
        lock (_gate) { _any.Add(count, status); }
    }

    /// <summary>The next <paramref name="count"/> inference requests with <paramref name="key"/> fail with <paramref name="status"/>; checked before <see cref="FailNext"/>.</summary>
    public void FailNextForKey(string key, int count, int status = 500)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ThrowIfNotErrorStatus(status);
        lock (_gate)
        {
            if (!_byKey.TryGetValue(key, out var queue))
            {
                _byKey[key] = queue = new FailureQueue();
            }
            queue.Add(count, status);
        }
    }

    /// <summary>The key answers xAI's 400 "Incorrect API key provided"; /v1/api-key reports api_key_disabled.</summary>
    public void Revoke(string key) => SetCondition(key, KeyCondition.Revoked);

    /// <summary>The key answers 403 (blocked); /v1/api-key reports api_key_blocked.</summary>
    public void Block(string key) => SetCondition(key, KeyCondition.Blocked);

    /// <summary>The key answers 429 with xAI's credits / spending-limit message, which is not transient.</summary>
    public void ExhaustCredits(string key) => SetCondition(key, KeyCondition.CreditsExhausted);

    /// <summary>
    /// The key's team may not use <paramref name="model"/>: inference with it answers xAI's 403 "does not have permission",
    /// and /v1/api-key lists the models the key may use instead of <c>api-key:model:*</c>.
    /// </summary>
    public void DenyModel(string key, string model)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentException.ThrowIfNullOrEmpty(model);
        _deniedModels[(key, model)] = true;
    }

    internal bool Denies(string key, string model) => !_deniedModels.IsEmpty && _deniedModels.ContainsKey((key, model));

    internal bool DeniesAnyModel(string key) => _deniedModels.Keys.Any(k => k.Key == key);

    /// <summary>Undoes <see cref="Revoke"/>, <see cref="Block"/> and <see cref="ExhaustCredits"/> for the key.</summary>
    public void Restore(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        _conditions.TryRemove(key, out _);
    }

    /// <summary>Removes every fault: queued failures, rates, delays, resets and key conditions.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _any.Clear();
            _byKey.Clear();
            _serverErrorRate = 0;
            _serverErrorStatus = 500;
            _resetMidStreamAfterChunks = null;
            _truncateStreamAfterChunks = null;
            _resetsBeforeFirstByte = 0;
            _garbledAnswers = 0;
            _firstByteDelay = TimeSpan.Zero;
            _chunkDelay = TimeSpan.Zero;
        }
        _conditions.Clear();
        _deniedModels.Clear();
    }

    internal KeyCondition ConditionOf(string key) =>
        _conditions.TryGetValue(key, out var condition) ? condition : KeyCondition.Active;

    /// <summary>Consumes the failure (if any) this request must answer with.</summary>
    internal int? TakeFailure(string key)
    {
        lock (_gate)
        {
            if (_byKey.TryGetValue(key, out var queue) && queue.TryTake(out var status))
            {
                if (queue.IsEmpty)
                {
                    _byKey.Remove(key);
                }
                return status;
            }
            if (_any.TryTake(out status))
            {
                return status;
            }
            // Draw only when a rate is set, so that setting a rate later replays the same sequence.
            if (_serverErrorRate > 0 && _random.NextDouble() < _serverErrorRate)
            {
                return _serverErrorStatus;
            }
            return null;
        }
    }

    private void SetCondition(string key, KeyCondition condition)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        _conditions[key] = condition;
    }

    private static void ThrowIfNotErrorStatus(int status)
    {
        if (status is < 400 or > 599)
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, "An injected failure needs a 4xx or 5xx status.");
        }
    }
}
