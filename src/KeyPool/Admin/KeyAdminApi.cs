using KeyPool.Core.Routing;
using KeyPool.Errors;
using KeyPool.Hosting;

namespace KeyPool.Admin;

/// <summary><c>POST /api/admin/api-keys/{group}/enable</c>: puts a revoked or cooling key back at once.</summary>
internal static class KeyAdminApi
{
    public static RouteGroupBuilder MapKeyAdmin(this RouteGroupBuilder admin)
    {
        admin.MapPost("/api-keys/{group:int}/enable", Enable);
        return admin;
    }

    private static IResult Enable(int group, KeyPoolRouter router, ILoggerFactory loggers)
    {
        if (router.Pool.Find(group) is not { } member)
        {
            return new OpenAiErrorResult(404, $"Key group {group} has no key.", OpenAiError.InvalidRequest, "key_group_not_found");
        }
        member.Health.Reenable();
        Log.KeyReenabled(loggers.CreateLogger("KeyPool.Admin"), group);
        return TypedResults.Ok(new { key_group = group, state = "active" });
    }
}
