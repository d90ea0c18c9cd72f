using KeyPool.Emulator.Accounts;
using KeyPool.Emulator.Errors;
using KeyPool.Emulator.Faults;
using KeyPool.Emulator.Logging;
using KeyPool.Emulator.RateLimits;

namespace KeyPool.Emulator.Hosting;

/// <summary>
/// The checks every upstream request passes, in xAI's order: who you are, whether your key may
/// be used, whether the model exists, then (for inference) injected faults and the team's budget.
/// Each step writes the error itself and returns null/false, so handlers just stop.
/// </summary>
internal sealed class InferenceGate(EmulatorState state)
{
    /// <summary>401 without a bearer token, 400 (xAI's "Incorrect API key") for a key it does not know.</summary>
    public async Task<KeyAccount?> IdentifyAsync(Exchange exchange)
    {
        var key = BearerToken.Parse(exchange.Http.Request.Headers.Authorization);
        if (key is null)
        {
            await exchange.FailAsync(401, "Missing or invalid Authorization header: expected `Authorization: Bearer <api key>`.", "unauthenticated");
            return null;
        }
        exchange.Key = key;
        if (!state.Directory.TryFind(key, out var account))
        {
            await exchange.FailAsync(400, XaiError.InvalidKeyMessage(KeyRedaction.ForError(key)), "invalid_key");
            return null;
        }
        return account;
    }

    /// <summary>Revoked keys look unknown (400), blocked ones 403; exhausted credits 429 only when <paramref name="spends"/>.</summary>
    public async Task<bool> CheckStandingAsync(Exchange exchange, KeyAccount account, bool spends)
    {
        switch (state.Faults.ConditionOf(account.Key))
        {
            case KeyCondition.Revoked:
                await exchange.FailAsync(400, XaiError.InvalidKeyMessage(KeyRedaction.ForError(account.Key)), "revoked");
                return false;
            case KeyCondition.Blocked:
                await exchange.FailAsync(403, $"The API key {KeyRedaction.ForError(account.Key)} is blocked.", "blocked");
                return false;
            case KeyCondition.CreditsExhausted when spends:
                await exchange.FailAsync(
                    429,
                    $"Your team {account.Team} has either used all available credits or reached its monthly spending limit. "
                    + "To continue making API requests, please purchase more credits or raise your spending limit.",
                    "credits_exhausted");
                return false;
            default:
                return true;
        }
    }

    public async Task<KeyAccount?> AuthorizeInferenceAsync(Exchange exchange)
    {
        var account = await IdentifyAsync(exchange);
        return account is not null && await CheckStandingAsync(exchange, account, spends: true) ? account : null;
    }

    public async Task<bool> CheckModelAsync(Exchange exchange, KeyAccount account, string model)
    {
        if (state.Faults.Denies(account.Key, model))
        {
            await exchange.FailAsync(403, XaiErrorCodes.PermissionDenied, $"The caller does not have permission to execute the specified operation: team {account.Team} may not use model {model}.", "model_denied");
            return false;
        }
        if (!state.Options.RejectUnknownModels || state.Models.Contains(model, StringComparer.Ordinal))
        {
            return true;
        }
        await exchange.FailAsync(404, $"The model {model} does not exist or your team {account.Team} does not have access to it.", "model_not_found");
        return false;
    }

    /// <summary>Answers with a queued or random failure, if one is due; it carries the budget headers but is not charged.</summary>
    public async Task<bool> PassFaultsAsync(Exchange exchange, KeyAccount account, string model)
    {
        if (state.Faults.TakeFailure(account.Key) is not { } status)
        {
            return true;
        }
        var options = state.Options;
        RateLimitHeaders.Apply(
            exchange.Http.Response.Headers,
            state.RateLimiter.Peek(account.Team, model, options.RequestsPerMinute, options.TokensPerMinute),
            options.RateLimitResetHeaders);
        EmulatorLog.InjectedFailure(state.Logger, status, account.Team, exchange.Http.Request.Path.Value ?? "");
        var message = status switch
        {
            429 => "Rate limit reached (injected by the emulator). Please retry later.",
            >= 500 => $"Upstream failure {status} injected by the emulator.",
            _ => $"Failure {status} injected by the emulator.",
        };
        await exchange.FailAsync(status, message, status >= 500 ? "injected_5xx" : $"injected_{status}");
        return false;
    }

    /// <summary>Charges the (team, model) window; 429 with the rate-limit headers when it is full.</summary>
    public async Task<bool> AdmitAsync(Exchange exchange, KeyAccount account, string model, long tokens)
    {
        var options = state.Options;
        if (options.RequestsPerSecond > 0 && !state.PerSecond.TryAdmit(account.Team, model, options.RequestsPerSecond))
        {
            // The minute still has room, and the headers say so: only the finer window refuses.
            RateLimitHeaders.Apply(exchange.Http.Response.Headers, state.RateLimiter.Peek(account.Team, model, options.RequestsPerMinute, options.TokensPerMinute), options.RateLimitResetHeaders);
            EmulatorLog.RateLimited(state.Logger, account.Team, model, "requests per second");
            await exchange.FailAsync(429, XaiErrorCodes.ResourceExhausted, $"Team {account.Team} has hit the rate limit for model {model}: {options.RequestsPerSecond} requests per second. Please retry later.", "rate_limited");
            return false;
        }
        var decision = state.RateLimiter.TryAdmit(account.Team, model, tokens, options.RequestsPerMinute, options.TokensPerMinute);
        RateLimitHeaders.Apply(exchange.Http.Response.Headers, decision, options.RateLimitResetHeaders);
        if (decision.Admitted)
        {
            return true;
        }
        var kind = decision.Exceeded == RateLimitKind.Requests ? "requests" : "tokens";
        EmulatorLog.RateLimited(state.Logger, account.Team, model, kind);
        var limit = decision.Exceeded == RateLimitKind.Requests ? decision.LimitRequests : decision.LimitTokens;
        await exchange.FailAsync(
            429,
            XaiErrorCodes.ResourceExhausted,
            $"Team {account.Team} has hit the rate limit for model {model}: {limit} {kind} per minute. Please retry later.",
            "rate_limited");
        return false;
    }
}
