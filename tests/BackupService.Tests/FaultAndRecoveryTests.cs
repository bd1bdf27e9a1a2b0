extern alias backupservice;

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Amazon.S3.Model;
using Dapper;
using Npgsql;
using Pii.Testing;
using BackupRepository = backupservice::Pii.BackupService.Backups.BackupRepository;
using BackupSweeper = backupservice::Pii.BackupService.Backups.BackupSweeper;
using RunningMarker = backupservice::Pii.BackupService.Backups.RunningMarker;

namespace Pii.BackupService.Tests;

[Collection(BackupServiceGroup.Name)]
public sealed class FaultAndRecoveryTests(BackupServiceFixture fixture)
{
    [Fact]
    public async Task A_killed_pg_dump_leaves_no_object_no_manifest_and_a_failed_attempt_with_its_reason()
    {
        await using var admin = new NpgsqlConnection(fixture.AnalyticsAdmin);
        await admin.OpenAsync();
        await admin.ExecuteAsync("CREATE SCHEMA IF NOT EXISTS marts; CREATE TABLE IF NOT EXISTS marts.blocker (id int)");
        // pg_dump waits for its share lock behind this one, so it is certainly running when it is killed.
        await using var transaction = await admin.BeginTransactionAsync();
        await admin.ExecuteAsync("LOCK TABLE marts.blocker IN ACCESS EXCLUSIVE MODE", transaction: transaction);
        var id = await fixture.StartBackupAsync("analytics");
        var pgDump = await WaitForChildAsync("pg_dump");
        Process.GetProcessById(pgDump).Kill();
        await transaction.RollbackAsync();

        var backup = await fixture.WaitForBackupAsync(id);
        Assert.Equal("failed", backup["state"]!.GetValue<string>());
        Assert.Contains("pg_dump exited with code", backup["failureReason"]!.GetValue<string>(), StringComparison.Ordinal);
        await AssertNothingLooksLikeABackupAsync(id);
        Assert.Contains($"attempts/analytics/{id:N}.json", await fixture.KeysAsync("attempts/"));
    }

    [Fact]
    public async Task What_a_killed_BackupService_leaves_is_swept_at_start_and_recorded_as_interrupted()
    {
        var repository = fixture.Service<BackupRepository>();
        using var s3 = fixture.S3();
        // A crash mid-upload: a running marker and a multipart upload with one part.
        var midUpload = Guid.CreateVersion7();
        var midKey = BackupRepository.DataKey("records", midUpload, DateTimeOffset.UtcNow);
        var upload = await s3.InitiateMultipartUploadAsync("backups", midKey);
        await s3.UploadPartAsync(new UploadPartRequest { BucketName = "backups", Key = midKey, UploadId = upload.UploadId, PartNumber = 1, InputStream = new MemoryStream(new byte[1024]), UseChunkEncoding = false });
        await repository.PutRunningAsync(new RunningMarker(midUpload, "records", midKey, upload.UploadId, DateTimeOffset.UtcNow), CancellationToken.None);
        // A crash after the upload completed, before the manifest: a whole object and its marker.
        var afterUpload = Guid.CreateVersion7();
        var afterKey = BackupRepository.DataKey("records", afterUpload, DateTimeOffset.UtcNow);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = "backups", Key = afterKey, InputStream = new MemoryStream(new byte[4096]), UseChunkEncoding = false });
        await repository.PutRunningAsync(new RunningMarker(afterUpload, "records", afterKey, "gone", DateTimeOffset.UtcNow), CancellationToken.None);

        await fixture.Service<BackupSweeper>().SweepAsync(CancellationToken.None);

        using var client = fixture.Client();
        foreach (var id in new[] { midUpload, afterUpload })
        {
            await AssertNothingLooksLikeABackupAsync(id);
            var backup = (await client.GetFromJsonAsync<JsonObject>($"/api/backups/{id}"))!;
            Assert.Equal("failed", backup["state"]!.GetValue<string>());
            Assert.StartsWith("interrupted", backup["failureReason"]!.GetValue<string>(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Key_service_down_backup_is_wrapped_for_the_recovery_key_only_and_the_runbook_restores_it_with_only_S3_and_the_offline_key()
    {
        await fixture.Resources.StopAsync("vault");
        try
        {
            var backup = await fixture.BackUpAsync("records");
            Assert.True(backup["keyServiceUnavailable"]!.GetValue<bool>());
            var manifest = backup["manifest"]!;
            Assert.True(manifest["encryption"]!["keyServiceUnavailable"]!.GetValue<bool>());
            Assert.Equal(["pii-recovery"], manifest["encryption"]!["keys"]!.AsArray().Select(k => k!["provider"]!.GetValue<string>()));

            using var client = fixture.Client();
            using (var verify = await client.PostAsync($"/api/backups/{backup["id"]}/verify", null))
            {
                var result = (await verify.Content.ReadFromJsonAsync<JsonObject>())!;
                Assert.True(result["verified"]!.GetValue<bool>());
                Assert.Equal("object-hash", result["level"]!.GetValue<string>());
            }
            using (var refused = await client.PostAsJsonAsync($"/api/backups/{backup["id"]}/restore", new { target = "scratch" }))
            {
                Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            }

            // README runbook, step by step, with the key service still down.
            var work = Directory.CreateTempSubdirectory("pii-runbook-").FullName;
            try
            {
                var secretFile = Path.Combine(work, "s3-secret");
                await File.WriteAllTextAsync(secretFile, "S3RVER");
                var dump = Path.Combine(work, "records.dump");
                var cli = await PiiCliProcess.RunAsync([], ["backup", "restore", "--rsa-private-key", fixture.RecoveryPrivateKeyFile,
                    "--passphrase-file", fixture.RecoveryPassphraseFile, "--endpoint", fixture.S3Endpoint, "--access-key", "S3RVER",
                    "--secret-key-file", secretFile, $"s3://backups/{backup["objectKey"]}", "--out", dump]);
                Assert.True(cli.ExitCode == 0, cli.Stderr);
                Assert.Contains($"backup-id: {backup["id"]}", cli.Stderr, StringComparison.Ordinal);
                Assert.Equal(manifest["plaintextBytes"]!.GetValue<long>(), new FileInfo(dump).Length);

                var database = "runbook_" + Guid.NewGuid().ToString("N")[..8];
                await using (var admin = new NpgsqlConnection(fixture.PostgresAdmin))
                {
                    await admin.ExecuteAsync($"CREATE DATABASE {database}");
                }
                var admin2 = new NpgsqlConnectionStringBuilder(fixture.PostgresAdmin);
                var restore = Process.Start(new ProcessStartInfo("/usr/lib/postgresql/15/bin/pg_restore",
                    ["--no-owner", "--no-privileges", "--exit-on-error", "-h", admin2.Host!, "-p", admin2.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        "-U", admin2.Username!, "-d", database, dump])
                { Environment = { ["PGPASSWORD"] = admin2.Password }, RedirectStandardError = true })!;
                var errors = await restore.StandardError.ReadToEndAsync();
                await restore.WaitForExitAsync();
                Assert.True(restore.ExitCode == 0, errors);
                await using var restored = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(fixture.PostgresAdmin) { Database = database }.ConnectionString);
                Assert.Equal(manifest["rowCounts"]!["documents.patients"]!.GetValue<long>(), await restored.ExecuteScalarAsync<long>("SELECT count(*) FROM documents.patients"));

                // A wrong passphrase is refused (exit 1), not a crash.
                var wrong = Path.Combine(work, "wrong-passphrase");
                await File.WriteAllTextAsync(wrong, "not-the-passphrase");
                var refusedCli = await PiiCliProcess.RunAsync([], ["backup", "restore", "--rsa-private-key", fixture.RecoveryPrivateKeyFile,
                    "--passphrase-file", wrong, "--in", dump]);
                Assert.Equal(1, refusedCli.ExitCode);
            }
            finally
            {
                Directory.Delete(work, recursive: true);
            }
        }
        finally
        {
            await fixture.Resources.StartAsync("vault", CancellationToken.None);
        }
    }

    [Fact]
    public async Task An_erasure_survives_restoring_an_older_backup_in_place()
    {
        using var documents = fixture.DocumentsClient();
        using var created = await documents.PostAsJsonAsync("/api/patients", new
        {
            mrn = "MRN-" + Guid.NewGuid().ToString("N")[..10], fullName = "Erased Person", dateOfBirth = "1950-01-01",
            address = "1 Nowhere Road", ssn = "123-45-6780", diagnosisCodes = new[] { "E11.9" },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var patient = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
        using var upload = new HttpRequestMessage(HttpMethod.Post, $"/api/patients/{patient}/documents") { Content = new ByteArrayContent("scan of a chart"u8.ToArray()) };
        upload.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/pdf");
        upload.Headers.Add("X-File-Name", "chart.pdf");
        using var uploaded = await documents.SendAsync(upload);
        Assert.Equal(HttpStatusCode.Created, uploaded.StatusCode);
        var document = (await uploaded.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();

        var older = await fixture.BackUpAsync("records");
        using (var admin = fixture.DocumentsClient(BackupServiceFixture.AdminKey))
        using (var erased = await admin.DeleteAsync($"/api/patients/{patient}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, erased.StatusCode);
        }

        using var client = fixture.Client();
        using var restore = await client.PostAsJsonAsync($"/api/backups/{older["id"]}/restore", new { target = "in-place", confirm = "records" });
        Assert.True(restore.StatusCode == HttpStatusCode.OK, await restore.Content.ReadAsStringAsync());

        await using var records = new NpgsqlConnection(fixture.RecordsAdmin);
        Assert.Equal(0, await records.ExecuteScalarAsync<long>("SELECT count(*) FROM documents.patients WHERE id = @id", new { id = Guid.Parse(patient) }));
        Assert.Equal(0, await records.ExecuteScalarAsync<long>("SELECT count(*) FROM documents.documents WHERE id = @id", new { id = Guid.Parse(document) }));
        Assert.True(await records.ExecuteScalarAsync<long>("SELECT count(*) FROM documents.patients") >= 0);
        using (var read = await documents.GetAsync($"/api/patients/{patient}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        }
        using (var download = await documents.GetAsync($"/api/documents/{document}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, download.StatusCode);
        }
        Assert.Contains($"erasures/patient/{patient}.json", await fixture.KeysAsync("erasures/"));
    }

    [Fact]
    public async Task Retention_prunes_by_GFS_but_keeps_the_newest_the_newest_verified_and_held_backups()
    {
        var oldest = (await fixture.BackUpAsync("analytics"))["id"]!.GetValue<string>();
        var middle = (await fixture.BackUpAsync("analytics"))["id"]!.GetValue<string>();
        var extra = (await fixture.BackUpAsync("analytics"))["id"]!.GetValue<string>();
        var newest = (await fixture.BackUpAsync("analytics"))["id"]!.GetValue<string>();
        using var client = fixture.Client();
        using (var verify = await client.PostAsync($"/api/backups/{oldest}/verify", null)) Assert.Equal(HttpStatusCode.OK, verify.StatusCode);
        using (var hold = await client.PutAsJsonAsync($"/api/backups/{middle}/hold", new { reason = "litigation 2026-17" })) Assert.Equal(HttpStatusCode.OK, hold.StatusCode);

        using (var prune = await client.PostAsync("/api/backups/prune", null))
        {
            var removed = (await prune.Content.ReadFromJsonAsync<JsonObject>())!["removed"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
            Assert.Contains(extra, removed);
            Assert.DoesNotContain(oldest, removed);
            Assert.DoesNotContain(middle, removed);
            Assert.DoesNotContain(newest, removed);
        }
        await AssertNothingLooksLikeABackupAsync(Guid.Parse(extra));

        using (var release = await client.DeleteAsync($"/api/backups/{middle}/hold")) Assert.Equal(HttpStatusCode.OK, release.StatusCode);
        using (var prune = await client.PostAsync("/api/backups/prune", null))
        {
            var removed = (await prune.Content.ReadFromJsonAsync<JsonObject>())!["removed"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
            Assert.Contains(middle, removed);
            Assert.DoesNotContain(oldest, removed);
        }
        var audit = await fixture.KeysAsync("audit/");
        Assert.NotEmpty(audit);
    }

    private async Task AssertNothingLooksLikeABackupAsync(Guid id)
    {
        Assert.DoesNotContain(await fixture.KeysAsync("manifests/"), k => k.Contains(id.ToString("N"), StringComparison.Ordinal));
        Assert.DoesNotContain(await fixture.KeysAsync("data/"), k => k.Contains(id.ToString("N"), StringComparison.Ordinal));
        Assert.DoesNotContain(await fixture.KeysAsync("running/"), k => k.Contains(id.ToString("N"), StringComparison.Ordinal));
    }

    /// <summary>The pid of a child process of this test process with that name, waiting until one exists.</summary>
    private static async Task<int> WaitForChildAsync(string name)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            foreach (var directory in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(directory), out var pid)) continue;
                string stat;
                try
                {
                    stat = await File.ReadAllTextAsync(Path.Combine(directory, "stat"));
                }
                catch (IOException)
                {
                    continue;
                }
                // pid (comm) state ppid …
                var close = stat.LastIndexOf(')');
                var comm = stat[(stat.IndexOf('(') + 1)..close];
                var ppid = int.Parse(stat[(close + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
                if (comm == name && ppid == Environment.ProcessId) return pid;
            }
            Assert.True(DateTime.UtcNow < deadline, $"No {name} child appeared.");
            await Task.Delay(100);
        }
    }
}
