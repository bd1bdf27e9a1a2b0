using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

// Load generator for the key service (Vault Transit API). Usage:
//   kms-load ADDRESS TOKEN [seconds-per-scenario]
// Scenarios: peer = GET /alive (bare Kestrel floor, same client, same concurrency) then
// single decrypt latency (1 client), single encrypt throughput (32 clients), batch encrypt of 250 items (8 clients).
var address = new Uri(args[0]);
var token = args[1];
var seconds = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 10;
var duration = TimeSpan.FromSeconds(seconds);

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionLifetime = Timeout.InfiniteTimeSpan, UseProxy = false })
{
    BaseAddress = address,
    Timeout = TimeSpan.FromSeconds(30),
};

async Task<HttpStatusCode> Post(string path, byte[] body)
{
    using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
    request.Headers.Add("X-Vault-Token", token);
    using var response = await http.SendAsync(request);
    await response.Content.ReadAsByteArrayAsync();
    return response.StatusCode;
}

async Task<HttpStatusCode> Get(string path)
{
    using var response = await http.GetAsync(path);
    await response.Content.ReadAsByteArrayAsync();
    return response.StatusCode;
}

async Task<(long Count, double PerSecond, long Errors)> Throughput(int clients, Func<Task<HttpStatusCode>> call)
{
    long count = 0, errors = 0;
    for (var i = 0; i < 200; i++)
    {
        await call();
    }

    var stopwatch = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
    {
        while (stopwatch.Elapsed < duration)
        {
            var status = await call();
            if (status == HttpStatusCode.OK)
            {
                Interlocked.Increment(ref count);
            }
            else
            {
                Interlocked.Increment(ref errors);
            }
        }
    })).ToArray();
    await Task.WhenAll(workers);
    return (count, count / stopwatch.Elapsed.TotalSeconds, errors);
}

await Post("v1/transit/keys/bench", "{}"u8.ToArray());
var plaintext = Convert.ToBase64String(RandomNumberGenerator(32));
var encryptBody = Encoding.UTF8.GetBytes(new JsonObject { ["plaintext"] = plaintext }.ToJsonString());

using (var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/transit/encrypt/bench") { Content = new ByteArrayContent(encryptBody), Headers = { { "X-Vault-Token", token } } }))
{
    var ciphertext = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["data"]!["ciphertext"]!.GetValue<string>();
    var decryptBody = Encoding.UTF8.GetBytes(new JsonObject { ["ciphertext"] = ciphertext }.ToJsonString());

    // 1. Peer: the bare HTTP floor of this machine, this client and Kestrel.
    var peer = await Throughput(32, () => Get("alive"));
    Console.WriteLine($"peer GET /alive, 32 clients:           {peer.PerSecond,10:N0} req/s ({peer.Errors} errors)");
    if (peer.Errors > 0)
    {
        throw new InvalidOperationException("GET /alive failed: the peer needs the Kms in Development (ASPNETCORE_ENVIRONMENT).");
    }

    // 2. Single decrypt latency, one client, sequential (the DEK-unwrap path).
    for (var i = 0; i < 500; i++)
    {
        await Post("v1/transit/decrypt/bench", decryptBody);
    }

    var latencies = new List<double>();
    var latencyClock = Stopwatch.StartNew();
    while (latencyClock.Elapsed < duration)
    {
        var start = Stopwatch.GetTimestamp();
        var status = await Post("v1/transit/decrypt/bench", decryptBody);
        latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        if (status != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"decrypt answered {status}");
        }
    }

    latencies.Sort();
    double Percentile(double p) => latencies[Math.Min(latencies.Count - 1, (int)(p * latencies.Count))];
    Console.WriteLine($"single decrypt latency, 1 client:      p50 {Percentile(0.50):F3} ms  p99 {Percentile(0.99):F3} ms  p99.9 {Percentile(0.999):F3} ms  (n={latencies.Count})");

    // 3. Single encrypt throughput, 32 clients.
    var encrypt = await Throughput(32, () => Post("v1/transit/encrypt/bench", encryptBody));
    Console.WriteLine($"single encrypt, 32 clients:            {encrypt.PerSecond,10:N0} req/s ({encrypt.Errors} errors)  = {encrypt.PerSecond / peer.PerSecond:P0} of peer");

    // 4. Batch encrypt, 250 items per request, 8 clients.
    var batch = new JsonArray();
    for (var i = 0; i < 250; i++)
    {
        batch.Add(new JsonObject { ["plaintext"] = plaintext, ["reference"] = i.ToString(CultureInfo.InvariantCulture) });
    }

    var batchBody = Encoding.UTF8.GetBytes(new JsonObject { ["batch_input"] = batch }.ToJsonString());
    var batched = await Throughput(8, () => Post("v1/transit/encrypt/bench", batchBody));
    Console.WriteLine($"batch_input 250, 8 clients:            {batched.PerSecond * 250,10:N0} items/s ({batched.PerSecond:N0} req/s, {batched.Errors} errors)");
}

static byte[] RandomNumberGenerator(int length) => System.Security.Cryptography.RandomNumberGenerator.GetBytes(length);
