// BackupService benchmark, every figure next to its peer measured in the same run (issue 11, Figures):
//  - a generated records database whose plain `pg_dump -Fc` output is >= 1 GiB (schema bench, table events);
//  - wall time: our backup (BackupService, Release, its own process, API start → manifest) vs `pg_dump -Fc > /dev/null`;
//    peers `pg_dump -Fc | age -r …` and `pg_dump -Fc | gpg --symmetric`;
//  - size: our object vs the `pg_dump -Fc` file;
//  - stages from memory: compress+encrypt(+upload to s3rver) and decrypt+decompress of the first 1 GiB of `pg_dump -Fc -Z0`;
//  - BackupService peak RSS during the backup and the restore (sampled from /proc);
//  - restore: ours (scratch, row counts checked, ledger) vs `pg_restore` of the same unencrypted -Fc dump into a new database.
// Usage: backup-bench [rawMiB=3600]; env RUNS (default 5) = runs per timed figure (median reported).
extern alias backupservice;

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Npgsql;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;
using Pii.Crypto.Streams.Keyrings;
using BackupPipeline = backupservice::Pii.BackupService.Backups.BackupPipeline;
using ReadBackPipeline = backupservice::Pii.BackupService.Backups.ReadBackPipeline;

var rawMiB = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3600;
var runs = int.Parse(Environment.GetEnvironmentVariable("RUNS") ?? "5", CultureInfo.InvariantCulture);
var repo = LocalState.FindRepoRoot();
var work = Directory.CreateTempSubdirectory("pii-backup-bench-").FullName;
var model = LocalResources.CreateBuilder("backupbench");
var vault = model.AddKeyService("vault").AddTransitKey("backups");
var postgres = model.AddPostgres("postgres");
var records = postgres.AddDatabase("records");
var analytics = postgres.AddDatabase("analytics");
var recordsLogin = records.AddUser("backupservice", new PostgresAccess.ReadAll());
var analyticsLogin = analytics.AddUser("backupservice", new PostgresAccess.ReadAll());
var dnc = model.AddMariaDb("mariadb").AddDatabase("dnc");
var dncLogin = dnc.AddUser("dnc_backup", MySqlAccess.Backup);
var bucket = model.AddS3rver("s3").AddBucket("backups");
var token = vault.AddToken("backupservice", "backups");
await using var resources = await LocalResources.StartAsync(model, TimeSpan.FromMinutes(5));
var admin = new NpgsqlConnectionStringBuilder(postgres.AdminConnectionString);
var pgEnv = new Dictionary<string, string>
{
    ["PGHOST"] = admin.Host!, ["PGPORT"] = admin.Port.ToString(CultureInfo.InvariantCulture), ["PGUSER"] = admin.Username!, ["PGPASSWORD"] = admin.Password!,
    ["PGDATABASE"] = "records",
};

Console.WriteLine($"date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; cores: {Environment.ProcessorCount} (shared); runs per figure: {runs}; load before: {Load()}");
var generate = Stopwatch.StartNew();
await GenerateAsync(records.ConnectionString, rawMiB);
Console.WriteLine($"generated bench.events: {rawMiB} MiB of rows in {generate.Elapsed.TotalSeconds:0} s");

var dumpFile = Path.Combine(work, "records.dump");
await ShellAsync($"{PgBin("pg_dump")} -Fc -f {dumpFile}", pgEnv);
var dumpSize = new FileInfo(dumpFile).Length;
Console.WriteLine($"pg_dump -Fc output: {Mib(dumpSize)} MiB (target >= 1024)");

// The recovery key and manifest key BackupService needs; the keys stay in this temp folder.
using var recoveryRsa = RSA.Create(3072);
var publicKey = Path.Combine(work, "recovery-public.pem");
await File.WriteAllTextAsync(publicKey, recoveryRsa.ExportSubjectPublicKeyInfoPem());
var ageKey = Path.Combine(work, "age.key");
await ShellAsync($"age-keygen -o {ageKey} 2>/dev/null", []);
var ageRecipient = (await ShellAsync($"age-keygen -y {ageKey}", [])).Trim();
var gpgPass = Path.Combine(work, "gpg.pass");
await File.WriteAllTextAsync(gpgPass, Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)));

var apiKey = "pii_bench_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
var port = FreePort();
var start = new ProcessStartInfo("dotnet", Path.Combine(repo, "services/BackupService/bin/Release/net10.0/Pii.BackupService.dll"))
{
    WorkingDirectory = Path.Combine(repo, "services/BackupService"),
    RedirectStandardOutput = true,
    RedirectStandardError = true,
};
start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
// Development, as the AppHost runs it: ServiceDefaults maps /alive (what the driver waits for) only there.
start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
start.Environment["ConnectionStrings__records"] = recordsLogin.ConnectionString;
start.Environment["ConnectionStrings__analytics"] = analyticsLogin.ConnectionString;
start.Environment["ConnectionStrings__dnc"] = dncLogin.ConnectionString;
start.Environment["ConnectionStrings__backups"] = bucket.ConnectionString;
start.Environment["ConnectionStrings__restore-postgres"] = postgres.AdminConnectionString;
start.Environment["VAULT_ADDR"] = vault.Address();
start.Environment["VAULT_TOKEN"] = token.Token;
start.Environment["BackupService__RecoveryPublicKeyFile"] = publicKey;
start.Environment["BackupService__ManifestKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
start.Environment["BackupService__SchedulerEnabled"] = "false";
start.Environment["Auth__ApiKeyHashes__operator"] = ApiKeys.Hash(apiKey);
start.Environment["Logging__LogLevel__Default"] = "Warning";
using var service = Process.Start(start)!;
service.OutputDataReceived += (_, e) => { if (e.Data is { } line && (line.StartsWith("warn", StringComparison.Ordinal) || line.StartsWith("fail", StringComparison.Ordinal))) Console.Error.WriteLine("[service] " + line); };
service.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("[service] " + e.Data); };
service.BeginOutputReadLine();
service.BeginErrorReadLine();
try
{
    using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(30) };
    http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
    await WaitForServiceAsync(http);

    var pgDumpTimes = new List<double>();
    var oursTimes = new List<double>();
    var ageTimes = new List<double>();
    var gpgTimes = new List<double>();
    long objectBytes = 0;
    long backupPeak = 0;
    string lastBackup = "";
    for (var run = 0; run < runs; run++)
    {
        pgDumpTimes.Add(await TimeAsync(() => ShellAsync($"{PgBin("pg_dump")} -Fc > /dev/null", pgEnv)));
        using (var sampler = new RssSampler(service.Id))
        {
            var watch = Stopwatch.StartNew();
            using var started = await http.PostAsJsonAsync("/api/backups", new { source = "records" });
            var id = (await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
            JsonObject backup;
            while ((backup = (await http.GetFromJsonAsync<JsonObject>($"/api/backups/{id}"))!)["state"]!.GetValue<string>() == "running") await Task.Delay(100);
            oursTimes.Add(watch.Elapsed.TotalSeconds);
            if (backup["state"]!.GetValue<string>() != "completed") throw new InvalidOperationException($"backup failed: {backup["failureReason"]}");
            objectBytes = backup["manifest"]!["objectBytes"]!.GetValue<long>();
            lastBackup = id;
            backupPeak = Math.Max(backupPeak, sampler.Stop());
        }
        ageTimes.Add(await TimeAsync(() => ShellAsync($"set -o pipefail; {PgBin("pg_dump")} -Fc | age -r {ageRecipient} > /dev/null", pgEnv)));
        gpgTimes.Add(await TimeAsync(() => ShellAsync($"set -o pipefail; {PgBin("pg_dump")} -Fc | gpg --batch --quiet --symmetric --passphrase-file {gpgPass} -o - > /dev/null", pgEnv)));
    }
    var pgDump = Median(pgDumpTimes);
    Console.WriteLine($"backup wall: ours {Median(oursTimes):0.0} s vs pg_dump -Fc >/dev/null {pgDump:0.0} s → ratio {Median(oursTimes) / pgDump:0.00} (target <= 1.0, aim 0.6)");
    Console.WriteLine($"peers: pg_dump -Fc | age {Median(ageTimes):0.0} s ({Median(ageTimes) / pgDump:0.00}), pg_dump -Fc | gpg --symmetric {Median(gpgTimes):0.0} s ({Median(gpgTimes) / pgDump:0.00})");
    Console.WriteLine($"size: our object {Mib(objectBytes)} MiB vs pg_dump -Fc {Mib(dumpSize)} MiB → ratio {(double)objectBytes / dumpSize:0.00} (target <= 1.0)");
    Console.WriteLine($"BackupService peak RSS during backups: {Mib(backupPeak)} MiB (target <= 128)");

    var ourRestores = new List<double>();
    var pgRestores = new List<double>();
    long restorePeak = 0;
    for (var run = 0; run < runs; run++)
    {
        using (var sampler = new RssSampler(service.Id))
        {
            var watch = Stopwatch.StartNew();
            using var restored = await http.PostAsJsonAsync($"/api/backups/{lastBackup}/restore", new { target = "scratch" });
            var body = await restored.Content.ReadAsStringAsync();
            if (restored.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"restore failed: {body}");
            ourRestores.Add(watch.Elapsed.TotalSeconds);
            restorePeak = Math.Max(restorePeak, sampler.Stop());
            await ShellAsync($"{PgBin("dropdb")} {JsonNode.Parse(body)!["database"]}", pgEnv);
        }
        var peerDb = $"peer_restore_{run}";
        await ShellAsync($"{PgBin("createdb")} {peerDb}", pgEnv);
        pgRestores.Add(await TimeAsync(() => ShellAsync($"{PgBin("pg_restore")} --no-owner --no-privileges --exit-on-error -d {peerDb} {dumpFile}", pgEnv)));
        await ShellAsync($"{PgBin("dropdb")} {peerDb}", pgEnv);
    }
    Console.WriteLine($"restore wall: ours {Median(ourRestores):0.0} s (scratch, one transaction, counts checked) vs pg_restore {Median(pgRestores):0.0} s → ratio {Median(ourRestores) / Median(pgRestores):0.00} (target <= 1.2)");
    Console.WriteLine($"BackupService peak RSS during restores: {Mib(restorePeak)} MiB (target <= 128)");

    await StagesFromMemoryAsync(pgEnv, bucket.ConnectionString, recoveryRsa, runs);
    Console.WriteLine($"BackupService VmHWM (whole run): {Mib(ReadStatus(service.Id, "VmHWM"))} MiB; load after: {Load()}");
}
finally
{
    service.Kill(entireProcessTree: true);
    Directory.Delete(work, recursive: true);
}

// The first 1 GiB of the uncompressed custom dump, held in memory, through the pipeline stages alone.
static async Task StagesFromMemoryAsync(Dictionary<string, string> pgEnv, string bucketConnection, RSA rsa, int runs)
{
    const int size = 1 << 30;
    var dump = GC.AllocateUninitializedArray<byte>(size);
    var read = 0;
    using (var process = Process.Start(Shell($"{PgBin("pg_dump")} -Fc -Z0", pgEnv))!)
    {
        var output = process.StandardOutput.BaseStream;
        int n;
        while (read < size && (n = await output.ReadAsync(dump.AsMemory(read, size - read))) > 0) read += n;
        process.Kill();
    }
    using var keyring = RawRsaKeyring.FromPem("pii-recovery", "backups-recovery", null, rsa.ExportPkcs8PrivateKeyPem());
    var context = new Dictionary<string, string> { ["source"] = "bench" };
    var toMemory = new List<double>();
    var toS3 = new List<double>();
    var decrypt = new List<double>();
    byte[] stored = [];
    var s3 = backupservice::Pii.Services.Shared.S3BucketConnection.Parse(bucketConnection);
    using var client = s3.CreateClient();
    for (var run = 0; run < runs; run++)
    {
        using var sink = new MemoryStream(size / 2);
        using var hash = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, new byte[32]);
        toMemory.Add(await TimeAsync(() => BackupPipeline.RunAsync(new MemoryStream(dump, 0, read, false), sink, keyring, context, hash, 256 * 1024, 3, 1, null, CancellationToken.None)));
        stored = sink.ToArray();
        var key = $"bench/{run}.pii";
        var upload = await client.InitiateMultipartUploadAsync(s3.Bucket, key);
        using var s3Sink = new backupservice::Pii.DocumentService.Documents.S3MultipartWriteStream(client, s3.Bucket, key, upload.UploadId, 8 << 20, 2);
        using var hash2 = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, new byte[32]);
        toS3.Add(await TimeAsync(async () =>
        {
            await BackupPipeline.RunAsync(new MemoryStream(dump, 0, read, false), s3Sink, keyring, context, hash2, 256 * 1024, 3, 1, null, CancellationToken.None);
            await s3Sink.CompleteAsync(CancellationToken.None);
        }));
        await client.DeleteObjectAsync(s3.Bucket, key);
        using var hash3 = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, new byte[32]);
        decrypt.Add(await TimeAsync(() => ReadBackPipeline.RunAsync(new MemoryStream(stored, false), Stream.Null, keyring, hash3, null, CancellationToken.None)));
    }
    double Rate(List<double> times) => read / 1e6 / Median(times);
    Console.WriteLine($"stage from memory ({Mib(read)} MiB of pg_dump -Fc -Z0): compress+encrypt {Rate(toMemory):0} MB/s, compress+encrypt+upload to s3rver {Rate(toS3):0} MB/s (target >= 200); decrypt+decompress {Rate(decrypt):0} MB/s (target >= 200); ratio {(double)stored.Length / read:0.000}");
}

static async Task GenerateAsync(string connectionString, int rawMiB)
{
    await using var connection = new NpgsqlConnection(connectionString + ";Command Timeout=0");
    await connection.OpenAsync();
    await using (var create = new NpgsqlCommand("""
        CREATE SCHEMA IF NOT EXISTS bench;
        DROP TABLE IF EXISTS bench.events;
        CREATE TABLE bench.events (id bigint PRIMARY KEY, patient uuid NOT NULL, at timestamptz NOT NULL, code text NOT NULL,
            amount numeric(10,2) NOT NULL, note text NOT NULL);
        """, connection))
    {
        await create.ExecuteNonQueryAsync();
    }
    // Rows like clinical events: ids, a random patient uuid, times, one of 200 codes, an amount, and a note of
    // random hex (compresses about 2:1, as free text does). About 150 bytes per row on disk.
    const int batch = 1_000_000;
    long next = 0;
    while (true)
    {
        await using (var insert = new NpgsqlCommand($"""
            INSERT INTO bench.events
            SELECT i, md5(i::text || 'p')::uuid, timestamptz '2020-01-01' + (i % 100000000) * interval '1 second',
                   'ICD-' || (i % 200), (i % 100000) / 100.0, md5(random()::text) || md5(random()::text)
            FROM generate_series({next}, {next + batch - 1}) i
            """, connection))
        {
            await insert.ExecuteNonQueryAsync();
        }
        next += batch;
        await using var size = new NpgsqlCommand("SELECT pg_total_relation_size('bench.events')", connection);
        if ((long)(await size.ExecuteScalarAsync())! >= (long)rawMiB << 20) break;
    }
    await using var analyze = new NpgsqlCommand("VACUUM ANALYZE bench.events", connection);
    await analyze.ExecuteNonQueryAsync();
}

static string PgBin(string tool) => $"/usr/lib/postgresql/15/bin/{tool}";

static ProcessStartInfo Shell(string command, Dictionary<string, string> environment)
{
    var info = new ProcessStartInfo("bash", ["-c", command]) { RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var (key, value) in environment) info.Environment[key] = value;
    return info;
}

static async Task<string> ShellAsync(string command, Dictionary<string, string> environment)
{
    using var process = Process.Start(Shell(command, environment))!;
    var stdout = process.StandardOutput.ReadToEndAsync();
    var stderr = process.StandardError.ReadToEndAsync();
    await process.WaitForExitAsync();
    if (process.ExitCode != 0) throw new InvalidOperationException($"'{command}' exited with {process.ExitCode}: {await stderr}");
    return await stdout;
}

static async Task<double> TimeAsync(Func<Task> action)
{
    var watch = Stopwatch.StartNew();
    await action();
    return watch.Elapsed.TotalSeconds;
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

static string Mib(long bytes) => (bytes / 1048576.0).ToString("0", CultureInfo.InvariantCulture);

static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

static async Task WaitForServiceAsync(HttpClient http)
{
    var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
    while (true)
    {
        try
        {
            using var response = await http.GetAsync("/alive");
            if (response.IsSuccessStatusCode) return;
        }
        catch (HttpRequestException) when (DateTime.UtcNow < deadline)
        {
        }
        if (DateTime.UtcNow >= deadline) throw new TimeoutException("BackupService did not start.");
        await Task.Delay(250);
    }
}

static long ReadStatus(int pid, string field)
{
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith(field + ":", StringComparison.Ordinal)) return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }
    return 0;
}

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}
