extern alias documentservice;

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using documentservice::Pii.Services.Shared;

namespace Pii.DocumentService.Tests;

[Collection(DocumentServiceGroup.Name)]
public sealed class S3SpanNamesTests(DocumentServiceFixture fixture)
{
    [Fact]
    public async Task S3_client_spans_are_named_after_operation_and_bucket()
    {
        var names = new ConcurrentBag<(string Name, string? Method)>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => names.Add((activity.DisplayName, activity.GetTagItem("rpc.method") as string)),
        };
        ActivitySource.AddActivityListener(listener);
        var patient = await fixture.CreatePatientAsync();
        var id = await fixture.UploadOkAsync(patient, RandomNumberGenerator.GetBytes(1000));
        using var client = fixture.Client();
        (await client.GetAsync($"/api/documents/{id}")).EnsureSuccessStatusCode();

        Assert.Contains(("S3 CreateMultipartUpload documents", "CreateMultipartUpload"), names);
        Assert.Contains(("S3 UploadPart documents", "UploadPart"), names);
        Assert.Contains(("S3 CompleteMultipartUpload documents", "CompleteMultipartUpload"), names);
        Assert.Contains(("S3 GetObject documents", "GetObject"), names);
        // Calls to anything else keep the instrumentation's own name.
        Assert.DoesNotContain(names, n => n.Name.StartsWith("S3 ", StringComparison.Ordinal) && n.Method is null);
    }

    [Theory]
    [InlineData("PUT", "/documents/a/b.bin", false, "PutObject")]
    [InlineData("PUT", "/documents/a/b.bin?partNumber=2&uploadId=xyz", false, "UploadPart")]
    [InlineData("PUT", "/documents/a/b.bin", true, "CopyObject")]
    [InlineData("POST", "/documents/a/b.bin?uploads", false, "CreateMultipartUpload")]
    [InlineData("POST", "/documents/a/b.bin?uploadId=xyz", false, "CompleteMultipartUpload")]
    [InlineData("DELETE", "/documents/a/b.bin?uploadId=xyz", false, "AbortMultipartUpload")]
    [InlineData("DELETE", "/documents/a/b.bin", false, "DeleteObject")]
    [InlineData("GET", "/documents/a/b.bin", false, "GetObject")]
    [InlineData("HEAD", "/documents/a/b.bin", false, "HeadObject")]
    [InlineData("GET", "/documents?list-type=2&max-keys=1", false, "ListObjectsV2")]
    [InlineData("GET", "/documents/", false, "ListObjects")]
    [InlineData("POST", "/documents?delete", false, "DeleteObjects")]
    [InlineData("HEAD", "/documents", false, "HeadBucket")]
    public void Operations_follow_from_method_path_and_query(string method, string pathAndQuery, bool copySource, string operation)
    {
        var call = S3SpanNames.Describe(new HttpMethod(method), new Uri("http://127.0.0.1:4569" + pathAndQuery), copySource);

        Assert.Equal(new S3Call(operation, "documents"), call);
    }
}
