using KeyPool.Core.Outcomes;
using KeyPool.Errors;
using KeyPool.Hosting;
using KeyPool.Keys;

namespace KeyPool.Admin;

/// <summary>Key operations: re-enable a revoked key at once, reload the keys.</summary>
internal static class KeyAdminApi
{
    public static RouteGroupBuilder MapKeyAdmin(this RouteGroupBuilder admin)
    {
        admin.MapPost("/api-keys/{group:int}/enable", Enable);
        admin.MapPost("/api-keys/reload", ReloadAsync);
        return admin;
    }

    private static async Task<IResult> ReloadAsync(KeyReloader reloader, CancellationToken cancellationToken)
    {
        var outcome = await reloader.ReloadAsync("admin API", cancellationToken);
        return outcome.Applied
            ? TypedResults.Ok(new { changed = outcome.Message, totalKeys = outcome.TotalKeys })
            : new OpenAiErrorResult(422, outcome.Message, OpenAiError.InvalidRequest, "keys_not_reloaded");
    }

    private static IResult Enable(int group, KeyHealthUpdater health, ILoggerFactory loggers)
    {
        if (!health.Reenable(group))
        {
            return new OpenAiErrorResult(404, $"Key group {group} has no key.", OpenAiError.InvalidRequest, "key_group_not_found");
        }
        Log.KeyReenabled(loggers.CreateLogger("KeyPool.Admin"), group);
        return TypedResults.Ok(new { key_group = group, state = "active" });
    }
}
