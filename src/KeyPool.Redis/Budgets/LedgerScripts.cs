namespace KeyPool.Redis.Budgets;

/// <summary>
/// The Lua scripts of the budget ledger. A budget is one hash: fields <c>r&lt;second&gt;</c> and
/// <c>t&lt;second&gt;</c> hold the requests and tokens granted for that second (the caller's clock). A
/// grant for second s must keep every 61-second window that contains s within the minute limits (not
/// only the one ending at s: a lease ahead for s+1 and a late top-up for s can arrive in any order),
/// and s itself within the per-second caps.
/// </summary>
internal static class LedgerScripts
{
    // KEYS[1] budget; ARGV: second, rpm, tpm, rps, tps, askRequests, askTokens, minTokens, share, ttlMs
    public const string Lease = """
        local h = KEYS[1]
        local s = tonumber(ARGV[1])
        local rpm, tpm, rps, tps = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
        local askR, askT, minT, share = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
        local req, tok = {}, {}
        local flat = redis.call('HGETALL', h)
        for i = 1, #flat, 2 do
          local f = flat[i]
          local sec = tonumber(string.sub(f, 2))
          if sec < s - 130 then
            redis.call('HDEL', h, f)
          elseif string.sub(f, 1, 1) == 'r' then
            req[sec] = tonumber(flat[i + 1])
          else
            tok[sec] = tonumber(flat[i + 1])
          end
        end
        local function busiest(t)
          local sum = 0
          for x = s - 60, s do sum = sum + (t[x] or 0) end
          local best = sum
          for a = s - 59, s do
            sum = sum - (t[a - 1] or 0) + (t[a + 60] or 0)
            if sum > best then best = sum end
          end
          return best
        end
        local wr, wt = busiest(req), busiest(tok)
        local br, bt = req[s] or 0, tok[s] or 0
        local roomR = math.min(rpm - wr, rps - br)
        -- A request bigger than a second's (or minute's) tokens passes only into an empty second (window).
        local minuteT = tpm - wt
        if wt == 0 then minuteT = math.max(minuteT, askT) end
        local secondT = tps - bt
        if bt == 0 then secondT = math.max(secondT, askT) end
        local roomT = math.min(minuteT, secondT)
        local gR, gT = 0, 0
        if roomR > 0 and roomT >= minT then
          gR = math.min(askR, math.max(1, math.ceil(roomR / share)))
          gT = math.min(askT, roomT, math.max(minT, math.ceil(roomT / share)))
          -- %d: Lua would print a large number as 1e+15, which HINCRBY refuses
          redis.call('HINCRBY', h, 'r' .. s, string.format('%d', gR))
          redis.call('HINCRBY', h, 't' .. s, string.format('%d', gT))
        end
        redis.call('PEXPIRE', h, ARGV[10])
        return {gR, gT, wr + gR, wt + gT}
        """;

    // KEYS[1] budget; ARGV: second, requests, tokens, ttlMs. Never below zero: a give-back for a second already trimmed is moot.
    public const string Adjust = """
        local h = KEYS[1]
        local function add(f, d)
          if d ~= 0 then
            local v = redis.call('HINCRBY', h, f, d)
            if v <= 0 then redis.call('HDEL', h, f) end
          end
        end
        add('r' .. ARGV[1], tonumber(ARGV[2]))
        add('t' .. ARGV[1], tonumber(ARGV[3]))
        redis.call('PEXPIRE', h, ARGV[4])
        return 1
        """;

    // KEYS[1] instances (sorted set by last second seen), KEYS[2] epoch; ARGV: id, second, timeoutSeconds, new epoch
    public const string Heartbeat = """
        redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[3]))
        redis.call('PEXPIRE', KEYS[1], 3600000)
        redis.call('SET', KEYS[2], ARGV[4], 'NX')
        return {redis.call('ZCARD', KEYS[1]), redis.call('GET', KEYS[2])}
        """;
}
