using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Pii.Services.Shared;

/// <summary>
/// An S3 bucket from the AppHost's connection string <c>Endpoint=…;AccessKey=…;SecretKey=…;Bucket=…</c>, with the
/// client settings s3rver needs (PLATFORM.md: path style, checksums only when required). Uploads must also set
/// <c>UseChunkEncoding = false</c>.
/// </summary>
internal sealed record S3BucketConnection(Uri Endpoint, string AccessKey, string SecretKey, string Bucket)
{
    public static S3BucketConnection Parse(string connectionString)
    {
        var parts = connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.Split('=', 2))
            .ToDictionary(p => p[0], p => p.Length == 2 ? p[1] : "", StringComparer.OrdinalIgnoreCase);
        string Required(string key) => parts.TryGetValue(key, out var value) && value.Length > 0
            ? value
            : throw new FormatException($"The S3 connection string lacks '{key}'.");
        return new S3BucketConnection(new Uri(Required("Endpoint")), Required("AccessKey"), Required("SecretKey"), Required("Bucket"));
    }

    /// <summary>A client with those settings; <paramref name="configure"/> may add more (retries, timeouts).</summary>
    public AmazonS3Client CreateClient(Action<AmazonS3Config>? configure = null)
    {
        var config = new AmazonS3Config
        {
            ServiceURL = Endpoint.ToString(),
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        configure?.Invoke(config);
        return new(new BasicAWSCredentials(AccessKey, SecretKey), config);
    }
}

internal static class S3HealthChecks
{
    public static IHealthChecksBuilder AddBucketCheck(this IHealthChecksBuilder builder, string name, Func<S3BucketConnection> bucket) =>
        builder.AddAsyncCheck(name, async cancellationToken =>
        {
            var target = bucket();
            using var client = target.CreateClient();
            try
            {
                // A HEAD of the bucket: cheap whatever the bucket holds, and it proves the bucket exists and the keys work.
                await client.HeadBucketAsync(new HeadBucketRequest { BucketName = target.Bucket }, cancellationToken);
                return HealthCheckResult.Healthy();
            }
            catch (AmazonServiceException e)
            {
                return HealthCheckResult.Unhealthy($"bucket {target.Bucket}: {e.ErrorCode}");
            }
        });
}
