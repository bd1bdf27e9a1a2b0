using System.Security.Cryptography;
using Amazon.S3.Model;
using Dapper;
using Npgsql;
using Pii.Testing;

namespace Pii.DocumentService.Tests;

/// <summary>
/// <c>pii stream … --transit-key</c> against the real key service: its own round trip, and an object written by
/// DocumentService, fetched straight from S3, decrypts with the CLI (the documented recovery path).
/// </summary>
[Collection(DocumentServiceGroup.Name)]
public sealed class RecoveryCliTests(DocumentServiceFixture fixture)
{
    [Fact]
    public async Task Cli_round_trip_with_the_transit_key()
    {
        var plaintext = RandomNumberGenerator.GetBytes(200_000);
        var (code, ciphertext, _) = await PiiAsync(plaintext, "stream", "encrypt", "--transit-key", "documents", "--context", """{"purpose":"cli"}""");
        Assert.Equal(0, code);
        var (decrypted, output, _) = await PiiAsync(ciphertext, "stream", "decrypt", "--transit-key", "documents");
        Assert.Equal(0, decrypted);
        Assert.Equal(plaintext, output);

        ciphertext[ciphertext.Length / 2] ^= 1;
        var (rejected, partial, _) = await PiiAsync(ciphertext, "stream", "decrypt", "--transit-key", "documents");
        Assert.Equal(1, rejected);
        Assert.True(partial.Length < plaintext.Length);
    }

    [Fact]
    public async Task A_document_object_from_s3_decrypts_with_the_cli()
    {
        var patient = await fixture.CreatePatientAsync();
        var content = RandomNumberGenerator.GetBytes(150_000);
        var id = await fixture.UploadOkAsync(patient, content);
        await using var connection = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        var key = await connection.QuerySingleAsync<string>("SELECT object_key FROM documents.documents WHERE id = @id", new { id });
        using var s3 = fixture.S3();
        using var stored = await s3.GetObjectAsync(new GetObjectRequest { BucketName = "documents", Key = key });
        using var buffer = new MemoryStream();
        await stored.ResponseStream.CopyToAsync(buffer);

        var (code, output, _) = await PiiAsync(buffer.ToArray(), "stream", "decrypt", "--transit-key", "documents");
        Assert.Equal(0, code);
        Assert.Equal(content, output);
    }

    private Task<PiiCliProcess.Result> PiiAsync(byte[] stdin, params string[] args) =>
        PiiCliProcess.RunAsync(stdin, args, new Dictionary<string, string>
        {
            ["VAULT_ADDR"] = fixture.Settings["VAULT_ADDR"]!,
            ["VAULT_TOKEN"] = fixture.Settings["VAULT_TOKEN"]!,
        });
}
