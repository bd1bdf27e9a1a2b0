using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using MySqlConnector;
using Pii.AppHost;
using Pii.Bench.Shared;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;
using Pii.Crypto.Fields;

// DEK re-encryption throughput (issue 5): starts MariaDB, the key service and both FormApi instances with the AppHost's
// launcher, bulk-loads N DNC rows whose five fields are real field-cipher ciphertexts under one DEK made by the key
// service's datakey (stored wrapped in encryption_keys, as the intake does), then calls the back office's
// POST /api/keys/rotate-dek (admin key) while `clients` submitters keep posting to the intake's POST /api/dnc, and
// times the background job from the 202 to GET /api/keys/jobs/{id} reporting "completed".
// Usage: reencrypt-bench [rows=1000000] [clients=2] [batch-size=FormApi's default]
var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
var clients = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
var batchSize = args.Length > 2 ? args[2] : null;

var model = LocalResources.CreateBuilder("reencrypt-bench", progress: Console.Out);
var apiKeys = new ApiKeys(model.Secrets);
var vault = model.AddKeyService("vault").AddTransitKey("dnc");
var dnc = model.AddMariaDb("mysql").AddDatabase("dnc");
var backoffice = model.AddFormApi("formapi-backoffice", FormApiInstance.Backoffice)
    .WithReference(dnc.AddUser("dnc_backoffice", MySqlAccess.Owner))
    .WithReference(vault.AddToken("formapi-backoffice", "dnc-backoffice"))
    .WithApiKeys(apiKeys, "admin")
    .WithEnvironment("Logging__LogLevel__Default", "Warning")
    .WaitFor(dnc).WaitFor(vault);
var intake = model.AddFormApi("formapi", FormApiInstance.Intake)
    .WithReference(dnc.AddFormApiIntakeUser(backoffice, "dnc_intake"))
    .WithReference(vault.AddToken("formapi", "dnc-intake"))
    .WithEnvironment("FormApi__RateLimitBurst", "1000000")
    .WithEnvironment("FormApi__RateLimitPerSecond", "1000000")
    .WithEnvironment("Logging__LogLevel__Default", "Warning")
    .WaitFor(backoffice);
if (batchSize is not null) backoffice.WithEnvironment("FormApi__ReencryptionBatchSize", batchSize);
var adminKey = apiKeys.Ensure("formapi-backoffice", ["admin"])["admin"];

await using var resources = await LocalResources.StartAsync(model, TimeSpan.FromMinutes(5));
using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
var backofficeUrl = $"http://127.0.0.1:{backoffice.HttpEndpoint.Port}";
var intakeUrl = $"http://127.0.0.1:{intake.HttpEndpoint.Port}";

using var oldKey = await DncDekSeed.CreateAsync(http, vault.Address(), model.Secrets.GetOrCreate("vault-root-token"), dnc.ConnectionString);
var seed = Stopwatch.StartNew();
await Task.WhenAll(Enumerable.Range(0, 2).Select(part => SeedAsync(part, 2)));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"seeded {rows} rows under DEK {oldKey.DekId} in {seed.Elapsed.TotalSeconds:F1} s"));

// Light submission load through the public intake for the whole job (each client pauses 20 ms between submissions).
using var stopLoad = new CancellationTokenSource();
long submitted = 0, failed = 0;
var load = Task.WhenAll(Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
{
    for (int i = 0; !stopLoad.IsCancellationRequested; i++)
    {
        var body = $$"""{"first_name":"Bench{{client}}","middle_name":"Q","last_name":"Load","phone":"+1555{{Random.Shared.Next(1_000_000, 9_999_999)}}","email":"load{{client}}x{{i}}@example.com","phone_dnc":true,"email_dnc":false}""";
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(intakeUrl + "/api/dnc", content);
        Interlocked.Increment(ref response.StatusCode == HttpStatusCode.Created ? ref submitted : ref failed);
        await Task.Delay(20);
    }
})));
Resource[] measured = [dnc.Server, backoffice, intake];
var idleBefore = measured.Select(CpuSeconds).ToArray();
await Task.Delay(TimeSpan.FromSeconds(4));
Console.WriteLine("CPU before the job (4 s, submissions running): " + string.Join(", ", measured.Select((r, i) =>
    string.Create(CultureInfo.InvariantCulture, $"{r.Name} {(CpuSeconds(r) - idleBefore[i]) / 4:P0} of one core"))));

var cpuBefore = measured.Select(CpuSeconds).ToArray();
var clock = Stopwatch.StartNew();
using var rotate = new HttpRequestMessage(HttpMethod.Post, backofficeUrl + "/api/keys/rotate-dek");
rotate.Headers.Add("X-Api-Key", adminKey);
using var rotated = await http.SendAsync(rotate);
rotated.EnsureSuccessStatusCode();
var jobId = (string)JsonNode.Parse(await rotated.Content.ReadAsStringAsync())!["job_id"]!;
JsonNode job;
while (true)
{
    using var poll = new HttpRequestMessage(HttpMethod.Get, $"{backofficeUrl}/api/keys/jobs/{jobId}");
    poll.Headers.Add("X-Api-Key", adminKey);
    using var answer = await http.SendAsync(poll);
    job = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!;
    if ((string?)job["status"] != "running") break;
    await Task.Delay(200);
}
var seconds = clock.Elapsed.TotalSeconds;
var cpuUsed = measured.Select((r, i) => CpuSeconds(r) - cpuBefore[i]).ToArray();
long submittedDuringJob = Interlocked.Read(ref submitted);
await stopLoad.CancelAsync();
await load;

var moved = (long)job["rows_reencrypted"]!;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"job {job["status"]}: {moved} rows re-encrypted, {job["rows_skipped"]} skipped, {job["rows_remaining"]} remaining, {job["passes"]} pass(es) in {seconds:F1} s"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"submissions during the job: {submittedDuringJob} accepted ({submittedDuringJob / seconds:F0}/s), {Interlocked.Read(ref failed)} failed"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"re-encryption: {moved / seconds:F0} rows/s (target >= 20000); load avg now {File.ReadAllText("/proc/loadavg")[..14]}"));
Console.WriteLine("CPU during the job: " + string.Join(", ", measured.Select((r, i) =>
    string.Create(CultureInfo.InvariantCulture, $"{r.Name} {cpuUsed[i]:F1} s ({cpuUsed[i] / seconds:P0} of one core, {cpuUsed[i] * 1e6 / Math.Max(1, moved):F0} µs/row)"))));
return (string?)job["status"] == "completed" && (long)job["rows_remaining"]! == 0 && Interlocked.Read(ref failed) == 0 ? 0 : 1;

// User + system CPU seconds of a resource's process so far (Linux /proc; clock ticks are 100 Hz on Linux).
static double CpuSeconds(Resource resource)
{
    var stat = File.ReadAllText($"/proc/{resource.Child!.Pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
}

// Multi-row INSERTs of 2,000 rows with hex literals (ids and ciphertexts only), `parts` connections in parallel.
async Task SeedAsync(int part, int parts)
{
    await using var admin = new MySqlConnection(dnc.ConnectionString);
    await admin.OpenAsync();
    const int chunk = 2000;
    var sql = new StringBuilder();
    for (var start = part * chunk; start < rows; start += chunk * parts)
    {
        sql.Clear().Append("INSERT INTO dnc_preferences VALUES ");
        for (var i = start; i < Math.Min(rows, start + chunk); i++)
        {
            var id = Guid.CreateVersion7();
            var context = id.ToString("D");
            string Field(string column, string value) =>
                "X'" + Convert.ToHexString(FieldCipher.EncryptString(oldKey, FieldMode.Randomized, value, new FieldContext("dnc_preferences", column, context))!) + "'";
            string Random16() => "X'" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16)) + "'";
            sql.Append(i == start ? "" : ",").Append(CultureInfo.InvariantCulture,
                $"(X'{Convert.ToHexString(id.ToByteArray(bigEndian: true))}',{Field("first_name", "Alice")},{Field("middle_name", "M")},{Field("last_name", "Doe")},")
                .Append(CultureInfo.InvariantCulture, $"{Field("phone", "+1555" + i.ToString("D7", CultureInfo.InvariantCulture))},{Field("email", $"user{i}@example.com")},")
                .Append(CultureInfo.InvariantCulture, $"{Random16()},{Random16()},{i % 2},{i % 3 == 0},{oldKey.DekId},UTC_TIMESTAMP(6),UTC_TIMESTAMP(6),1)");
        }
        await new MySqlCommand(sql.ToString(), admin).ExecuteNonQueryAsync();
    }
}
