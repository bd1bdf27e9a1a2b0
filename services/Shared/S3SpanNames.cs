using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Instrumentation.Http;

namespace Pii.Services.Shared;

/// <summary>
/// Names the HttpClient spans of S3 calls after the S3 operation and bucket ("S3 PutObject documents") instead of the
/// bare method ("PUT"), and tags them as the OpenTelemetry AWS conventions do (rpc.system aws-api, rpc.service S3,
/// rpc.method, aws.s3.bucket). AWSSDK.S3 sends through HttpClient, whose spans the HttpClient instrumentation records;
/// the operation follows from method, path-style path and query keys. The object key is not put in the name: it can
/// be any string a caller chose.
/// </summary>
internal static class S3SpanNames
{
    /// <summary>Applies <see cref="Describe"/> to the HttpClient spans of requests to <paramref name="endpoint"/>.</summary>
    public static IServiceCollection AddS3SpanNames(this IServiceCollection services, Uri endpoint) =>
        services.Configure<HttpClientTraceInstrumentationOptions>(options =>
        {
            var previous = options.EnrichWithHttpRequestMessage;
            options.EnrichWithHttpRequestMessage = (activity, request) =>
            {
                previous?.Invoke(activity, request);
                if (request.RequestUri is { } uri && Uri.Compare(uri, endpoint, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0
                    && Describe(request.Method, uri, request.Headers.Contains("x-amz-copy-source")) is { } call)
                {
                    Apply(activity, call);
                }
            };
        });

    public static void Apply(Activity activity, S3Call call)
    {
        activity.DisplayName = call.Bucket is null ? $"S3 {call.Operation}" : $"S3 {call.Operation} {call.Bucket}";
        activity.SetTag("rpc.system", "aws-api");
        activity.SetTag("rpc.service", "S3");
        activity.SetTag("rpc.method", call.Operation);
        if (call.Bucket is not null)
        {
            activity.SetTag("aws.s3.bucket", call.Bucket);
        }
    }

    /// <summary>The S3 operation of a path-style request (<c>/bucket[/key]</c>), or null when it is not one this maps.</summary>
    public static S3Call? Describe(HttpMethod method, Uri uri, bool copySource = false)
    {
        var path = uri.AbsolutePath.TrimStart('/');
        var slash = path.IndexOf('/', StringComparison.Ordinal);
        var bucket = slash < 0 ? path : path[..slash];
        var hasKey = slash >= 0 && slash < path.Length - 1;
        var query = QueryKeys(uri.Query);
        string? operation = method.Method switch
        {
            "GET" when bucket.Length == 0 => "ListBuckets",
            "GET" when query.Contains("uploadId") => "ListParts",
            "GET" when !hasKey && query.Contains("uploads") => "ListMultipartUploads",
            "GET" when !hasKey && query.Contains("list-type") => "ListObjectsV2",
            "GET" when !hasKey => "ListObjects",
            "GET" => "GetObject",
            "HEAD" => hasKey ? "HeadObject" : "HeadBucket",
            "PUT" when query.Contains("partNumber") && query.Contains("uploadId") => copySource ? "UploadPartCopy" : "UploadPart",
            "PUT" when hasKey => copySource ? "CopyObject" : "PutObject",
            "PUT" => "CreateBucket",
            "POST" when query.Contains("uploads") => "CreateMultipartUpload",
            "POST" when query.Contains("uploadId") => "CompleteMultipartUpload",
            "POST" when query.Contains("delete") => "DeleteObjects",
            "DELETE" when query.Contains("uploadId") => "AbortMultipartUpload",
            "DELETE" => hasKey ? "DeleteObject" : "DeleteBucket",
            _ => null,
        };
        return operation is null ? null : new S3Call(operation, bucket.Length == 0 ? null : Uri.UnescapeDataString(bucket));
    }

    private static HashSet<string> QueryKeys(string query)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            keys.Add(equals < 0 ? pair : pair[..equals]);
        }
        return keys;
    }
}

internal sealed record S3Call(string Operation, string? Bucket);
