using System.Reflection;
using KeyPool.Hosting;
using Microsoft.Extensions.Logging;

namespace KeyPool.Tests.Hosting;

/// <summary>Operators filter and alert on log event ids: each id names one kind of line.</summary>
public sealed class LogEventIdTests
{
    [Fact]
    public void EveryLogLineHasAnEventIdOfItsOwn()
    {
        var lines = typeof(GatewayApp).Assembly.GetTypes()
            .SelectMany(type => type.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(method => (Method: $"{method.DeclaringType!.Name}.{method.Name}", Attribute: method.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(line => line.Attribute is not null)
            .ToArray();

        Assert.True(lines.Length > 40, $"only {lines.Length} log lines found: the scan no longer sees them");
        var shared = lines.GroupBy(line => line.Attribute!.EventId).Where(group => group.Count() > 1)
            .Select(group => $"{group.Key}: {string.Join(", ", group.Select(line => line.Method))}").ToArray();
        Assert.True(shared.Length == 0, "event ids used by more than one log line: " + string.Join("; ", shared));
    }
}
