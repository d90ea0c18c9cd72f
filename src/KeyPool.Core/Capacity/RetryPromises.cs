using KeyPool.Core.KeyHealth;
using KeyPool.Core.Routing;

namespace KeyPool.Core.Capacity;

/// <summary>
/// Makes <c>Retry-After</c> a promise. When no key has room, a refused user is told the second at which
/// a slot will be free for them, from a forecast of every usable budget (<see cref="Budgets.RateWindow.ForecastRequests"/>)
/// minus the slots already promised; while promises are outstanding, a request that holds none is let
/// through only when the pool has room beyond the promises due now. So under overload the pool serves
/// users first come, first served, and a client that waits as told is served on its next try.
/// Unused promises lapse <see cref="GraceSeconds"/> after they fall due. Clients that never come back would
/// waste the slots kept for them, so the ledger learns what share of promises is redeemed and keeps (and
/// promises) slots in that proportion: with clients that do not retry it gets out of the way.
/// Only the overload path takes the lock.
/// </summary>
public sealed class RetryPromises
{
    /// <summary>How far ahead slots are promised; a user who would wait longer gets no promise.</summary>
    public const int HorizonSeconds = 600;

    /// <summary>How late after its second a promise may still be redeemed.</summary>
    public const int GraceSeconds = 2;

    private const int Ring = HorizonSeconds + GraceSeconds + 2;

    // Share of promises redeemed, an exponential average over promise outcomes; never below MinReturnRate,
    // so a sudden return of every client still finds a tenth of them a slot.
    private const double ReturnRateWeight = 0.05;
    private const double MinReturnRate = 0.1;

    private readonly Lock _lock = new();
    private readonly Dictionary<int, ModelQueue> _models = [];
    private readonly int _maxPromises;
    private int _outstanding;
    private double _returnRate = 1;

    /// <summary>Creates the ledger; at most <paramref name="maxPromises"/> users hold a promise at once (memory stays bounded).</summary>
    public RetryPromises(int maxPromises = 100_000) => _maxPromises = Math.Max(1, maxPromises);

    /// <summary>Promises given and neither redeemed nor lapsed.</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>The learned share of promises that are redeemed (1 at first).</summary>
    public double ReturnRate
    {
        get
        {
            lock (_lock)
            {
                return _returnRate;
            }
        }
    }

    /// <summary>
    /// Admits through <paramref name="policy"/> while promises are outstanding: a user redeeming a promise
    /// due now goes ahead; anyone else only when the pool has more room now than the promises due now.
    /// </summary>
    public Admission? Admit(PoolSnapshot pool, IKeySelectionPolicy policy, in SelectionRequest request, string user)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(policy);
        lock (_lock)
        {
            var queue = QueueOf(request.ModelId);
            queue.Expire(request.Second, this);
            if (!queue.TryRedeem(user, request.Second, this) && FreeNow(pool, request.ModelId, request.Second) <= queue.DueNow(request.Second) * _returnRate)
            {
                return null;
            }
            return policy.Select(pool, request);
        }
    }

    /// <summary>
    /// Promises <paramref name="user"/> a slot: the seconds to wait (the <c>Retry-After</c>), or null when
    /// no slot is free within <see cref="HorizonSeconds"/> or too many users hold promises.
    /// </summary>
    public int? Promise(PoolSnapshot pool, int modelId, string user, long second)
    {
        ArgumentNullException.ThrowIfNull(pool);
        lock (_lock)
        {
            var queue = QueueOf(modelId);
            queue.Expire(second, this);
            if (_outstanding >= _maxPromises)
            {
                return null;
            }
            queue.Forecast(pool, modelId, second);
            return queue.Reserve(user, second, this);
        }
    }

    private void Learn(bool redeemed) =>
        _returnRate = Math.Max(MinReturnRate, _returnRate + (ReturnRateWeight * ((redeemed ? 1 : 0) - _returnRate)));

    private static long FreeNow(PoolSnapshot pool, int modelId, long second)
    {
        long free = 0;
        foreach (var team in pool.Teams)
        {
            if (Usable(team) is { } member)
            {
                free += pool.Window(member, modelId).FreeRequests(second);
            }
        }
        return free;
    }

    private static PoolMember? Usable(PoolMember[] team)
    {
        foreach (var member in team)
        {
            if (member.Health.State == KeyState.Active)
            {
                return member;
            }
        }
        return null;
    }

    private ModelQueue QueueOf(int modelId)
    {
        if (!_models.TryGetValue(modelId, out var queue))
        {
            _models[modelId] = queue = new ModelQueue();
        }
        return queue;
    }

    /// <summary>The promises of one model (budgets are per team and model). Used under the ledger's lock only.</summary>
    private sealed class ModelQueue
    {
        private readonly long[] _stamps = new long[Ring];
        private readonly int[] _promised = new int[Ring];
        private readonly int[] _redeemed = new int[Ring];
        private readonly List<string>?[] _users = new List<string>?[Ring];
        private readonly Dictionary<string, List<long>> _byUser = new(StringComparer.Ordinal);
        private readonly int[] _free = new int[HorizonSeconds];
        private long _forecastSecond = long.MinValue;
        private long _sweptTo = long.MinValue;

        public ModelQueue() => Array.Fill(_stamps, long.MinValue);

        public void Forecast(PoolSnapshot pool, int modelId, long second)
        {
            if (_forecastSecond == second)
            {
                return;
            }
            Array.Clear(_free);
            Span<int> team = stackalloc int[HorizonSeconds];
            foreach (var members in pool.Teams)
            {
                if (Usable(members) is { } member)
                {
                    pool.Window(member, modelId).ForecastRequests(second, team);
                    for (var i = 0; i < team.Length; i++)
                    {
                        _free[i] += team[i];
                    }
                }
            }
            _forecastSecond = second;
        }

        public int? Reserve(string user, long second, RetryPromises ledger)
        {
            for (var i = 1; i < HorizonSeconds; i++)
            {
                var due = second + i;
                var slot = Slot(due);
                if (_stamps[slot] != due)
                {
                    Reset(slot, due, ledger);
                }
                if (_promised[slot] * ledger._returnRate >= _free[i])
                {
                    continue;
                }
                _promised[slot]++;
                (_users[slot] ??= []).Add(user);
                if (!_byUser.TryGetValue(user, out var dues))
                {
                    _byUser[user] = dues = [];
                }
                dues.Add(due);
                ledger._outstanding++;
                return i;
            }
            return null;
        }

        public bool TryRedeem(string user, long second, RetryPromises ledger)
        {
            if (!_byUser.TryGetValue(user, out var dues))
            {
                return false;
            }
            for (var i = 0; i < dues.Count; i++)
            {
                var due = dues[i];
                if (due <= second && due >= second - GraceSeconds)
                {
                    dues.RemoveAt(i);
                    if (dues.Count == 0)
                    {
                        _byUser.Remove(user);
                    }
                    _redeemed[Slot(due)]++;
                    ledger._outstanding--;
                    ledger.Learn(redeemed: true);
                    return true;
                }
            }
            return false;
        }

        /// <summary>Promises due now (or a little late) not yet redeemed: the room they need is kept for them.</summary>
        public long DueNow(long second)
        {
            long due = 0;
            for (var s = second - GraceSeconds; s <= second; s++)
            {
                var slot = Slot(s);
                if (_stamps[slot] == s)
                {
                    due += _promised[slot] - _redeemed[slot];
                }
            }
            return due;
        }

        /// <summary>Lapses promises more than <see cref="GraceSeconds"/> past due.</summary>
        public void Expire(long second, RetryPromises ledger)
        {
            var end = second - GraceSeconds - 1;
            if (_sweptTo >= end)
            {
                return;
            }
            var from = _sweptTo == long.MinValue ? end - Ring + 1 : Math.Max(_sweptTo + 1, end - Ring + 1);
            for (var s = from; s <= end; s++)
            {
                var slot = Slot(s);
                if (_stamps[slot] != long.MinValue && _stamps[slot] <= end)
                {
                    Reset(slot, long.MinValue, ledger);
                }
            }
            _sweptTo = end;
        }

        private void Reset(int slot, long stamp, RetryPromises ledger)
        {
            if (_users[slot] is { } users && _stamps[slot] is var due && due != long.MinValue)
            {
                foreach (var user in users)
                {
                    if (_byUser.TryGetValue(user, out var dues) && dues.Remove(due))
                    {
                        ledger._outstanding--;
                        ledger.Learn(redeemed: false);
                        if (dues.Count == 0)
                        {
                            _byUser.Remove(user);
                        }
                    }
                }
                users.Clear();
            }
            _promised[slot] = 0;
            _redeemed[slot] = 0;
            _stamps[slot] = stamp;
        }

        private static int Slot(long second) => (int)(((second % Ring) + Ring) % Ring);
    }
}
