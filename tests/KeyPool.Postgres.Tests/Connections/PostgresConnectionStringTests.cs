using KeyPool.Postgres.Connections;
using Npgsql;

namespace KeyPool.Postgres.Tests.Connections;

public sealed class PostgresConnectionStringTests
{
    [Theory]
    [InlineData("Host=db;Database=keypool", true)]
    [InlineData("server=db;database=keypool", true)]
    [InlineData("postgresql://u:p@db:5432/keypool", true)]
    [InlineData("postgres://db/keypool", true)]
    [InlineData("Data Source=keypool.db", false)]
    [InlineData("keypool.db", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void IsPostgres_RecognisesBothForms(string? value, bool expected) =>
        Assert.Equal(expected, PostgresConnectionString.IsPostgres(value));

    [Fact]
    public void Normalize_SupabaseUri_BecomesNpgsqlKeywords()
    {
        var normalized = PostgresConnectionString.Normalize(
            "postgresql://postgres.abcd:p%40ss%3Aword@aws-0-eu-central-1.pooler.supabase.com:5432/postgres?sslmode=require&application_name=kp");

        var builder = new NpgsqlConnectionStringBuilder(normalized);
        Assert.Equal("aws-0-eu-central-1.pooler.supabase.com", builder.Host);
        Assert.Equal(5432, builder.Port);
        Assert.Equal("postgres", builder.Database);
        Assert.Equal("postgres.abcd", builder.Username);
        Assert.Equal("p@ss:word", builder.Password);
        Assert.Equal(SslMode.Require, builder.SslMode);
        Assert.Equal("kp", builder.ApplicationName);
    }

    [Fact]
    public void Normalize_KeywordForm_IsKept()
    {
        var builder = new NpgsqlConnectionStringBuilder(PostgresConnectionString.Normalize("Host=db;Port=6000;Database=kp;Username=u"));

        Assert.Equal(("db", 6000, "kp", "u"), (builder.Host, builder.Port, builder.Database, builder.Username));
    }
}
