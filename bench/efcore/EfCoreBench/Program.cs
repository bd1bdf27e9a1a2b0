// EF Core overhead (issue 12): save and load 10,000 entities with three encrypted properties (two with a blind index)
// against the same entities unencrypted, in one run, against real PostgreSQL started by the AppHost's launcher
// (LocalResources) exactly as the tests start it. Runs alternate plain / encrypted so load changes hit both alike;
// prints the median of each and the ratio. The KEK is local (a DEK is unwrapped once and then cached, as in production).
// Usage: efcore-bench [entities=10000] [runs=7]
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;
using Pii.Bench.EfCore;
using Pii.Crypto.Keys;
using Pii.EntityFrameworkCore;

int entities = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
int runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 7;

var model = LocalResources.CreateBuilder("efbench");
var database = model.AddPostgres("postgres").AddDatabase("bench");
await using var resources = await LocalResources.StartAsync(model, TimeSpan.FromMinutes(5));
string connectionString = database.Resource.ConnectionString;

byte[] master = RandomNumberGenerator.GetBytes(32);
using var kek = new LocalKek("bench", new Dictionary<int, byte[]> { [1] = master });
using var encryption = new PiiEncryption(new PiiEncryptionOptions
{
    KeyEncryptionKey = kek,
    KeyStore = options => options.UseNpgsql(connectionString),
    ApplicationKey = RandomNumberGenerator.GetBytes(32),
});
var plainOptions = new DbContextOptionsBuilder<PlainContext>().UseNpgsql(connectionString).Options;
var secretOptions = new DbContextOptionsBuilder<SecretContext>().UseNpgsql(connectionString).UsePiiEncryption(encryption).Options;
await using (var context = new SecretContext(secretOptions))
{
    await context.Database.EnsureCreatedAsync();
}
await using (var context = new PlainContext(plainOptions))
{
    // Both models in one database: EnsureCreated is a no-op once the database exists, so the plain table is made from its script.
    await context.Database.ExecuteSqlRawAsync(context.Database.GenerateCreateScript());
}
await encryption.InitializeAsync();

var times = new Dictionary<string, List<double>> { ["plain save"] = [], ["plain load"] = [], ["encrypted save"] = [], ["encrypted load"] = [] };
for (int run = 0; run <= runs; run++)
{
    // Run 0 warms up both paths (JIT, connection pool, DEK creation) and is not counted.
    var (plainSave, plainLoad) = await MeasureAsync(() => new PlainContext(plainOptions), i => new PlainPerson
    {
        FullName = $"Person {i}",
        Email = $"person{i}@example.com",
        BirthDate = new DateOnly(1950, 1, 1).AddDays(i % 20_000),
        Visits = i,
    }, c => c.People);
    var (secretSave, secretLoad) = await MeasureAsync(() => new SecretContext(secretOptions), i => new SecretPerson
    {
        FullName = $"Person {i}",
        Email = $"person{i}@example.com",
        BirthDate = new DateOnly(1950, 1, 1).AddDays(i % 20_000),
        Visits = i,
    }, c => c.People);
    if (run == 0) continue;
    times["plain save"].Add(plainSave);
    times["plain load"].Add(plainLoad);
    times["encrypted save"].Add(secretSave);
    times["encrypted load"].Add(secretLoad);
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"run {run}: plain {plainSave:F0}/{plainLoad:F0} ms, encrypted {secretSave:F0}/{secretLoad:F0} ms (save/load)"));
}

double Median(string key)
{
    var sorted = times[key].Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"entities {entities}, runs {runs} (medians), load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));
foreach (string what in new[] { "save", "load" })
{
    double plain = Median($"plain {what}"), secret = Median($"encrypted {what}");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: plain {plain:F0} ms, encrypted {secret:F0} ms, ratio {secret / plain:F2}"));
}
double total = Median("encrypted save") + Median("encrypted load"), baseline = Median("plain save") + Median("plain load");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"save+load: ratio {total / baseline:F2}"));

async Task<(double Save, double Load)> MeasureAsync<TContext, TEntity>(Func<TContext> create, Func<int, TEntity> make, Func<TContext, DbSet<TEntity>> set)
    where TContext : DbContext
    where TEntity : class
{
    await using (var context = create())
    {
        await set(context).ExecuteDeleteAsync();
    }
    var rows = Enumerable.Range(0, entities).Select(make).ToList();
    var clock = Stopwatch.StartNew();
    await using (var context = create())
    {
        set(context).AddRange(rows);
        await context.SaveChangesAsync();
    }
    double save = clock.Elapsed.TotalMilliseconds;
    clock.Restart();
    await using (var context = create())
    {
        int loaded = (await set(context).ToListAsync()).Count;
        if (loaded != entities) throw new InvalidOperationException($"Loaded {loaded} of {entities} rows.");
    }
    return (save, clock.Elapsed.TotalMilliseconds);
}
