using System.Security.Cryptography;
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
        var stored = await fixture.StoredObjectAsync(await fixture.ObjectKeyAsync(id));

        var (code, output, _) = await PiiAsync(stored, "stream", "decrypt", "--transit-key", "documents");
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
