using System.Text.Json;
using KeyPool.Configuration;
using KeyPool.Core.Budgets;
using KeyPool.Core.Models;
using KeyPool.Core.Routing;
using Microsoft.Extensions.Options;

namespace KeyPool.Proxy;

/// <summary>What will be sent upstream for one request, and what it is expected to cost.</summary>
/// <param name="Body">The body to send: the client's, or a rewritten copy (tier model pin, <c>include_usage</c>).</param>
/// <param name="Model">The model asked for (after the tier pin), for the log.</param>
/// <param name="Tier">The user's tier, <c>-</c> for requests of no user.</param>
/// <param name="ModelId">The model's budget index in the pool.</param>
/// <param name="Tokens">Tokens to reserve at admission.</param>
/// <param name="StripUsageChunk">The gateway asks for stream usage the client did not: drop that chunk on the way back.</param>
/// <param name="UnknownModel">The model is not in the catalog: the request must not go upstream (and has no budget).</param>
internal readonly record struct RequestPlan(ReadOnlyMemory<byte> Body, string? Model, string Tier, int ModelId, long Tokens, bool StripUsageChunk, bool UnknownModel = false)
{
    /// <summary>The completion part of <see cref="Tokens"/> (the rest is the prompt), for the cost estimate.</summary>
    public long CompletionTokens { get; init; }
}

/// <summary>Applies the tier's model pin and the gateway's own need for stream usage, and estimates the cost.</summary>
internal sealed class RequestPlanner(IOptions<BudgetOptions> budgets, IOptionsMonitor<Dictionary<string, TierOptions>> tiers, ModelCatalog models)
{
    private readonly BudgetOptions _budgets = budgets.Value;

    /// <summary>The plan stage: sets the exchange's plan; refuses a model the gateway does not know.</summary>
    public Refusal? Plan(ProxyExchange exchange)
    {
        RequestPlan plan;
        try
        {
            plan = Plan(exchange.ClientBody, exchange.Chat, exchange.Tier, exchange.Caller!.UserId, exchange.Pool!, SseRelay.EndsWithDone(exchange.Path));
        }
        catch (JsonException exception)
        {
            return Refusal.InvalidRequest(400, ChatRequest.DuplicateMember, $"The request body cannot be rewritten for the upstream: {exception.Message}");
        }
        exchange.Plan = plan;
        return plan.UnknownModel
            ? Refusal.InvalidRequest(404, "model_not_found", $"The model '{plan.Model}' does not exist or is not available through this gateway.", "model")
            : null;
    }

    /// <summary>
    /// The plan; <paramref name="credentialUser"/> is the user the caller's credential names, if it names one.
    /// <paramref name="hasStreamOptions"/>: the endpoint takes <c>stream_options.include_usage</c> (chat and text
    /// completions); others (Responses) report usage in their own stream and must not get a field they do not know.
    /// </summary>
    public RequestPlan Plan(ReadOnlyMemory<byte> body, in ChatRequest chat, string tier, string? credentialUser, PoolSnapshot pool, bool hasStreamOptions = true)
    {
        var pinnedModel = (tiers.CurrentValue.TryGetValue(tier, out var tierOptions) ? tierOptions.Model : null) ?? models.AliasTarget(chat.Model);
        var model = pinnedModel ?? chat.Model;
        if (model is not null && !models.Allows(model))
        {
            // Checked before the model gets a budget: caller-chosen names must not grow the pool's tables.
            return new RequestPlan(body, model, tier, 0, 0, false, UnknownModel: true);
        }
        var addIncludeUsage = hasStreamOptions && chat.Stream && !chat.IncludeUsage;
        var upstreamBody = body.IsEmpty ? body : RequestBodyRewriter.Rewrite(body, chat, pinnedModel, addIncludeUsage, credentialUser);
        return new RequestPlan(upstreamBody, model, tier, pool.ModelId(model), TokenEstimate.Reserve(body.Length, chat.MaxTokens, _budgets), addIncludeUsage)
        {
            CompletionTokens = TokenEstimate.Completion(chat.MaxTokens, _budgets),
        };
    }
}
