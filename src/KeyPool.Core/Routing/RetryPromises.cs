using KeyPool.Core.KeyHealth;
using KeyPool.Core.Routing;

namespace KeyPool.Core.Routing;

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
public sealed partial class RetryPromises
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
    /// due now goes ahead; anyone else only when the pool has more room now than the promises due now. A user
    /// over their fair share (<paramref name="overShare"/>) redeems nothing and loses the promises they hold
    /// (<see cref="Forfeit"/>).
    /// </summary>
    public Admission? Admit(PoolSnapshot pool, IKeySelectionPolicy policy, in SelectionRequest request, string user, bool overShare = false)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(policy);
        lock (_lock)
        {
            var queue = QueueOf(request.ModelId);
            queue.Expire(request.Second, this);
            if (overShare)
            {
                queue.Forfeit(user, this);
            }
            if ((overShare || !queue.TryRedeem(user, request.Second, this)) && FreeNow(pool, request.ModelId, request.Second) <= queue.DueNow(request.Second) * _returnRate)
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

    /// <summary>
    /// Takes back the slots promised to <paramref name="user"/> for <paramref name="modelId"/>: a user found over their
    /// fair share (typically one who keeps asking whatever <c>Retry-After</c> said) must not hold slots that the others
    /// need. The slots go back to everyone at once; the return rate learns nothing from it.
    /// </summary>
    public void Forfeit(int modelId, string user)
    {
        lock (_lock)
        {
            if (_models.TryGetValue(modelId, out var queue))
            {
                queue.Forfeit(user, this);
            }
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
}
