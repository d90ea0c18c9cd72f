namespace KeyPool.Core.KeyHealth;

/// <summary>
/// The health of one key: revoked (until re-enabled), cooling after a 429 (until its window resets),
/// and a circuit breaker for 5xx, timeouts and connection failures (open after consecutive
/// failures, one half-open probe, closed by a success). Times are <see cref="TimeProvider"/> timestamps.
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

    /// <summary>Whether the key may take a request now. In half-open state exactly one caller gets true (the probe).</summary>
    public bool TryEnter()
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
            return Volatile.Read(ref _coolUntil) > now || Volatile.Read(ref _openUntil) > now ? KeyState.Cooling : KeyState.Active;
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
    public void RecordSuccess()
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
    public void Abandon()
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
    public bool RecordFailure()
    {
        lock (_lock)
        {
            _failures++;
            var now = time.GetUtcNow();
            if (_probing || _failures >= options.BreakerFailures)
            {
                var wasOpen = _openUntil != 0;
                _openUntil = (now + options.BreakerOpenFor).UtcTicks;
                _probing = false;
                return !wasOpen;
            }
            return false;
        }
    }

    /// <summary>A 429: rest until <paramref name="resetAfter"/>, or an increasing back-off when the upstream did not say.</summary>
    public TimeSpan CoolDown(TimeSpan? resetAfter)
    {
        lock (_lock)
        {
            var wait = resetAfter is { } reset && reset > TimeSpan.Zero
                ? reset
                : TimeSpan.FromTicks(Math.Min(options.CooldownMax.Ticks, options.CooldownBase.Ticks << Math.Min(_cooldowns, 20)));
            _cooldowns++;
            _coolUntil = (time.GetUtcNow() + wait).UtcTicks;
            _probing = false;
            return wait;
        }
    }

    /// <summary>Takes the key out until <see cref="Reenable"/> (invalid, revoked, blocked, out of credits).</summary>
    /// <returns>True when the key was not revoked before (log once).</returns>
    public bool Revoke(string reason) => Interlocked.Exchange(ref _revokedReason, reason) is null;

    /// <summary>Puts a revoked key back with a clean slate.</summary>
    public void Reenable()
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
