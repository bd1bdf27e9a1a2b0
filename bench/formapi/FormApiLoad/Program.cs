using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Pii.AppHost;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;

// DNC intake load test (issue 5): starts MariaDB, the key service and both FormApi instances with the AppHost's own
// launcher (the intake with the bench-only plaintext peer route), then drives POST /api/dnc (encrypted) and
// POST /api/bench/plaintext-dnc (same validation, same fields, stored unencrypted) from `concurrency` clients,
// interleaving the two for `rounds` rounds of `seconds` each after a 10 s warm-up of each (JIT, pools, the intake's
// first DEK), and prints throughput, p50/p99 and the ratio.
// Usage: formapi-load [seconds-per-round=10] [rounds=3] [concurrency=32]
var seconds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
var concurrency = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 32;

var model = LocalResources.CreateBuilder("formapi-bench", progress: Console.Out);
var vault = model.AddKeyService("vault").AddTransitKey("dnc");
var dnc = model.AddMariaDb("mysql").AddDatabase("dnc");
var backoffice = model.AddFormApi("formapi-backoffice", FormApiInstance.Backoffice)
    .WithReference(dnc.AddUser("dnc_backoffice", MySqlAccess.Owner))
    .WithReference(vault.AddToken("formapi-backoffice", "dnc-backoffice"))
    .WithEnvironment("FormApi__BenchPlaintextPeer", "true")
    .WaitFor(dnc).WaitFor(vault);
var intake = model.AddFormApi("formapi", FormApiInstance.Intake)
    .WithReference(dnc.AddFormApiIntakeUser(backoffice, "dnc_intake", "bench_plaintext_dnc"))
    .WithReference(vault.AddToken("formapi", "dnc-intake"))
    .WithEnvironment("FormApi__BenchPlaintextPeer", "true")
    .WithEnvironment("FormApi__RateLimitBurst", "1000000")
    .WithEnvironment("FormApi__RateLimitPerSecond", "1000000")
    .WithEnvironment("Logging__LogLevel__Default", "Warning")
    .WaitFor(backoffice);
backoffice.WithEnvironment("Logging__LogLevel__Default", "Warning");

await using var resources = await LocalResources.StartAsync(model, TimeSpan.FromMinutes(5));
var baseUrl = new Uri($"http://127.0.0.1:{intake.HttpEndpoint.Port}/");
using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
using var http = new HttpClient(handler) { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };

var bodies = Enumerable.Range(0, 4096).Select(i =>
{
    var phone = "+1555" + Random.Shared.Next(1_000_000, 9_999_999).ToString(CultureInfo.InvariantCulture);
    return Encoding.UTF8.GetBytes($$"""{"first_name":"Alice{{i}}","middle_name":"M","last_name":"Doe","phone":"{{phone}}","email":"alice{{i}}@example.com","phone_dnc":true,"email_dnc":false}""");
}).ToArray();

const string Encrypted = "/api/dnc";
const string Plaintext = "/api/bench/plaintext-dnc";
await RunAsync(Encrypted, TimeSpan.FromSeconds(10));
await RunAsync(Plaintext, TimeSpan.FromSeconds(10));

var totals = new Dictionary<string, List<Result>> { [Encrypted] = [], [Plaintext] = [] };
for (int round = 0; round < rounds; round++)
{
    foreach (var route in round % 2 == 0 ? new[] { Encrypted, Plaintext } : [Plaintext, Encrypted])
    {
        var result = await RunAsync(route, TimeSpan.FromSeconds(seconds));
        totals[route].Add(result);
        Console.WriteLine($"round {round + 1} {route,-26} {result.PerSecond,8:F0}/s  p50 {result.P50,6:F1} ms  p99 {result.P99,6:F1} ms  errors {result.Errors}");
    }
}

Console.WriteLine();
Console.WriteLine($"date: {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z  host: {Environment.ProcessorCount} cores (shared), loopback, {concurrency} clients, {rounds} x {seconds} s per endpoint");
var encrypted = Summarize(totals[Encrypted]);
var plaintext = Summarize(totals[Plaintext]);
Console.WriteLine($"encrypted  POST {Encrypted,-26} {encrypted.PerSecond,8:F0}/s  p50 {encrypted.P50,6:F1} ms  p99 {encrypted.P99,6:F1} ms  errors {encrypted.Errors}");
Console.WriteLine($"plaintext  POST {Plaintext,-26} {plaintext.PerSecond,8:F0}/s  p50 {plaintext.P50,6:F1} ms  p99 {plaintext.P99,6:F1} ms  errors {plaintext.Errors}");
Console.WriteLine($"ratio encrypted/plaintext throughput: {encrypted.PerSecond / plaintext.PerSecond:F2} (target >= 0.8); targets >= 500/s, p99 <= 100 ms");
return 0;

async Task<Result> RunAsync(string route, TimeSpan duration)
{
    var latencies = new List<double>[concurrency];
    long errors = 0;
    var stopwatch = Stopwatch.StartNew();
    var deadline = stopwatch.Elapsed + duration;
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
    {
        var own = latencies[worker] = new List<double>(4096);
        int next = worker;
        while (stopwatch.Elapsed < deadline)
        {
            var body = bodies[next++ % bodies.Length];
            long start = Stopwatch.GetTimestamp();
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = await http.PostAsync(route, content);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                Interlocked.Increment(ref errors);
            }
            own.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
    }));
    var elapsed = stopwatch.Elapsed.TotalSeconds;
    var all = latencies.SelectMany(l => l).Order().ToArray();
    return new Result(all.Length, elapsed, all, errors);
}

static Result Summarize(List<Result> results) =>
    new(results.Sum(r => r.Count), results.Sum(r => r.Seconds), [.. results.SelectMany(r => r.Sorted).Order()], results.Sum(r => r.Errors));

internal sealed record Result(int Count, double Seconds, double[] Sorted, long Errors)
{
    public double PerSecond => Count / Seconds;

    public double P50 => Percentile(0.50);

    public double P99 => Percentile(0.99);

    private double Percentile(double q) => Sorted.Length == 0 ? double.NaN : Sorted[Math.Min(Sorted.Length - 1, (int)Math.Ceiling(q * Sorted.Length) - 1)];
}
