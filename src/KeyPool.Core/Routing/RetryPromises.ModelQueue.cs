using KeyPool.Core.Routing;

namespace KeyPool.Core.Routing;

/// <summary>The ledger's promises per model, in a ring of seconds.</summary>
public sealed partial class RetryPromises
{
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

        public void Forfeit(string user, RetryPromises ledger)
        {
            if (!_byUser.Remove(user, out var dues))
            {
                return;
            }
            foreach (var due in dues)
            {
                var slot = Slot(due);
                if (_stamps[slot] == due)
                {
                    _promised[slot]--;
                    _users[slot]?.Remove(user);
                }
                ledger._outstanding--;
            }
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
