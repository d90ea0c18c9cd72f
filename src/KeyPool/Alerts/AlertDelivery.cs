using System.Net.Http.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace KeyPool.Alerts;

/// <summary>
/// Posts alert messages to the webhooks, each webhook in its own background loop, in order: a failed post is retried
/// with doubling waits (from <c>FirstRetryDelay</c>, at most 5 min) up to <c>DeliveryAttempts</c> tries, then given up
/// and counted. Nothing here is ever awaited by a request.
/// </summary>
internal sealed partial class AlertDelivery : BackgroundService
{
    private static readonly TimeSpan MaxDelay = TimeSpan.FromMinutes(5);

    private readonly AlertOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<AlertDelivery> _logger;
    private readonly HttpClient _http;
    private readonly (WebhookOptions Hook, Channel<AlertMessage> Queue)[] _hooks;
    private long _delivered;
    private long _failed;

    public AlertDelivery(IOptions<AlertOptions> options, TimeProvider time, ILogger<AlertDelivery> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        _http = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, ActivityHeadersPropagator = null })
        {
            Timeout = TimeSpan.FromSeconds(10),
        };
        _hooks = [.. _options.Webhooks.Where(w => w.Url is not null).Select(w => (w, Channel.CreateBounded<AlertMessage>(
            new BoundedChannelOptions(1000) { SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest })))];
    }

    public bool Enabled => _hooks.Length > 0;

    public long Delivered => Interlocked.Read(ref _delivered);

    public long Failed => Interlocked.Read(ref _failed);

    public void Enqueue(AlertMessage message)
    {
        foreach (var (_, queue) in _hooks)
        {
            queue.Writer.TryWrite(message);
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_hooks.Select(h => Task.Run(() => DeliverAllAsync(h.Hook, h.Queue.Reader, stoppingToken), stoppingToken)));

    private async Task DeliverAllAsync(WebhookOptions hook, ChannelReader<AlertMessage> queue, CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var message in queue.ReadAllAsync(stoppingToken))
            {
                await DeliverAsync(hook, message, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task DeliverAsync(WebhookOptions hook, AlertMessage message, CancellationToken stoppingToken)
    {
        var delay = _options.FirstRetryDelay > TimeSpan.Zero ? _options.FirstRetryDelay : TimeSpan.FromSeconds(1);
        var attempts = Math.Max(1, _options.DeliveryAttempts);
        for (var attempt = 1; ; attempt++)
        {
            string problem;
            try
            {
                using var response = await _http.PostAsync(hook.Url, Body(hook.Format, message), stoppingToken);
                if (response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref _delivered);
                    LogDelivered(_logger, message.Status, message.Id, hook.Url!.Host);
                    return;
                }
                problem = $"status {(int)response.StatusCode}";
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !stoppingToken.IsCancellationRequested)
            {
                problem = exception.GetType().Name;
            }
            if (attempt >= attempts)
            {
                Interlocked.Increment(ref _failed);
                LogGaveUp(_logger, message.Status, message.Id, hook.Url!.Host, attempts, problem);
                return;
            }
            LogRetrying(_logger, message.Status, message.Id, hook.Url!.Host, problem, delay.TotalSeconds);
            await Task.Delay(delay, _time, stoppingToken);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxDelay.Ticks));
        }
    }

    internal static HttpContent Body(string format, AlertMessage message) =>
        string.Equals(format, AlertFormats.Slack, StringComparison.OrdinalIgnoreCase)
            ? JsonContent.Create(new SlackBody(message.Text()), AlertJson.Default.SlackBody)
            : JsonContent.Create(new JsonBody(message.Status, message.Kind, message.KeyGroup, message.Reason, message.Time, message.Since, message.Instance, message.Text()), AlertJson.Default.JsonBody);

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }

    internal sealed record SlackBody([property: JsonPropertyName("text")] string Text);

    internal sealed record JsonBody(
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("alert")] string Alert,
        [property: JsonPropertyName("key_group")] int? KeyGroup,
        [property: JsonPropertyName("reason")] string Reason,
        [property: JsonPropertyName("time")] DateTimeOffset Time,
        [property: JsonPropertyName("since")] DateTimeOffset Since,
        [property: JsonPropertyName("instance")] string Instance,
        [property: JsonPropertyName("text")] string Text);

    [LoggerMessage(1911, LogLevel.Information, "Alert {Status} {Alert} delivered to {Host}")]
    private static partial void LogDelivered(ILogger logger, string status, string alert, string host);

    [LoggerMessage(1912, LogLevel.Warning, "Alert {Status} {Alert} to {Host} failed ({Problem}); retrying in {Seconds} s")]
    private static partial void LogRetrying(ILogger logger, string status, string alert, string host, string problem, double seconds);

    [LoggerMessage(1913, LogLevel.Error, "Alert {Status} {Alert} to {Host} given up after {Attempts} tries ({Problem})")]
    private static partial void LogGaveUp(ILogger logger, string status, string alert, string host, int attempts, string problem);
}

[JsonSerializable(typeof(AlertDelivery.SlackBody))]
[JsonSerializable(typeof(AlertDelivery.JsonBody))]
internal sealed partial class AlertJson : JsonSerializerContext;
