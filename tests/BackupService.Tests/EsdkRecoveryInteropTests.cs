extern alias backupservice;

using System.Diagnostics;
using System.Text.Json.Nodes;
using Pii.Crypto.Keys;

namespace Pii.BackupService.Tests;

/// <summary>
/// The official AWS Encryption SDK for JavaScript (@aws-crypto/client-node, the harness of Crypto.Tests:
/// tests/Crypto.Tests/Streams/Interop/esdk.js) opens a backup object with nothing but the recovery private key, and
/// the independent zstd CLI decompresses what it returns into the exact dump the manifest describes.
/// </summary>
[Collection(BackupServiceGroup.Name)]
public sealed class EsdkRecoveryInteropTests(BackupServiceFixture fixture)
{
    [Fact]
    public async Task Official_ESDK_decrypts_a_backup_with_the_recovery_key_and_zstd_restores_the_dump()
    {
        var backup = await fixture.BackUpAsync("records");
        var manifest = backup["manifest"]!;
        var work = Directory.CreateTempSubdirectory("pii-esdk-backup-").FullName;
        try
        {
            var stored = Path.Combine(work, "backup.pii");
            using (var s3 = fixture.S3())
            using (var response = await s3.GetObjectAsync("backups", backup["objectKey"]!.GetValue<string>()))
            {
                await using var file = File.Create(stored);
                await response.ResponseStream.CopyToAsync(file);
            }
            // The JS keyring takes an unencrypted PEM: decrypted here with the passphrase, into a 0600 file of this test.
            var privatePem = Path.Combine(work, "recovery-private.pem");
            using (var rsa = RecoveryKeyFiles.LoadPrivateKey(File.ReadAllText(fixture.RecoveryPrivateKeyFile), RecoveryKeyFiles.ReadPassphrase(fixture.RecoveryPassphraseFile)))
            {
                await File.WriteAllTextAsync(privatePem, rsa.ExportPkcs8PrivateKeyPem());
            }
            File.SetUnixFileMode(privatePem, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var compressed = Path.Combine(work, "backup.zst");
            var jobs = Path.Combine(work, "jobs.json");
            await File.WriteAllTextAsync(jobs, new JsonArray(new JsonObject
            {
                ["verb"] = "decrypt",
                ["input"] = stored,
                ["output"] = compressed,
                ["rsa"] = new JsonObject { ["privatePemPath"] = privatePem, ["namespace"] = "pii-recovery", ["name"] = "backups-recovery" },
            }).ToJsonString());

            var interop = InteropDirectory();
            EnsureInstalled(interop);
            var (exit, stdout, stderr) = await RunAsync("node", [Path.Combine(interop, "esdk.js"), jobs], interop);
            Assert.True(exit == 0, stderr);
            var result = JsonNode.Parse(stdout)!.AsArray()[0]!;
            Assert.True(result["ok"]!.GetValue<bool>(), stdout);
            Assert.Equal(backup["id"]!.GetValue<string>(), result["context"]!["backup-id"]!.GetValue<string>());
            Assert.Equal("records", result["context"]!["source"]!.GetValue<string>());

            var dump = Path.Combine(work, "records.dump");
            var (zstdExit, _, zstdErr) = await RunAsync("zstd", ["-d", "-q", compressed, "-o", dump], work);
            Assert.True(zstdExit == 0, zstdErr);
            Assert.Equal(manifest["plaintextBytes"]!.GetValue<long>(), new FileInfo(dump).Length);
            Assert.Equal("PGDMP"u8.ToArray(), (await File.ReadAllBytesAsync(dump))[..5]);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static string InteropDirectory()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "PiiAspire.sln"))) directory = directory.Parent;
        return Path.Combine(directory!.FullName, "tests", "Crypto.Tests", "Streams", "Interop");
    }

    /// <summary>npm ci once, under the same cross-process lock file as Crypto.Tests' EsdkFixture.</summary>
    private static void EnsureInstalled(string interop)
    {
        static bool Installed(string dir) => File.Exists(Path.Combine(dir, "node_modules", "@aws-crypto", "client-node", "package.json"));
        if (Installed(interop)) return;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (true)
        {
            try
            {
                using var held = new FileStream(Path.Combine(Path.GetTempPath(), "pii-stream-interop-npm.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                if (!Installed(interop))
                {
                    var (exit, _, stderr) = RunAsync("npm", ["ci", "--no-audit", "--no-fund"], interop).GetAwaiter().GetResult();
                    Assert.True(exit == 0, stderr);
                }
                return;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(250);
            }
        }
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string fileName, IReadOnlyList<string> arguments, string workingDirectory)
    {
        var start = new ProcessStartInfo(fileName) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        return (process.ExitCode, await stdout, await stderr);
    }
}
