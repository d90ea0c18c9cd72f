namespace KeyPool.Core.KeyHealth;

/// <summary>
/// The health of one key: revoked (until re-enabled), cooling after a 429 (until its window resets),
/// and a circuit breaker for 5xx, timeouts and connection failures (open after consecutive
/// failures, one half-open probe, closed by a success). Times are <see cref="TimeProvider"/> timestamps.
/// Its writes are internal: <c>Outcomes.KeyHealthUpdater</c> is the one writer (admission only takes and returns
/// the half-open probe slot).
/// </summary>
public sealed class KeyHealthTracker(KeyHealthOptions options, TimeProvider time)
{
    private readonly Lock _lock = new();
    private long _coolUntil;      // UTC ticks; 0 = not cooling
    private int _cooldowns;       // consecutive 429s, for the back-off
    private int _failures;        // consecutive failures
    private long _openUntil;      // UTC ticks; 0 = circuit closed
    private bool _probing;        // the half-open probe is out
    private volatile string? _revokedReason;

    /// <summary>Why the key is out, or null when it is not revoked.</summary>
    public string? RevokedReason => _revokedReason;

    /// <summary>The shareable state now.</summary>
    public KeyHealthState Current => new(_revokedReason, Volatile.Read(ref _coolUntil), Volatile.Read(ref _openUntil));

    /// <summary>
    /// Takes over a state another instance published: revoked or re-enabled as it says, the later of the two
    /// cool-downs, and its circuit (open until its time, or closed when it saw the key work).
    /// </summary>
    internal void Apply(KeyHealthState state)
    {
        lock (_lock)
        {
            if (state.RevokedReason is null && _revokedReason is not null)
            {
                _failures = 0;
                _cooldowns = 0;
            }
            _revokedReason = state.RevokedReason;
            _coolUntil = Math.Max(_coolUntil, state.CoolUntilTicks);
            if (state.OpenUntilTicks == 0)
            {
                _failures = 0;
                _probing = false;
            }
            _openUntil = state.OpenUntilTicks;
        }
    }

    /// <summary>Whether the key may take a request now. In half-open state exactly one caller gets true (the probe).</summary>
    internal bool TryEnter()
    {
        if (_revokedReason is not null)
        {
            return false;
        }
        var now = time.GetUtcNow().UtcTicks;
        if (Volatile.Read(ref _coolUntil) > now)
        {
            return false;
        }
        if (Volatile.Read(ref _openUntil) == 0)
        {
            return true;
        }
        lock (_lock)
        {
            if (_openUntil == 0)
            {
                return true;
            }
            if (_openUntil > now || _probing)
            {
                return false;
            }
            _probing = true; // half-open: one request tests the key
            return true;
        }
    }

    /// <summary>The state for display (budget saturation is judged elsewhere).</summary>
    public KeyState State
    {
        get
        {
            if (_revokedReason is not null)
            {
                return KeyState.Revoked;
            }
            var now = time.GetUtcNow().UtcTicks;
            return Volatile.Read(ref _openUntil) > now ? KeyState.CircuitOpen
                : Volatile.Read(ref _coolUntil) > now ? KeyState.CoolingDown
                : KeyState.Active;
        }
    }

    /// <summary>Why the key is cooling, for the health message; null when it is not.</summary>
    public string? CoolingReason
    {
        get
        {
            var now = time.GetUtcNow().UtcTicks;
            return Volatile.Read(ref _openUntil) > now ? "circuit open after failures"
                : Volatile.Read(ref _coolUntil) > now ? "rate limited by the upstream" : null;
        }
    }

    /// <summary>A response that proves the key works: closes the circuit.</summary>
    internal void RecordSuccess()
    {
        if (Volatile.Read(ref _failures) == 0 && Volatile.Read(ref _openUntil) == 0 && Volatile.Read(ref _cooldowns) == 0)
        {
            return; // the common case takes no lock
        }
        lock (_lock)
        {
            _failures = 0;
            _openUntil = 0;
            _probing = false;
            _cooldowns = 0;
        }
    }

    /// <summary>An attempt that proved nothing (the client left): frees the half-open probe.</summary>
    internal void Abandon()
    {
        if (Volatile.Read(ref _openUntil) == 0)
        {
            return;
        }
        lock (_lock)
        {
            _probing = false;
        }
    }

    /// <summary>A 5xx, timeout or connection failure. Returns true when this failure opened the circuit.</summary>
    internal bool RecordFailure()
    {
        lock (_lock)
        {
            _failures++;
            var now = time.GetUtcNow();
            if (!_probing && _failures < options.BreakerFailures)
            {
                return false;
            }
            var opened = _openUntil == 0;
            _openUntil = (now + options.BreakerOpenFor).UtcTicks;
            _probing = false;
            return opened;
        }
    }

    /// <summary>A 429: rest until <paramref name="resetAfter"/>, or an increasing back-off when the upstream did not say.</summary>
    internal TimeSpan CoolDown(TimeSpan? resetAfter)
    {
        TimeSpan wait;
        lock (_lock)
        {
            wait = resetAfter is { } reset && reset > TimeSpan.Zero
                ? reset
                : TimeSpan.FromTicks(Math.Min(options.CooldownMax.Ticks, options.CooldownBase.Ticks << Math.Min(_cooldowns, 20)));
            _cooldowns++;
            _coolUntil = (time.GetUtcNow() + wait).UtcTicks;
            _probing = false;
        }
        return wait;
    }

    /// <summary>Takes the key out until <see cref="Reenable"/> (invalid, revoked, blocked, out of credits).</summary>
    /// <returns>True when the key was not revoked before (log once).</returns>
    internal bool Revoke(string reason)
    {
        return Interlocked.Exchange(ref _revokedReason, reason) is null;
    }

    /// <summary>Puts a revoked key back with a clean slate.</summary>
    internal void Reenable()
    {
        lock (_lock)
        {
            _revokedReason = null;
            _failures = 0;
            _openUntil = 0;
            _probing = false;
            _coolUntil = 0;
            _cooldowns = 0;
        }
    }
}
