using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using MySqlConnector;
using Npgsql;

namespace Pii.BackupService.Tests;

[Collection(BackupServiceGroup.Name)]
public sealed class BackupRestoreTests(BackupServiceFixture fixture)
{
    [Fact]
    public async Task Records_backup_is_encrypted_in_S3_with_a_manifest_and_restores_into_scratch_with_matching_row_counts()
    {
        await CreatePatientAsync("Grace Hopper");
        var backup = await fixture.BackUpAsync("records");
        var manifest = backup["manifest"]!.AsObject();
        var objectKey = backup["objectKey"]!.GetValue<string>();
        Assert.StartsWith("data/records/", objectKey, StringComparison.Ordinal);
        Assert.False(backup["keyServiceUnavailable"]!.GetValue<bool>());
        Assert.Equal(["pii-transit", "pii-recovery"], manifest["encryption"]!["keys"]!.AsArray().Select(k => k!["provider"]!.GetValue<string>()));
        Assert.Equal("records", manifest["encryption"]!["context"]!["source"]!.GetValue<string>());
        Assert.StartsWith("pg_dump (PostgreSQL) 15", manifest["dumpToolVersion"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(manifest["rowCounts"]!["documents.patients"]!.GetValue<long>() >= 1);
        Assert.Contains($"manifests/records/{Guid.Parse(backup["id"]!.GetValue<string>()):N}.json", await fixture.KeysAsync("manifests/records/"));

        // The stored object is an ESDK v2 message (0x02, suite 0x0478) and holds neither the dump magic nor a name.
        var stored = await StoredAsync(objectKey);
        Assert.Equal([0x02, 0x04, 0x78], stored[..3]);
        Assert.Equal(-1, stored.AsSpan().IndexOf("PGDMP"u8));
        Assert.Equal(-1, stored.AsSpan().IndexOf("Grace Hopper"u8));
        Assert.Equal(manifest["objectBytes"]!.GetValue<long>(), stored.Length);

        var restore = await RestoreAsync(backup, new { target = "scratch" });
        Assert.True(restore["rowCountsMatch"]!.GetValue<bool>());
        var database = restore["database"]!.GetValue<string>();
        Assert.StartsWith("records_restore_", database, StringComparison.Ordinal);
        await using var scratch = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(fixture.PostgresAdmin) { Database = database }.ConnectionString);
        Assert.Equal(manifest["rowCounts"]!["documents.patients"]!.GetValue<long>(), await scratch.ExecuteScalarAsync<long>("SELECT count(*) FROM documents.patients"));
    }

    [Fact]
    public async Task Analytics_backup_restores_into_scratch()
    {
        await using (var admin = new NpgsqlConnection(fixture.AnalyticsAdmin))
        {
            await admin.ExecuteAsync("CREATE SCHEMA IF NOT EXISTS marts; CREATE TABLE IF NOT EXISTS marts.daily (day date, calls int)");
            await admin.ExecuteAsync("INSERT INTO marts.daily SELECT d::date, 7 FROM generate_series('2026-01-01'::date, '2026-03-01', '1 day') d");
        }
        var backup = await fixture.BackUpAsync("analytics");
        var expected = backup["manifest"]!["rowCounts"]!["marts.daily"]!.GetValue<long>();
        Assert.True(expected >= 60);
        var restore = await RestoreAsync(backup, new { target = "scratch" });
        await using var scratch = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(fixture.PostgresAdmin) { Database = restore["database"]!.GetValue<string>() }.ConnectionString);
        Assert.Equal(expected, await scratch.ExecuteScalarAsync<long>("SELECT count(*) FROM marts.daily"));
    }

    [Fact]
    public async Task Dnc_backup_with_mariadb_dump_restores_into_scratch()
    {
        await using (var admin = new MySqlConnection(fixture.DncAdmin))
        {
            await admin.ExecuteAsync("CREATE TABLE IF NOT EXISTS callers (id BINARY(16) PRIMARY KEY, phone_bidx BINARY(16) NOT NULL)");
            for (var i = 0; i < 25; i++)
            {
                await admin.ExecuteAsync("INSERT INTO callers VALUES (@id, @bidx)", new { id = Guid.NewGuid().ToByteArray(), bidx = Guid.NewGuid().ToByteArray() });
            }
        }
        var backup = await fixture.BackUpAsync("dnc");
        var manifest = backup["manifest"]!;
        Assert.Equal("mariadb-dump", manifest["dumpTool"]!.GetValue<string>());
        var expected = manifest["rowCounts"]!["callers"]!.GetValue<long>();
        var restore = await RestoreAsync(backup, new { target = "scratch" });
        Assert.True(restore["rowCountsMatch"]!.GetValue<bool>(), restore.ToJsonString());
        var builder = new MySqlConnectionStringBuilder(fixture.MariaDbAdmin) { Database = restore["database"]!.GetValue<string>() };
        await using var scratch = new MySqlConnection(builder.ConnectionString);
        Assert.Equal(expected, await scratch.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM callers"));
    }

    [Fact]
    public async Task Verify_passes_then_catches_one_flipped_byte_in_S3_and_restore_refuses_it()
    {
        var backup = await fixture.BackUpAsync("analytics");
        var id = backup["id"]!.GetValue<string>();
        using var client = fixture.Client();
        using (var ok = await client.PostAsync($"/api/backups/{id}/verify", null))
        {
            var result = (await ok.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.True(result["verified"]!.GetValue<bool>(), result.ToJsonString());
            Assert.Equal(backup["manifest"]!["plaintextBytes"]!.GetValue<long>(), result["plaintextBytes"]!.GetValue<long>());
        }
        var objectKey = backup["objectKey"]!.GetValue<string>();
        var stored = await StoredAsync(objectKey);
        stored[stored.Length / 2] ^= 0x01;
        using (var s3 = fixture.S3())
        {
            await s3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = "backups", Key = objectKey, InputStream = new MemoryStream(stored), UseChunkEncoding = false });
        }
        using (var bad = await client.PostAsync($"/api/backups/{id}/verify", null))
        {
            var result = (await bad.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.False(result["verified"]!.GetValue<bool>());
            Assert.Contains("TamperedException", result["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        }
        using var restore = await client.PostAsJsonAsync($"/api/backups/{id}/restore", new { target = "scratch" });
        Assert.Equal(HttpStatusCode.Conflict, restore.StatusCode);
        Assert.Equal("application/problem+json", restore.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Api_needs_the_operator_key_and_answers_problem_details()
    {
        using (var anonymous = new HttpClient { BaseAddress = fixture.BackupsAddress })
        using (var response = await anonymous.PostAsJsonAsync("/api/backups", new { source = "records" }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        using var client = fixture.Client();
        using (var response = await client.PostAsJsonAsync("/api/backups", new { source = "nope" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        }
        using (var response = await client.GetAsync($"/api/backups/{Guid.NewGuid()}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        }
        var backup = await fixture.BackUpAsync("analytics");
        using (var response = await client.PostAsJsonAsync($"/api/backups/{backup["id"]}/restore", new { target = "in-place", confirm = "yes" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
        var schedules = (await client.GetFromJsonAsync<JsonObject>("/api/backups/schedules"))!;
        Assert.Contains(schedules["backups"]!.AsArray(), s => s!["source"]!.GetValue<string>() == "records" && s["cron"]!.GetValue<string>() == "0 2 * * *");
        Assert.Equal(7, schedules["retention"]!["yearly"]!.GetValue<int>());
        using var openApi = await new HttpClient { BaseAddress = fixture.BackupsAddress }.GetAsync("/openapi/v1.json");
        Assert.Contains("/api/backups/{id}/restore", await openApi.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Key_service_store_snapshot_is_backed_up_for_the_recovery_key_only_and_opens_offline_as_its_SQLite_store()
    {
        var backup = await fixture.BackUpAsync("vault");
        var manifest = backup["manifest"]!;
        Assert.True(manifest["encryption"]!["recoveryKeyOnly"]!.GetValue<bool>());
        Assert.False(manifest["encryption"]!["keyServiceUnavailable"]!.GetValue<bool>());
        Assert.Equal(["pii-recovery"], manifest["encryption"]!["keys"]!.AsArray().Select(k => k!["provider"]!.GetValue<string>()));

        var work = Directory.CreateTempSubdirectory("pii-vault-snapshot-").FullName;
        try
        {
            var stored = Path.Combine(work, "vault.pii");
            await File.WriteAllBytesAsync(stored, await StoredAsync(backup["objectKey"]!.GetValue<string>()));
            var snapshot = Path.Combine(work, "kms.db");
            var cli = await Pii.Testing.PiiCliProcess.RunAsync([], ["backup", "restore", "--rsa-private-key", fixture.RecoveryPrivateKeyFile,
                "--passphrase-file", fixture.RecoveryPassphraseFile, "--in", stored, "--out", snapshot]);
            Assert.True(cli.ExitCode == 0, cli.Stderr);
            var bytes = await File.ReadAllBytesAsync(snapshot);
            Assert.Equal("SQLite format 3\0"u8.ToArray(), bytes[..16]);
            Assert.NotEqual(-1, bytes.AsSpan().IndexOf("transit_keys"u8));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }

        // Only a token whose policy grants read and sudo on the path may take a snapshot.
        using var kms = new HttpClient { BaseAddress = new Uri(fixture.Settings["VAULT_ADDR"]!) };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/sys/storage/raft/snapshot");
        request.Headers.Add("X-Vault-Token", fixture.DocumentsToken);
        using var refused = await kms.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Fact]
    public async Task Restore_drills_restore_each_sources_newest_backup_and_report_per_source()
    {
        await fixture.BackUpAsync("analytics");
        await fixture.BackUpAsync("dnc");
        using var client = fixture.Client();
        using var response = await client.PostAsync("/api/backups/drills", null);
        var outcomes = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.True(outcomes["analytics"]!.GetValue<bool>());
        Assert.True(outcomes["dnc"]!.GetValue<bool>());
        // The drill dropped its scratch databases again.
        await using var admin = new NpgsqlConnection(fixture.PostgresAdmin);
        var before = await admin.ExecuteScalarAsync<long>("SELECT count(*) FROM pg_database WHERE datname LIKE 'analytics_restore_%'");
        using var again = await client.PostAsync("/api/backups/drills", null);
        Assert.Equal(before, await admin.ExecuteScalarAsync<long>("SELECT count(*) FROM pg_database WHERE datname LIKE 'analytics_restore_%'"));
    }

    private async Task<JsonObject> RestoreAsync(JsonObject backup, object request)
    {
        using var client = fixture.Client();
        using var response = await client.PostAsJsonAsync($"/api/backups/{backup["id"]}/restore", request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonNode.Parse(body)!.AsObject();
    }

    private async Task<byte[]> StoredAsync(string key)
    {
        using var s3 = fixture.S3();
        using var stored = await s3.GetObjectAsync("backups", key);
        using var buffer = new MemoryStream();
        await stored.ResponseStream.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    private async Task CreatePatientAsync(string name)
    {
        using var client = fixture.DocumentsClient();
        using var response = await client.PostAsJsonAsync("/api/patients", new
        {
            mrn = "MRN-" + Guid.NewGuid().ToString("N")[..10],
            fullName = name,
            dateOfBirth = "1906-12-09",
            address = "Arlington, Virginia",
            ssn = "123-45-6789",
            diagnosisCodes = new[] { "I10" },
        });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }
}
