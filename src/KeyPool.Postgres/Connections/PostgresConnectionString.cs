using Npgsql;

namespace KeyPool.Postgres.Connections;

/// <summary>
/// Accepts both forms a user may paste: Npgsql's <c>Host=…;Database=…</c> and the URI that Supabase and
/// most hosts show (<c>postgresql://user:password@host:5432/db?sslmode=require</c>).
/// </summary>
public static class PostgresConnectionString
{
    /// <summary>True when <paramref name="value"/> names a PostgreSQL server (a URI, or a Host/Server key).</summary>
    public static bool IsPostgres(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }
        var trimmed = value.TrimStart();
        if (trimmed.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        foreach (var part in trimmed.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var key = part.Split('=', 2)[0].Trim();
            if (key.Equals("Host", StringComparison.OrdinalIgnoreCase) || key.Equals("Server", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The Npgsql form of <paramref name="value"/>.</summary>
    public static string Normalize(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        var trimmed = value.Trim();
        if (!trimmed.Contains("://", StringComparison.Ordinal))
        {
            return new NpgsqlConnectionStringBuilder(trimmed).ConnectionString;
        }
        var uri = new Uri(trimmed);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.Port > 0 ? uri.Port : 5432,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')) is { Length: > 0 } db ? db : "postgres",
        };
        if (uri.UserInfo.Length > 0)
        {
            var (user, password) = uri.UserInfo.IndexOf(':', StringComparison.Ordinal) is var colon and >= 0
                ? (uri.UserInfo[..colon], uri.UserInfo[(colon + 1)..])
                : (uri.UserInfo, "");
            builder.Username = Uri.UnescapeDataString(user);
            if (password.Length > 0)
            {
                builder.Password = Uri.UnescapeDataString(password);
            }
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, text) = pair.IndexOf('=', StringComparison.Ordinal) is var eq and >= 0
                ? (Uri.UnescapeDataString(pair[..eq]), Uri.UnescapeDataString(pair[(eq + 1)..]))
                : (Uri.UnescapeDataString(pair), "");
            switch (key.ToLowerInvariant())
            {
                case "sslmode":
                    builder.SslMode = Enum.Parse<SslMode>(text.Replace("-", "", StringComparison.Ordinal), ignoreCase: true);
                    break;
                case "application_name":
                    builder.ApplicationName = text;
                    break;
                case "connect_timeout":
                    builder.Timeout = int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
                    break;
                default:
                    builder[key] = text; // Npgsql's own keywords pass through; unknown ones are reported by it
                    break;
            }
        }
        return builder.ConnectionString;
    }
}
