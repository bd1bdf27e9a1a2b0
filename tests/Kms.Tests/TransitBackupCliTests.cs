using System.Text;
using Pii.Testing;

namespace Pii.Kms.Tests;

/// <summary>
/// The 7-year runbook through the real CLI process (<c>pii transit backup|restore</c>) against the key service on a
/// real socket: the backup is written only sealed under a passphrase, and brings the key back after it was deleted.
/// </summary>
public sealed class TransitBackupCliTests : IDisposable
{
    private readonly KmsServerFixture _server = new(withMasterKey: true, auditPath: null, kestrelPort: KmsProcess.FreePort());
    private readonly string _directory = Directory.CreateTempSubdirectory("pii-transit-cli-").FullName;

    public void Dispose()
    {
        _server.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task A_key_backed_up_into_a_passphrase_file_deleted_and_restored_decrypts_its_old_ciphertext()
    {
        var key = "cli-" + Guid.NewGuid().ToString("N")[..8];
        var operatorToken = await _server.TokenWith("operator");
        await _server.AsRoot("POST", "transit/keys/" + key, new { exportable = true, allow_plaintext_backup = true });
        var v1 = await EncryptAsync(key, "version one");
        await _server.AsRoot("POST", $"transit/keys/{key}/rotate");
        var v2 = await EncryptAsync(key, "version two");
        var backupFromApi = (await _server.AsRoot("GET", "transit/backup/" + key)).Data["backup"]!.GetValue<string>();

        var sealedFile = Path.Combine(_directory, key + ".backup");
        var backup = await Pii(operatorToken, "transit", "backup", "--key", key, "--passphrase-file", Passphrase("seven years\n"), "--out", sealedFile);
        Assert.Equal(0, backup.ExitCode);
        var text = File.ReadAllText(sealedFile);
        Assert.StartsWith("PII-PROTECTED-KEY v1\n$argon2id$", text, StringComparison.Ordinal);
        Assert.DoesNotContain(backupFromApi[..32], text, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(sealedFile));

        await _server.AsRoot("POST", $"transit/keys/{key}/config", new { deletion_allowed = true });
        Assert.Equal(204, (await _server.AsRoot("DELETE", "transit/keys/" + key)).Status);

        var wrong = await Pii(operatorToken, "transit", "restore", "--in", sealedFile, "--passphrase-file", Passphrase("six years"));
        Assert.Equal(1, wrong.ExitCode);
        Assert.Equal(404, (await _server.AsRoot("GET", "transit/keys/" + key)).Status);

        var restored = await Pii(operatorToken, "transit", "restore", "--in", sealedFile, "--passphrase-file", Passphrase("seven years"));
        Assert.Equal(0, restored.ExitCode);
        Assert.Equal("version one", await DecryptAsync(key, v1));
        Assert.Equal("version two", await DecryptAsync(key, v2));

        // Under another name, too; the original is not replaced without --force.
        var copy = key + "-copy";
        Assert.Equal(0, (await Pii(operatorToken, "transit", "restore", "--in", sealedFile, "--passphrase-file", Passphrase("seven years"), "--name", copy)).ExitCode);
        Assert.Equal("version one", await DecryptAsync(copy, v1));
        var again = await Pii(operatorToken, "transit", "restore", "--in", sealedFile, "--passphrase-file", Passphrase("seven years"));
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already exists", again.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, (await Pii(operatorToken, "transit", "restore", "--in", sealedFile, "--passphrase-file", Passphrase("seven years"), "--force")).ExitCode);
    }

    [Fact]
    public async Task Refusals_are_exit_1_with_the_key_services_reason_and_usage_errors_exit_2_and_no_file_is_left()
    {
        var key = "cli-" + Guid.NewGuid().ToString("N")[..8];
        await _server.AsRoot("POST", "transit/keys/" + key);
        var passphrase = Passphrase("pw");
        var operatorToken = await _server.TokenWith("operator");

        var notExportable = await Pii(operatorToken, "transit", "backup", "--key", key, "--passphrase-file", passphrase, "--out", Path.Combine(_directory, "a"));
        Assert.Equal(1, notExportable.ExitCode);
        Assert.Contains("exporting is disallowed on the policy", notExportable.Stderr, StringComparison.Ordinal);

        await _server.AsRoot("POST", $"transit/keys/{key}/config", new { exportable = true, allow_plaintext_backup = true });
        var service = await _server.TokenWith("documents");
        var forbidden = await Pii(service, "transit", "backup", "--key", key, "--passphrase-file", passphrase, "--out", Path.Combine(_directory, "b"));
        Assert.Equal(1, forbidden.ExitCode);
        Assert.Contains("permission denied", forbidden.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(service, forbidden.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_directory, "a")) || File.Exists(Path.Combine(_directory, "b")));

        var existing = Path.Combine(_directory, "existing");
        File.WriteAllText(existing, "keep me");
        Assert.Equal(2, (await Pii(operatorToken, "transit", "backup", "--key", key, "--passphrase-file", passphrase, "--out", existing)).ExitCode);
        Assert.Equal("keep me", File.ReadAllText(existing));
        Assert.Equal(2, (await Pii(operatorToken, "transit", "restore", "--in", existing, "--passphrase-file", passphrase)).ExitCode);
        Assert.Equal(2, (await Pii(operatorToken, "transit", "backup", "--key", key, "--out", Path.Combine(_directory, "c"))).ExitCode);
        var noAddress = await PiiCliProcess.RunAsync([], ["transit", "backup", "--key", key, "--passphrase-file", passphrase, "--out", Path.Combine(_directory, "d")],
            new Dictionary<string, string> { ["VAULT_ADDR"] = "", ["VAULT_TOKEN"] = operatorToken });
        Assert.Equal(2, noAddress.ExitCode);
    }

    private string Passphrase(string text)
    {
        var path = Path.Combine(_directory, "pass-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, text);
        return path;
    }

    private Task<PiiCliProcess.Result> Pii(string token, params string[] arguments) =>
        PiiCliProcess.RunAsync([], arguments, new Dictionary<string, string> { ["VAULT_ADDR"] = _server.Address!.ToString(), ["VAULT_TOKEN"] = token });

    private async Task<string> EncryptAsync(string key, string plaintext) =>
        (await _server.AsRoot("POST", "transit/encrypt/" + key, new { plaintext = Convert.ToBase64String(Encoding.UTF8.GetBytes(plaintext)) })).Data["ciphertext"]!.GetValue<string>();

    private async Task<string> DecryptAsync(string key, string ciphertext)
    {
        var reply = await _server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext });
        Assert.Equal(200, reply.Status);
        return Encoding.UTF8.GetString(Convert.FromBase64String(reply.Data["plaintext"]!.GetValue<string>()));
    }
}
