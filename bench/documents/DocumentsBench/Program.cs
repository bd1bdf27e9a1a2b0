// DocumentService benchmarks, each against its peer in the same run (issue 6, Performance):
//  1. upload of a 500 MiB file through DocumentService (Release build, its own process, real Kestrel) into s3rver vs
//     the same bytes put unencrypted into the same s3rver with the same AWS SDK client settings (multipart, same part
//     size and parallelism); DocumentService peak RSS sampled from /proc during the upload;
//  2. 64 KiB range reads from the middle of the 500 MiB document: p50/p99 over N requests;
//  3. C concurrent clients each downloading a 1 MiB document: all must succeed, p50/p99, service RSS.
// PostgreSQL, s3rver and the key service are started by the AppHost's launcher (LocalResources) exactly as tests do.
// Usage: documents-bench [sizeMiB=500] [rangeReads=200] [clients=500]
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Amazon.S3;
using Amazon.S3.Model;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;
using Pii.Services.Shared;

var sizeMiB = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 500;
var rangeReads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200;
var clients = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 500;
const int PartSize = 8 * 1024 * 1024;
const int PartsInFlight = 2;

var repo = LocalState.FindRepoRoot();
var work = Directory.CreateTempSubdirectory("pii-docs-bench-").FullName;
var model = LocalResources.CreateBuilder("docbench");
var vault = model.AddKeyService("vault").AddTransitKey("documents");
var login = model.AddPostgres("postgres").AddDatabase("records").AddUser("documentservice", new PostgresAccess.SchemaOwner("documents"));
var s3server = model.AddS3rver("s3");
var bucket = s3server.AddBucket("documents");
var peerBucket = s3server.AddBucket("peer");
var token = vault.AddToken("documentservice", "documents");
await using var resources = await LocalResources.StartAsync(model, TimeSpan.FromMinutes(5));

var apiKey = "pii_bench_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
var port = FreePort();
var service = new ProcessStartInfo("dotnet", Path.Combine(repo, "services/DocumentService/bin/Release/net10.0/Pii.DocumentService.dll"))
{
    WorkingDirectory = Path.Combine(repo, "services/DocumentService"),
    RedirectStandardOutput = true,
    RedirectStandardError = true,
};
service.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
service.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
service.Environment["ConnectionStrings__records"] = login.ConnectionString;
service.Environment["ConnectionStrings__documents"] = bucket.ConnectionString;
service.Environment["VAULT_ADDR"] = vault.Address();
service.Environment["VAULT_TOKEN"] = token.Token;
service.Environment["DocumentService__ApplicationKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
service.Environment["DocumentService__MaxUploadBytes"] = (4L << 30).ToString(CultureInfo.InvariantCulture);
service.Environment["Auth__ApiKeyHashes__clinician"] = ApiKeys.Hash(apiKey);
service.Environment["Logging__LogLevel__Default"] = "Warning";
using var process = Process.Start(service)!;
process.OutputDataReceived += (_, e) => { if (e.Data is { } line && (line.StartsWith("warn", StringComparison.Ordinal) || line.StartsWith("fail", StringComparison.Ordinal))) Console.Error.WriteLine("[service] " + line); };
process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("[service] " + e.Data); };
process.BeginOutputReadLine();
process.BeginErrorReadLine();
try
{
    using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = Math.Max(clients, 16), PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
    using var http = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(10) };
    http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
    await WaitForServiceAsync(http);

    using var create = await http.PostAsJsonAsync("/api/patients", new { mrn = "BENCH-1", fullName = "Bench Patient" });
    create.EnsureSuccessStatusCode();
    var patient = (await create.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();

    var file = Path.Combine(work, "payload.bin");
    await WriteRandomFileAsync(file, (long)sizeMiB << 20);
    var size = new FileInfo(file).Length;
    Console.WriteLine($"date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; cores: {Environment.ProcessorCount} (shared with other work); file: {sizeMiB} MiB");

    // 1. Peer first, then DocumentService, then the peer again; the ratio uses the mean peer time.
    using var s3 = S3BucketConnection.Parse(peerBucket.ConnectionString).CreateClient(config =>
    {
        config.MaxErrorRetry = 1;
        config.Timeout = TimeSpan.FromSeconds(30);
    });
    var peer1 = await TimeAsync(() => PeerUploadAsync(s3, file, "peer-1"));
    var baseline = CurrentRss(process.Id);
    using var sampler = new RssSampler(process.Id);
    string documentId = "";
    var upload = await TimeAsync(async () => documentId = await UploadAsync(http, patient, file));
    var uploadPeak = sampler.Stop();
    var peer2 = await TimeAsync(() => PeerUploadAsync(s3, file, "peer-2"));
    var peerMean = (peer1 + peer2) / 2;
    var mibs = sizeMiB / upload.TotalSeconds;
    var peerMibs = sizeMiB / peerMean.TotalSeconds;
    Console.WriteLine($"upload {sizeMiB} MiB: DocumentService {upload.TotalSeconds:0.00} s ({mibs:0.0} MiB/s); plain S3 multipart peer {peer1.TotalSeconds:0.00} s / {peer2.TotalSeconds:0.00} s ({peerMibs:0.0} MiB/s); ratio {mibs / peerMibs:0.00} (target >= 0.8)");
    Console.WriteLine($"DocumentService RSS: {baseline / 1048576.0:0} MiB before, peak {uploadPeak / 1048576.0:0} MiB during the upload (target <= 200 MiB)");

    // 2. 64 KiB from the middle, different offsets around the middle so every read fetches frames.
    var latencies = new List<double>();
    var middle = size / 2;
    for (var i = 0; i < rangeReads + 10; i++)
    {
        var start = middle + (i % 50) * 65_536 + i;
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/documents/{documentId}");
        request.Headers.TryAddWithoutValidation("Range", $"bytes={start}-{start + 65_535}");
        var watch = Stopwatch.StartNew();
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        watch.Stop();
        if (response.StatusCode != HttpStatusCode.PartialContent || body.Length != 65_536) throw new InvalidOperationException($"range read failed: {response.StatusCode}");
        if (i >= 10) latencies.Add(watch.Elapsed.TotalMilliseconds);
    }
    latencies.Sort();
    Console.WriteLine($"range read 64 KiB from the middle of {sizeMiB} MiB: p50 {Percentile(latencies, 50):0.00} ms, p99 {Percentile(latencies, 99):0.00} ms over {rangeReads} requests (target p50 <= 10 ms)");

    // 3. Concurrent downloads of a 1 MiB document.
    var small = RandomNumberGenerator.GetBytes(1 << 20);
    using var smallUpload = new HttpRequestMessage(HttpMethod.Post, $"/api/patients/{patient}/documents") { Content = new ByteArrayContent(small) };
    smallUpload.Headers.Add("X-File-Name", "small.bin");
    using var smallResponse = await http.SendAsync(smallUpload);
    smallResponse.EnsureSuccessStatusCode();
    var smallId = (await smallResponse.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
    using var concurrentSampler = new RssSampler(process.Id);
    var start3 = new TaskCompletionSource();
    var downloads = Enumerable.Range(0, clients).Select(async _ =>
    {
        await start3.Task;
        var watch = Stopwatch.StartNew();
        using var response = await http.GetAsync($"/api/documents/{smallId}");
        var body = await response.Content.ReadAsByteArrayAsync();
        watch.Stop();
        return (Ok: response.StatusCode == HttpStatusCode.OK && body.AsSpan().SequenceEqual(small), Ms: watch.Elapsed.TotalMilliseconds, Status: (int)response.StatusCode);
    }).ToList();
    var wall = Stopwatch.StartNew();
    start3.SetResult();
    var results = await Task.WhenAll(downloads);
    wall.Stop();
    var concurrentPeak = concurrentSampler.Stop();
    var times = results.Select(r => r.Ms).Order().ToList();
    Console.WriteLine($"{clients} concurrent clients x 1 MiB: {results.Count(r => r.Ok)}/{clients} succeeded and identical, p50 {Percentile(times, 50):0} ms, p99 {Percentile(times, 99):0} ms, wall {wall.Elapsed.TotalSeconds:0.00} s; service peak RSS {concurrentPeak / 1048576.0:0} MiB");
    foreach (var failure in results.Where(r => !r.Ok).GroupBy(r => r.Status)) Console.WriteLine($"  failed with HTTP {failure.Key}: {failure.Count()}");
    Console.WriteLine($"DocumentService VmHWM (whole run): {PeakRss(process.Id) / 1048576.0:0} MiB");
    return results.All(r => r.Ok) ? 0 : 1;
}
finally
{
    process.Kill(entireProcessTree: true);
    await process.WaitForExitAsync();
    Directory.Delete(work, recursive: true);
}

static async Task<string> UploadAsync(HttpClient http, string patient, string file)
{
    await using var stream = File.OpenRead(file);
    using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/patients/{patient}/documents") { Content = new StreamContent(stream, 1 << 20) };
    request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
    request.Headers.Add("X-File-Name", "payload.bin");
    using var response = await http.SendAsync(request);
    if (response.StatusCode != HttpStatusCode.Created) throw new InvalidOperationException($"upload failed: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    return (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
}

// The peer: the same SDK client settings, multipart with the same part size and parts in flight, no encryption.
static async Task PeerUploadAsync(AmazonS3Client s3, string file, string key)
{
    var started = await s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = "peer", Key = key });
    await using var stream = File.OpenRead(file);
    using var slots = new SemaphoreSlim(PartsInFlight);
    var parts = new List<Task<PartETag>>();
    for (var number = 1; ; number++)
    {
        var buffer = new byte[PartSize];
        var count = await stream.ReadAtLeastAsync(buffer, PartSize, throwOnEndOfStream: false);
        if (count == 0) break;
        await slots.WaitAsync();
        var partNumber = number;
        parts.Add(Task.Run(async () =>
        {
            try
            {
                var response = await s3.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = "peer", Key = key, UploadId = started.UploadId, PartNumber = partNumber, PartSize = count,
                    InputStream = new MemoryStream(buffer, 0, count), UseChunkEncoding = false,
                });
                return new PartETag(partNumber, response.ETag);
            }
            finally
            {
                slots.Release();
            }
        }));
        if (count < PartSize) break;
    }
    var etags = await Task.WhenAll(parts);
    await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = "peer", Key = key, UploadId = started.UploadId, PartETags = [.. etags] });
}

static async Task<TimeSpan> TimeAsync(Func<Task> action)
{
    var watch = Stopwatch.StartNew();
    await action();
    return watch.Elapsed;
}

static async Task WriteRandomFileAsync(string path, long size)
{
    await using var output = File.Create(path);
    var buffer = new byte[1 << 20];
    for (long written = 0; written < size; written += buffer.Length)
    {
        RandomNumberGenerator.Fill(buffer);
        await output.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - written)));
    }
}

static async Task WaitForServiceAsync(HttpClient http)
{
    for (var i = 0; i < 300; i++)
    {
        try
        {
            using var response = await http.GetAsync("/api/patients?mrn=probe");
            if (response.StatusCode == HttpStatusCode.OK) return;
        }
        catch (HttpRequestException)
        {
            // Not listening yet.
        }
        await Task.Delay(200);
    }
    throw new TimeoutException("DocumentService did not start.");
}

static double Percentile(List<double> sorted, int percentile) =>
    sorted[Math.Clamp((int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1, 0, sorted.Count - 1)];

static long ReadStatus(int pid, string field)
{
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith(field + ":", StringComparison.Ordinal))
        {
            return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
    }
    return 0;
}

static long CurrentRss(int pid) => ReadStatus(pid, "VmRSS");

static long PeakRss(int pid) => ReadStatus(pid, "VmHWM");

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}
