using KeyPool.Errors;
using KeyPool.Limits;
using KeyPool.StoredObjects;

namespace KeyPool.Proxy;

/// <summary>
/// <c>/v1/*</c> as a pipeline of stages over one <see cref="ProxyExchange"/>: gate (<see cref="ProxyGate"/>), read
/// (<see cref="RequestBodies"/>), identify (<see cref="RequestIdentifier"/>), stored objects (<see cref="StoredObjectAccess"/>), plan
/// (<see cref="RequestPlanner"/>), limit (the tier's limits), attempts (<see cref="UpstreamAttempts"/>). A stage that
/// will not go on returns a <see cref="Refusal"/>; the first one ends the request and is the answer, written by
/// <see cref="Refusal.WriteAsync"/> alone. What the limit stage and the attempts reserve is held by the exchange's
/// <see cref="Core.Requests.RequestBudget"/> and settled once, when the request ends. Nothing here changes a key's health.
/// </summary>
internal sealed class ProxyHandler(
    ProxyGate gate,
    RequestBodies bodies,
    RequestIdentifier identifier,
    StoredObjectAccess storedObjects,
    RequestPlanner planner,
    TierLimits tierLimits,
    UpstreamAttempts attempts,
    Telemetry.RequestObserver observer,
    TimeProvider time)
{
    public async Task HandleAsync(HttpContext context)
    {
        var exchange = new ProxyExchange(context, time.GetTimestamp());
        try
        {
            await ServeAsync(exchange);
        }
        finally
        {
            observer.Finished(exchange); // the request log line and the server span's attributes
        }
    }

    private async Task ServeAsync(ProxyExchange exchange)
    {
        if (await gate.EnterAsync(exchange) is { } refused)
        {
            await Refusal.WriteAsync(exchange, refused);
            return;
        }
        try
        {
            if (await RunStagesAsync(exchange) is { } refusal)
            {
                await Refusal.WriteAsync(exchange, refusal);
            }
        }
        finally
        {
            bodies.Release(exchange);
            gate.Leave(exchange);
        }
    }

    private void Settle(ProxyExchange exchange)
    {
        var used = exchange.Budget.Settle();
        if (used.CostStated)
        {
            tierLimits.Spend.Estimator.Observe(exchange.Plan.Model, used.Tokens, used.CostTicks); // learns the model's cost per token
        }
    }

    private async ValueTask<Refusal?> RunStagesAsync(ProxyExchange exchange)
    {
        try
        {
            var refusal = await bodies.ReadAsync(exchange)
                ?? await identifier.IdentifyAsync(exchange)
                ?? await storedObjects.ResolveAsync(exchange)
                ?? planner.Plan(exchange)
                ?? Limit(exchange);
            if (refusal is not null)
            {
                return refusal;
            }
            refusal = await attempts.RunAsync(exchange);
            exchange.Stored?.Complete(exchange.Context);
            return refusal;
        }
        finally
        {
            // The one settle of the request, whatever ended it (an answer, a refusal, an exception), and before a refusal
            // is written: a client that tries again at once finds its tier's counts settled.
            Settle(exchange);
        }
    }

    // The user's tier limits, before any key is asked: a refusal costs no key's budget and never reaches the upstream.
    private Refusal? Limit(ProxyExchange exchange)
    {
        if (exchange.User is null)
        {
            return null;
        }
        var limit = tierLimits.TryAcquire(exchange.UserId!, exchange.Tier, exchange.Plan.Tokens); // the id usage is recorded under
        if (!limit.Admitted)
        {
            return new Refusal(429, OpenAiError.RateLimit, "user_rate_limit_exceeded", TierLimits.Message(limit, exchange.Tier), RetryAfterSeconds: limit.RetryAfterSeconds);
        }
        exchange.Budget.Reserve(limit.Reservation); // from here the request's end settles it (with nothing spent, if refused below)
        // Spend in money, the same way: the estimate reserved here, the real cost settled at the end.
        var spend = tierLimits.Spend.TryAcquire(exchange.UserId!, exchange.Tier, exchange.Plan.Model, exchange.Plan.Tokens - exchange.Plan.CompletionTokens, exchange.Plan.CompletionTokens);
        if (!spend.Admitted)
        {
            return new Refusal(429, OpenAiError.RateLimit, "user_budget_exceeded", TierSpendLimits.Message(spend, exchange.Tier), RetryAfterSeconds: spend.RetryAfterSeconds);
        }
        if (spend.Reservation is { } reservation)
        {
            exchange.Budget.Reserve(reservation);
        }
        return null;
    }
}
