using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Amazon.S3.Model;

namespace Pii.DocumentService.Tests;

[Collection(DocumentServiceGroup.Name)]
public sealed class DocumentsApiTests(DocumentServiceFixture fixture)
{
    private const int Frame = 64 * 1024;

    [Theory]
    [InlineData(1)]
    [InlineData(Frame - 1)]
    [InlineData(Frame)]
    [InlineData(Frame + 1)]
    [InlineData(3 * Frame + 1)]
    [InlineData(12 * 1024 * 1024 + 17)]
    public async Task Upload_then_download_is_identical_and_the_object_is_ciphertext(int size)
    {
        var patient = await fixture.CreatePatientAsync();
        var content = RandomNumberGenerator.GetBytes(size);
        var id = await fixture.UploadOkAsync(patient, content, "Röntgen befund.pdf");

        using var client = fixture.Client();
        using var response = await client.GetAsync($"/api/documents/{id}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/pdf", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(size, response.Content.Headers.ContentLength);
        Assert.Equal("Röntgen befund.pdf", response.Content.Headers.ContentDisposition!.FileNameStar);
        Assert.Equal(content, await response.Content.ReadAsByteArrayAsync());

        // The stored object is an ESDK v2 message (version 0x02, suite 0x0478) and does not contain the plaintext.
        var ciphertext = await fixture.StoredObjectAsync(await fixture.ObjectKeyAsync(id));
        Assert.Equal(new byte[] { 0x02, 0x04, 0x78 }, ciphertext[..3]);
        Assert.True(ciphertext.Length > size);
        if (size >= 16) Assert.False(ciphertext.AsSpan().IndexOf(content.AsSpan(0, 16)) >= 0);
    }

    [Fact]
    public async Task Ranges_return_206_with_only_the_requested_bytes_and_416_outside()
    {
        var patient = await fixture.CreatePatientAsync();
        var content = RandomNumberGenerator.GetBytes(5 * Frame + 123);
        var id = await fixture.UploadOkAsync(patient, content);
        using var client = fixture.Client();

        foreach (var (header, start, end) in new[]
        {
            ("bytes=0-0", 0L, 0L), ("bytes=100-200", 100, 200), ($"bytes={Frame - 1}-{Frame}", Frame - 1, Frame),
            ($"bytes={2 * Frame + 5}-", 2 * Frame + 5, content.Length - 1), ("bytes=-10", content.Length - 10, content.Length - 1),
            ($"bytes=0-{content.Length + 1000}", 0, content.Length - 1),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/documents/{id}");
            request.Headers.TryAddWithoutValidation("Range", header);
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
            Assert.Equal($"bytes {start}-{end}/{content.Length}", response.Content.Headers.ContentRange!.ToString());
            Assert.Equal(content[(int)start..(int)(end + 1)], await response.Content.ReadAsByteArrayAsync());
        }

        using var outside = new HttpRequestMessage(HttpMethod.Get, $"/api/documents/{id}");
        outside.Headers.TryAddWithoutValidation("Range", $"bytes={content.Length}-");
        using var unsatisfiable = await client.SendAsync(outside);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, unsatisfiable.StatusCode);
        Assert.Equal($"bytes */{content.Length}", unsatisfiable.Content.Headers.ContentRange!.ToString());
        Assert.Equal("application/problem+json", unsatisfiable.Content.Headers.ContentType!.MediaType);

        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/api/documents/{id}"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(content.Length, head.Content.Headers.ContentLength);
        Assert.Equal("bytes", head.Headers.AcceptRanges.Single());
    }

    [Fact]
    public async Task Multipart_form_upload_from_a_browser_form_works()
    {
        var patient = await fixture.CreatePatientAsync();
        var content = RandomNumberGenerator.GetBytes(300_000);
        using var client = fixture.Client();
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(content);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
        form.Add(new StringContent("note"), "comment");
        form.Add(file, "file", "chest.dcm");
        using var response = await client.PostAsync($"/api/patients/{patient}/documents", form);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var info = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("chest.dcm", info!["fileName"]!.GetValue<string>());
        Assert.Equal("application/dicom", info["contentType"]!.GetValue<string>());
        Assert.Equal(content.Length, info["size"]!.GetValue<long>());
        Assert.Equal(content, await client.GetByteArrayAsync($"/api/documents/{info["id"]}"));
    }

    [Fact]
    public async Task List_search_delete_and_patient_erasure()
    {
        var patient = await fixture.CreatePatientAsync();
        var unique = $"Report {Guid.NewGuid():N}.pdf";
        var first = await fixture.UploadOkAsync(patient, [1, 2, 3], unique);
        var second = await fixture.UploadOkAsync(patient, [4, 5, 6], "other.pdf");
        using var client = fixture.Client();

        var listed = await client.GetFromJsonAsync<JsonArray>($"/api/patients/{patient}/documents");
        Assert.Equal(2, listed!.Count);
        var found = await client.GetFromJsonAsync<JsonArray>($"/api/documents?fileName={Uri.EscapeDataString(unique.ToUpperInvariant())}");
        Assert.Equal(first.ToString(), Assert.Single(found!)!["id"]!.GetValue<string>());

        using (var deleted = await client.DeleteAsync($"/api/documents/{first}")) Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using (var gone = await client.GetAsync($"/api/documents/{first}")) Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);

        using var admin = fixture.Client(DocumentServiceFixture.AdminKey);
        using (var erased = await admin.DeleteAsync($"/api/patients/{patient}")) Assert.Equal(HttpStatusCode.NoContent, erased.StatusCode);
        using (var gone = await client.GetAsync($"/api/documents/{second}")) Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        using var s3 = fixture.S3();
        var objects = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "documents", Prefix = $"patients/{patient:N}/" });
        Assert.Empty(objects.S3Objects ?? []);
    }

    [Fact]
    public async Task Every_read_is_in_the_access_log_for_the_auditor()
    {
        var patient = await fixture.CreatePatientAsync();
        var id = await fixture.UploadOkAsync(patient, [9, 9, 9]);
        using var client = fixture.Client();
        await client.GetByteArrayAsync($"/api/documents/{id}");
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/documents/{id}");
        request.Headers.TryAddWithoutValidation("Range", "bytes=1-1");
        using (await client.SendAsync(request)) { }

        using var auditor = fixture.Client(DocumentServiceFixture.AuditorKey);
        var log = await auditor.GetFromJsonAsync<JsonArray>($"/api/audit/access-log?documentId={id}");
        var reads = log!.Where(e => e!["action"]!.GetValue<string>() == "document.read").Select(e => e!["outcome"]!.GetValue<string>()).ToList();
        Assert.Equal(["whole", "bytes 1-1"], reads);
        using var clinicianLog = await client.GetAsync("/api/audit/access-log");
        Assert.Equal(HttpStatusCode.Forbidden, clinicianLog.StatusCode);
    }
}
