using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using MySqlConnector;
using Npgsql;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;
using Pii.Bench.Shared;
using Pii.Crypto.Fields;

// ETL throughput: real MariaDB, PostgreSQL and key service (the AppHost's launcher), N DNC rows encrypted with the
// field cipher under a few DEKs made by the key service, then the worker binary's `--once` pass timed by the worker
// itself (decrypt + key-service HMAC indexes + PostgreSQL upserts, committed batch by batch). Each run starts from an
// empty suppression schema with a cold DEK cache (new process).
// Usage: etl-bench [rows=100000] [runs=3] [deks=4]
var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
var dekCount = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 4;

var model = LocalResources.CreateBuilder("etlbench");
var vault = model.AddKeyService("vault").AddTransitKey("dnc").AddTransitKey("suppression-index");
var token = vault.AddToken("etlworker", "etl");
var analytics = model.AddPostgres("postgres").AddDatabase("analytics");
var target = analytics.AddUser("etlworker", new PostgresAccess.SchemaOwner("suppression"));
var dnc = model.AddMariaDb("mysql").AddDatabase("dnc");
var source = dnc.AddUser("dnc_etl", MySqlAccess.ReadOnly);
await using var resources = await LocalResources.StartAsync(model, TimeSpan.FromMinutes(6));

await using (var admin = new MySqlConnection(dnc.ConnectionString))
{
    await admin.OpenAsync();
    var ddl = await File.ReadAllTextAsync(Path.Combine(LocalState.FindRepoRoot(), "tests", "EtlWorker.Tests", "dnc-schema.sql"));
    foreach (var statement in ddl.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
    {
        await new MySqlCommand(statement, admin).ExecuteNonQueryAsync();
    }
}

using var http = new HttpClient();
var keys = new List<FieldKey>();
for (var i = 0; i < dekCount; i++)
{
    keys.Add(await DncDekSeed.CreateAsync(http, vault.Address(), model.Secrets.GetOrCreate("vault-root-token"), dnc.ConnectionString));
}

var seed = Stopwatch.StartNew();
await SeedAsync();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"seeded {rows} rows under {dekCount} DEKs in {seed.Elapsed.TotalSeconds:F1} s"));

var figures = new List<double>();
for (var run = 1; run <= runs; run++)
{
    await using (var pg = new NpgsqlConnection(analytics.ConnectionString))
    {
        await pg.OpenAsync();
        await new NpgsqlCommand("DROP SCHEMA IF EXISTS suppression CASCADE; CREATE SCHEMA suppression AUTHORIZATION etlworker", pg).ExecuteNonQueryAsync();
    }

    var (exitCode, error, wall) = await RunWorkerOnceAsync();
    var summary = error.Split('\n').LastOrDefault(l => l.StartsWith("etl:", StringComparison.Ordinal)) ?? error;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"run {run}: exit {exitCode}, process wall {wall:F2} s; worker: {summary.Trim()}"));
    var rate = summary.Split('(', ')').ElementAtOrDefault(1)?.Split(' ')[0];
    if (exitCode == 0 && double.TryParse(rate, CultureInfo.InvariantCulture, out var value)) figures.Add(value);
}

figures.Sort();
Console.WriteLine(figures.Count == 0
    ? "no successful run"
    : string.Create(CultureInfo.InvariantCulture, $"median: {figures[figures.Count / 2]:F0} rows/s decrypted and loaded (target >= 5000); {Environment.ProcessorCount} cores shared"));
foreach (var key in keys) key.Dispose();
return figures.Count == runs ? 0 : 1;

async Task SeedAsync()
{
    await using var admin = new MySqlConnection(dnc.ConnectionString);
    await admin.OpenAsync();
    const int chunk = 1000;
    for (var start = 0; start < rows; start += chunk)
    {
        var sql = new StringBuilder("INSERT INTO dnc_preferences VALUES ");
        await using var command = new MySqlCommand { Connection = admin };
        for (var i = start; i < Math.Min(rows, start + chunk); i++)
        {
            var id = Guid.CreateVersion7();
            var key = keys[i % keys.Count];
            byte[] Field(string column, string value) =>
                FieldCipher.EncryptString(key, FieldMode.Randomized, value, new FieldContext("dnc_preferences", column, id.ToString("D")))!;
            var p = "@r" + (i - start).ToString(CultureInfo.InvariantCulture);
            sql.Append(i == start ? "" : ",").Append(CultureInfo.InvariantCulture,
                $"({p}i,{p}f,{p}m,{p}l,{p}p,{p}e,{p}pb,{p}eb,{i % 2},{i % 3 == 0},{key.DekId},UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE,UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE,1)");
            command.Parameters.AddWithValue(p + "i", id.ToByteArray(bigEndian: true));
            command.Parameters.AddWithValue(p + "f", Field("first_name", "Alice"));
            command.Parameters.AddWithValue(p + "m", Field("middle_name", "M"));
            command.Parameters.AddWithValue(p + "l", Field("last_name", "Doe"));
            command.Parameters.AddWithValue(p + "p", Field("phone", "+1555" + i.ToString("D7", CultureInfo.InvariantCulture)));
            command.Parameters.AddWithValue(p + "e", Field("email", $"user{i.ToString(CultureInfo.InvariantCulture)}@example.com"));
            command.Parameters.AddWithValue(p + "pb", RandomNumberGenerator.GetBytes(16));
            command.Parameters.AddWithValue(p + "eb", RandomNumberGenerator.GetBytes(16));
        }

        command.CommandText = sql.ToString();
        await command.ExecuteNonQueryAsync();
    }
}

async Task<(int ExitCode, string Error, double Wall)> RunWorkerOnceAsync()
{
    var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
    start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Pii.EtlWorker.dll"));
    start.ArgumentList.Add("--once");
    start.Environment["ConnectionStrings__dnc"] = source.ConnectionString;
    start.Environment["ConnectionStrings__analytics"] = target.ConnectionString;
    start.Environment["VAULT_ADDR"] = vault.Address();
    start.Environment["services__vault__http__0"] = vault.Address();
    start.Environment["VAULT_TOKEN"] = token.Token;
    start.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = "";
    var clock = Stopwatch.StartNew();
    using var process = Process.Start(start)!;
    var output = process.StandardOutput.ReadToEndAsync();
    var error = await process.StandardError.ReadToEndAsync();
    await output;
    await process.WaitForExitAsync();
    return (process.ExitCode, error, clock.Elapsed.TotalSeconds);
}
