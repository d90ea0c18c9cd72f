using Microsoft.Extensions.Options;

namespace KeyPool.Configuration;

/// <summary>Checks every section at start and names each bad value with its setting.</summary>
internal sealed class OptionsValidation :
    IValidateOptions<GatewayOptions>,
    IValidateOptions<UpstreamOptions>,
    IValidateOptions<UsersOptions>,
    IValidateOptions<LimitsOptions>,
    IValidateOptions<UsageOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options) => Result(
        (options.ClientTokens.Count(t => !string.IsNullOrWhiteSpace(t)) == 0,
            "KeyPool:ClientTokens is empty: set at least one client token (e.g. KeyPool__ClientTokens__0) so callers can authenticate."));

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
