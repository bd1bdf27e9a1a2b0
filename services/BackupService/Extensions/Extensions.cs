using MySql.Data.MySqlClient;
using Npgsql;
using Pii.ServiceDefaults.Data;
using Pii.Services.Shared;

namespace Pii.BackupService.Extensions;

internal static class Extensions
{
    /// <summary>The databases it dumps (records, analytics, dnc — read-only users), the backups bucket, the key service.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        MySqlCharsetShim.Apply();
        string Required(string name) => builder.Configuration.GetConnectionString(name) ?? throw new InvalidOperationException($"ConnectionStrings:{name} is not set.");
        var records = Required("records");
        var analytics = Required("analytics");
        var dnc = Required("dnc");
        var backups = S3BucketConnection.Parse(Required("backups"));
        builder.Services.AddKeyServiceClient(builder.Configuration);
        builder.Services.AddHealthChecks()
            .AddDatabaseCheck("postgres-records", () => new NpgsqlConnection(records))
            .AddDatabaseCheck("postgres-analytics", () => new NpgsqlConnection(analytics))
            .AddDatabaseCheck("mysql", () => new MySqlConnection(dnc))
            .AddBucketCheck("s3", () => backups)
            .AddKeyServiceCheck();
    }
}
