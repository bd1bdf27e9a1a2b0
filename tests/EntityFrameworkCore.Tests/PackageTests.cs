using System.Diagnostics;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;

namespace Pii.EntityFrameworkCore.Tests;

/// <summary>
/// The packages as a user gets them: packs Pii.Crypto and Pii.EntityFrameworkCore into a folder feed, creates a fresh
/// console project outside the repository (no Directory.Build.props, no project references) that restores them from that
/// feed plus the normal NuGet source, and runs an encrypt / save / search / decrypt round trip against this fixture's
/// PostgreSQL. A unique prerelease version per run keeps NuGet's package cache from serving an older build.
/// </summary>
[Collection(PostgresGroup.Name)]
public sealed class PackageTests(PostgresFixture fixture)
{
    private const string App = """
        using System.Security.Cryptography;
        using Microsoft.EntityFrameworkCore;
        using Pii.Crypto.BlindIndexing;
        using Pii.Crypto.Keys;
        using Pii.EntityFrameworkCore;

        string connectionString = args[0];
        using var kek = new LocalKek("dev", new Dictionary<int, byte[]> { [1] = RandomNumberGenerator.GetBytes(32) });
        using var encryption = new PiiEncryption(new PiiEncryptionOptions { KeyEncryptionKey = kek, KeyStore = o => o.UseNpgsql(connectionString) });
        var options = new DbContextOptionsBuilder<Shop>().UseNpgsql(connectionString).UsePiiEncryption(encryption).Options;
        var id = Guid.NewGuid();
        await using (var db = new Shop(options))
        {
            await db.Database.EnsureCreatedAsync();
            db.Customers.Add(new Customer { Id = id, Email = "ada@example.com" });
            await db.SaveChangesAsync();
        }
        await using (var db = new Shop(options))
        {
            var found = await db.Customers.SingleAsync(c => c.Email == " ADA@example.com");
            byte[] stored = await db.Database.SqlQueryRaw<byte[]>("SELECT \"Email\" AS \"Value\" FROM \"Customers\"").SingleAsync();
            Console.WriteLine($"found={found.Id == id} email={found.Email} stored-header={stored[0]:x2}");
        }

        public sealed class Customer
        {
            public Guid Id { get; set; }

            [Encrypted, BlindIndexed(BlindIndexKind.Email)]
            public string Email { get; set; } = "";
        }

        public sealed class Shop(DbContextOptions<Shop> options) : DbContext(options)
        {
            public DbSet<Customer> Customers => Set<Customer>();
        }
        """;

    [Fact]
    public async Task Packed_packages_restore_into_a_fresh_project_and_round_trip()
    {
        string repo = LocalState.FindRepoRoot();
        string work = Directory.CreateTempSubdirectory("pii-pack-").FullName;
        string version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        string cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        try
        {
            string feed = Path.Combine(work, "feed");
            foreach (string project in new[] { "Crypto/Pii.Crypto.csproj", "Crypto/EntityFrameworkCore/Pii.EntityFrameworkCore.csproj" })
            {
                await RunAsync(repo, "dotnet", "pack", Path.Combine(repo, project), "-c", "Release", "-o", feed, $"-p:Version={version}", "-nologo");
            }
            Assert.True(File.Exists(Path.Combine(feed, $"Pii.Crypto.{version}.nupkg")));
            Assert.True(File.Exists(Path.Combine(feed, $"Pii.EntityFrameworkCore.{version}.nupkg")));
            using (var package = System.IO.Compression.ZipFile.OpenRead(Path.Combine(feed, $"Pii.EntityFrameworkCore.{version}.nupkg")))
            {
                string[] entries = [.. package.Entries.Select(e => e.FullName)];
                Assert.Contains("README.md", entries);
                Assert.Contains("lib/net10.0/Pii.EntityFrameworkCore.xml", entries);
            }

            string app = Path.Combine(work, "app");
            Directory.CreateDirectory(app);
            await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            await File.WriteAllTextAsync(Path.Combine(app, "app.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Pii.EntityFrameworkCore" Version="{version}" />
                    <PackageReference Include="Npgsql.EntityFrameworkCore.PostgreSQL" Version="10.0.3" />
                  </ItemGroup>
                </Project>
                """);
            await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), App);
            string database = await fixture.CreateDatabaseAsync();
            string output = await RunAsync(app, "dotnet", "run", "--project", app, "--", database);
            Assert.Contains("found=True email=ada@example.com stored-header=11", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            foreach (string id in new[] { "pii.crypto", "pii.entityframeworkcore" })
            {
                string cached = Path.Combine(cache, id, version);
                if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
            }
        }
    }

    private static async Task<string> RunAsync(string directory, string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        string text = await output + await error;
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{text}");
        return text;
    }
}
