using Npgsql;
using Pii.Services.Shared;

namespace Pii.DocumentService.Extensions;

internal static class Extensions
{
    /// <summary>PostgreSQL metadata (ConnectionStrings:records), the documents bucket (ConnectionStrings:documents), the key service.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        var records = builder.Configuration.GetConnectionString("records") ?? throw new InvalidOperationException("ConnectionStrings:records is not set.");
        var documents = S3BucketConnection.Parse(builder.Configuration.GetConnectionString("documents") ?? throw new InvalidOperationException("ConnectionStrings:documents is not set."));
        builder.Services.AddKeyServiceClient(builder.Configuration);
        builder.Services.AddHealthChecks()
            .AddDatabaseCheck("postgres", () => new NpgsqlConnection(records))
            .AddBucketCheck("s3", () => documents)
            .AddKeyServiceCheck();
    }
}
