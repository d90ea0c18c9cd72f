using KeyPool.Core.Budgets;
using KeyPool.Core.Health;
using KeyPool.Core.KeyHealth;
using KeyPool.Core.Routing;
using KeyPool.Proxy;
using Microsoft.Extensions.Options;

namespace KeyPool.Configuration;

/// <summary>Checks every section at start and names each bad value with its setting.</summary>
internal sealed class OptionsValidation :
    IValidateOptions<GatewayOptions>,
    IValidateOptions<UpstreamOptions>,
    IValidateOptions<UsersOptions>,
    IValidateOptions<LimitsOptions>,
    IValidateOptions<UsageOptions>,
    IValidateOptions<RoutingOptions>,
    IValidateOptions<BudgetOptions>,
    IValidateOptions<KeysOptions>,
    IValidateOptions<KeyHealthOptions>,
    IValidateOptions<ForwardedHeadersSettings>,
    IValidateOptions<Models.ModelsOptions>,
    IValidateOptions<CapacityOptions>,
    IValidateOptions<Dictionary<string, TierOptions>>
{
    public ValidateOptionsResult Validate(string? name, Models.ModelsOptions options) => Result(
    [
        (options.RefreshInterval < TimeSpan.FromSeconds(10), $"KeyPool:Models:RefreshInterval must be at least 10 s, not {options.RefreshInterval}."),
        .. options.Aliases.Where(a => string.IsNullOrWhiteSpace(a.Value)).Select(a => (true, $"KeyPool:Models:Aliases:{a.Key} must name a model.")),
    ]);

    public ValidateOptionsResult Validate(string? name, ForwardedHeadersSettings options) => Result(
    [
        .. options.KnownProxies.Select(p => (!System.Net.IPAddress.TryParse(p, out _), $"KeyPool:ForwardedHeaders:KnownProxies: '{p}' is not an IP address.")),
        .. options.KnownNetworks.Select(n => (!System.Net.IPNetwork.TryParse(n, out _), $"KeyPool:ForwardedHeaders:KnownNetworks: '{n}' is not a network such as 10.0.0.0/16.")),
    ]);

    public ValidateOptionsResult Validate(string? name, KeyHealthOptions options) => Result(
        (options.BreakerFailures < 1, $"KeyPool:Health:BreakerFailures must be at least 1, not {options.BreakerFailures}."),
        (options.BreakerOpenFor <= TimeSpan.Zero, $"KeyPool:Health:BreakerOpenFor must be positive, not {options.BreakerOpenFor}."),
        (options.CooldownBase <= TimeSpan.Zero, $"KeyPool:Health:CooldownBase must be positive, not {options.CooldownBase}."),
        (options.CooldownMax < options.CooldownBase, $"KeyPool:Health:CooldownMax ({options.CooldownMax}) must not be shorter than CooldownBase ({options.CooldownBase})."),
        (options.ModelDeniedFor <= TimeSpan.Zero, $"KeyPool:Health:ModelDeniedFor must be positive, not {options.ModelDeniedFor}."),
        (options.RevokedProbeInterval <= TimeSpan.Zero, $"KeyPool:Health:RevokedProbeInterval must be positive, not {options.RevokedProbeInterval}."));

    public ValidateOptionsResult Validate(string? name, CapacityOptions options) => Result(
        (options.DailyUsersPerKey < 1, $"KeyPool:Capacity:DailyUsersPerKey must be at least 1, not {options.DailyUsersPerKey}."),
        (options.ConcurrentUsersPerKey < 1, $"KeyPool:Capacity:ConcurrentUsersPerKey must be at least 1, not {options.ConcurrentUsersPerKey}."),
        (options.RequestsPerDayPerKey < 1, $"KeyPool:Capacity:RequestsPerDayPerKey must be at least 1, not {options.RequestsPerDayPerKey}."));

    public ValidateOptionsResult Validate(string? name, Dictionary<string, TierOptions> options) => Result(
        options.SelectMany(t => new (bool, string)[]
        {
            (t.Key.Length > 64, $"KeyPool:Tiers: a tier name must be at most 64 characters, not {t.Key.Length}."),
            (t.Value.Model is { } model && (string.IsNullOrWhiteSpace(model) || model.Length > 256),
                $"KeyPool:Tiers:{t.Key}:Model must be a model name (1 to 256 characters) or unset."),
            (t.Value.RequestsPerMinute is < 1, $"KeyPool:Tiers:{t.Key}:RequestsPerMinute must be at least 1 or unset, not {t.Value.RequestsPerMinute}."),
            (t.Value.TokensPerMinute is < 1, $"KeyPool:Tiers:{t.Key}:TokensPerMinute must be at least 1 or unset, not {t.Value.TokensPerMinute}."),
            (t.Value.TokensPerDay is < 1, $"KeyPool:Tiers:{t.Key}:TokensPerDay must be at least 1 or unset, not {t.Value.TokensPerDay}."),
            (t.Value.UsdPerDay is <= 0, $"KeyPool:Tiers:{t.Key}:UsdPerDay must be above 0 or unset, not {t.Value.UsdPerDay}."),
            (t.Value.UsdPerMonth is <= 0, $"KeyPool:Tiers:{t.Key}:UsdPerMonth must be above 0 or unset, not {t.Value.UsdPerMonth}."),
        }).ToArray());

    public ValidateOptionsResult Validate(string? name, RoutingOptions options) => Result(
        (!KeySelectionPolicies.All.Contains(options.Policy, StringComparer.OrdinalIgnoreCase),
            $"KeyPool:Routing:Policy '{options.Policy}' is unknown: use one of {string.Join(", ", KeySelectionPolicies.All)}."),
        (options.MaxQueueWait < TimeSpan.Zero, $"KeyPool:Routing:MaxQueueWait must not be negative, not {options.MaxQueueWait}."),
        (options.MaxQueueLength < 0, $"KeyPool:Routing:MaxQueueLength must not be negative, not {options.MaxQueueLength}."),
        (options.MaxAttempts is < 1 or > 10, $"KeyPool:Routing:MaxAttempts must be 1 to 10, not {options.MaxAttempts}."));

    public ValidateOptionsResult Validate(string? name, BudgetOptions options) => Result(
        (options.RequestsPerMinute < 1, $"KeyPool:Budgets:RequestsPerMinute must be at least 1, not {options.RequestsPerMinute}."),
        (options.TokensPerMinute < 1, $"KeyPool:Budgets:TokensPerMinute must be at least 1, not {options.TokensPerMinute}."),
        (options.BurstSeconds is < 1 or > 60, $"KeyPool:Budgets:BurstSeconds must be from 1 to 60, not {options.BurstSeconds}."),
        (options.DefaultCompletionTokens < 0, $"KeyPool:Budgets:DefaultCompletionTokens must not be negative, not {options.DefaultCompletionTokens}."),
        (options.BytesPerPromptToken < 1, $"KeyPool:Budgets:BytesPerPromptToken must be at least 1, not {options.BytesPerPromptToken}."));

    public ValidateOptionsResult Validate(string? name, KeysOptions options) => Result(
        options.Groups.SelectMany(g => new (bool, string)[]
        {
            (g.Key < 1, $"KeyPool:Keys:Groups:{g.Key}: group numbers start at 1."),
            (g.Value.RequestsPerMinute is < 1, $"KeyPool:Keys:Groups:{g.Key}:RequestsPerMinute must be at least 1, not {g.Value.RequestsPerMinute}."),
            (g.Value.TokensPerMinute is < 1, $"KeyPool:Keys:Groups:{g.Key}:TokensPerMinute must be at least 1, not {g.Value.TokensPerMinute}."),
        }).Append((options.CheckTimeout <= TimeSpan.Zero, $"KeyPool:Keys:CheckTimeout must be positive, not {options.CheckTimeout}.")).ToArray());

    // Client tokens are no longer required on their own: any configured way to call will do (AuthOptionsValidation).
    public ValidateOptionsResult Validate(string? name, GatewayOptions options) => Result(AuthOptionsValidation.Checks(options).ToArray());

    public ValidateOptionsResult Validate(string? name, UpstreamOptions options) => Result(
    [
        (!options.BaseUrl.IsAbsoluteUri || options.BaseUrl.Scheme is not ("http" or "https"),
            $"KeyPool:Upstream:BaseUrl must be an absolute http(s) URL, not '{options.BaseUrl}'."),
        (options.BaseUrl.IsAbsoluteUri && options.BaseUrl.Scheme == "http" && !AuthOptionsValidation.IsLoopback(options.BaseUrl) && !options.AllowInsecureHttp,
            $"KeyPool:Upstream:BaseUrl '{options.BaseUrl}' is plain http to another machine: the keys would cross the network in clear. Use https, or set KeyPool:Upstream:AllowInsecureHttp=true."),
        (options.Timeout <= TimeSpan.Zero, $"KeyPool:Upstream:Timeout must be positive, not {options.Timeout}."),
        (options.MaxBufferedAnswerBytes < 1024, $"KeyPool:Upstream:MaxBufferedAnswerBytes must be at least 1024, not {options.MaxBufferedAnswerBytes}."),
        (options.ConnectTimeout <= TimeSpan.Zero, $"KeyPool:Upstream:ConnectTimeout must be positive, not {options.ConnectTimeout}."),
        .. (options.AllowedPaths ?? []).Concat(options.ClientTokenAllowedPaths).Where(e => !IsEndpointEntry(e))
            .Select(e => (true, $"KeyPool:Upstream allowed path '{e}' must read 'METHOD path', e.g. 'POST chat/completions' ('*' is one segment).")),
    ]);

    private static bool IsEndpointEntry(string entry) =>
        entry.Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is [var method, var path]
        && method.All(char.IsAsciiLetter) && EndpointAllowList.IsClean(path.Trim('/').Replace("*", "x", StringComparison.Ordinal));

    public ValidateOptionsResult Validate(string? name, UsersOptions options) => Result(
        (options.CacheSize < 2, $"KeyPool:Users:CacheSize must be at least 2, not {options.CacheSize}."),
        (options.LimitCounters < 2, $"KeyPool:Users:LimitCounters must be at least 2, not {options.LimitCounters}."),
        (string.IsNullOrWhiteSpace(options.DefaultTier), "KeyPool:Users:DefaultTier must not be empty."));

    public ValidateOptionsResult Validate(string? name, LimitsOptions options) => Result(
        (options.MaxRequestBodyBytes <= 0, $"KeyPool:Limits:MaxRequestBodyBytes must be positive, not {options.MaxRequestBodyBytes}."),
        (options.MaxConcurrentRequests < 1, $"KeyPool:Limits:MaxConcurrentRequests must be at least 1, not {options.MaxConcurrentRequests}."),
        (options.MaxConcurrentRequestsPerUser < 0, $"KeyPool:Limits:MaxConcurrentRequestsPerUser must be 0 (a sixteenth of MaxConcurrentRequests) or more, not {options.MaxConcurrentRequestsPerUser}."),
        (options.MaxBufferedBodyBytes < options.MaxRequestBodyBytes, $"KeyPool:Limits:MaxBufferedBodyBytes ({options.MaxBufferedBodyBytes}) must be at least MaxRequestBodyBytes ({options.MaxRequestBodyBytes})."),
        (options.MaxMessages < 1, $"KeyPool:Limits:MaxMessages must be at least 1, not {options.MaxMessages}."),
        (options.RequestHeadersTimeout <= TimeSpan.Zero, $"KeyPool:Limits:RequestHeadersTimeout must be positive, not {options.RequestHeadersTimeout}."),
        (options.MinRequestBodyBytesPerSecond <= 0, $"KeyPool:Limits:MinRequestBodyBytesPerSecond must be positive, not {options.MinRequestBodyBytesPerSecond}."),
        (options.MinRequestBodyGracePeriod <= TimeSpan.FromSeconds(1), $"KeyPool:Limits:MinRequestBodyGracePeriod must be more than 1 s (Kestrel's minimum), not {options.MinRequestBodyGracePeriod}."));

    public ValidateOptionsResult Validate(string? name, UsageOptions options) => Result(
        (options.FlushInterval <= TimeSpan.Zero || options.FlushInterval > TimeSpan.FromSeconds(1),
            $"KeyPool:Usage:FlushInterval must be more than 0 and at most 1 s, not {options.FlushInterval}."),
        (options.MaxPendingUserRows < 1, $"KeyPool:Usage:MaxPendingUserRows must be at least 1, not {options.MaxPendingUserRows}."));

    /// <summary>
    /// Validates every section at once and throws one <see cref="OptionsValidationException"/> listing all problems.
    /// Hosted services read options in their constructors, which would otherwise report only the first bad section.
    /// </summary>
    public static void ThrowIfAnyInvalid(IServiceProvider services)
    {
        Type[] sections =
        [
            typeof(GatewayOptions), typeof(KeysOptions), typeof(UpstreamOptions), typeof(UsersOptions), typeof(LimitsOptions),
            typeof(UsageOptions), typeof(RoutingOptions), typeof(BudgetOptions), typeof(KeyHealthOptions), typeof(CapacityOptions),
            typeof(Dictionary<string, TierOptions>), typeof(ForwardedHeadersSettings), typeof(Models.ModelsOptions),
        ];
        var failures = new List<string>();
        foreach (var section in sections)
        {
            var options = services.GetRequiredService(typeof(IOptions<>).MakeGenericType(section));
            try
            {
                _ = options.GetType().GetProperty(nameof(IOptions<object>.Value))!.GetValue(options);
            }
            catch (System.Reflection.TargetInvocationException exception) when (exception.InnerException is OptionsValidationException invalid)
            {
                failures.AddRange(invalid.Failures);
            }
        }
        if (failures.Count > 0)
        {
            throw new OptionsValidationException("KeyPool", typeof(OptionsValidation), failures);
        }
    }

    private static ValidateOptionsResult Result(params (bool Failed, string Message)[] checks)
    {
        var failures = checks.Where(c => c.Failed).Select(c => c.Message).ToArray();
        return failures.Length == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
