using KeyPool.Core.Budgets;
using KeyPool.Core.Routing;
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
    IValidateOptions<KeysOptions>
{
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
        (!options.BaseUrl.IsAbsoluteUri || options.BaseUrl.Scheme is not ("http" or "https"),
            $"KeyPool:Upstream:BaseUrl must be an absolute http(s) URL, not '{options.BaseUrl}'."),
        (options.Timeout <= TimeSpan.Zero, $"KeyPool:Upstream:Timeout must be positive, not {options.Timeout}."),
        (options.ConnectTimeout <= TimeSpan.Zero, $"KeyPool:Upstream:ConnectTimeout must be positive, not {options.ConnectTimeout}."));

    public ValidateOptionsResult Validate(string? name, UsersOptions options) => Result(
        (options.CacheSize < 2, $"KeyPool:Users:CacheSize must be at least 2, not {options.CacheSize}."),
        (string.IsNullOrWhiteSpace(options.DefaultTier), "KeyPool:Users:DefaultTier must not be empty."));

    public ValidateOptionsResult Validate(string? name, LimitsOptions options) => Result(
        (options.MaxRequestBodyBytes <= 0, $"KeyPool:Limits:MaxRequestBodyBytes must be positive, not {options.MaxRequestBodyBytes}."));

    public ValidateOptionsResult Validate(string? name, UsageOptions options) => Result(
        (options.FlushInterval <= TimeSpan.Zero || options.FlushInterval > TimeSpan.FromSeconds(1),
            $"KeyPool:Usage:FlushInterval must be more than 0 and at most 1 s, not {options.FlushInterval}."));

    private static ValidateOptionsResult Result(params (bool Failed, string Message)[] checks)
    {
        var failures = checks.Where(c => c.Failed).Select(c => c.Message).ToArray();
        return failures.Length == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
