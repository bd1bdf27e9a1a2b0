using Pii.Services.Shared;

namespace Pii.BackupService.Extensions;

internal static class Extensions
{
    /// <summary>The databases it dumps (records, analytics, dnc — read-only users), the backups bucket, the key service.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // Each data source with its health check, traces and metrics (keyed: two PostgreSQL databases).
        builder.AddKeyedNpgsqlDataSource("records");
        builder.AddKeyedNpgsqlDataSource("analytics");
        builder.AddMySqlDataSource("dnc");
        var backups = S3BucketConnection.Parse(builder.Configuration.GetConnectionString("backups")
            ?? throw new InvalidOperationException("ConnectionStrings:backups is not set."));
        builder.Services.AddS3SpanNames(backups.Endpoint);
        builder.Services.AddKeyServiceClient(builder.Configuration);
        builder.Services.AddHealthChecks()
            .AddBucketCheck("s3", () => backups)
            .AddKeyServiceCheck();
    }
}
