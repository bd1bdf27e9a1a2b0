using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pii.Crypto.Tests.Streams;

/// <summary>
/// The official AWS Encryption SDK for JavaScript (npm @aws-crypto/client-node, pinned by Interop/package-lock.json),
/// installed with <c>npm ci</c> on first use under a cross-process file lock, and driven through Interop/esdk.js.
/// </summary>
public sealed class EsdkFixture
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromMinutes(5);

    public EsdkFixture()
    {
        InteropDirectory = Path.Combine(StreamTestSupport.Directory, "Interop");
        EnsureInstalled();
    }

    public string InteropDirectory { get; }

    /// <summary>Runs jobs (see esdk.js) in one node process; returns one result object per job.</summary>
    public IReadOnlyList<JsonObject> Run(IReadOnlyList<JsonObject> jobs)
    {
        var jobsFile = Path.GetTempFileName();
        try
        {
            File.WriteAllText(jobsFile, new JsonArray([.. jobs.Select(j => (JsonNode)j.DeepClone())]).ToJsonString());
            var (exitCode, stdout, stderr) = RunProcess("node", [Path.Combine(InteropDirectory, "esdk.js"), jobsFile], TimeSpan.FromMinutes(5));
            Assert.True(exitCode == 0, $"node esdk.js failed ({exitCode}): {stderr}");
            return JsonNode.Parse(stdout)!.AsArray().Select(n => n!.AsObject()).ToList();
        }
        finally
        {
            File.Delete(jobsFile);
        }
    }

    private void EnsureInstalled()
    {
        if (IsInstalled())
        {
            return;
        }
        var lockPath = Path.Combine(Path.GetTempPath(), "pii-stream-interop-npm.lock");
        var deadline = DateTime.UtcNow + LockTimeout;
        while (true)
        {
            try
            {
                // FileShare.None takes an exclusive flock on Unix, so concurrent test processes install one at a time.
                using var held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                if (!IsInstalled())
                {
                    var (exitCode, _, stderr) = RunProcess("npm", ["ci", "--no-audit", "--no-fund"], TimeSpan.FromMinutes(5));
                    if (exitCode != 0)
                    {
                        throw new InvalidOperationException($"npm ci in {InteropDirectory} failed: {stderr}");
                    }
                }
                return;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(250);
            }
        }
    }

    private bool IsInstalled() => File.Exists(Path.Combine(InteropDirectory, "node_modules", "@aws-crypto", "client-node", "package.json"));

    private (int ExitCode, string Stdout, string Stderr) RunProcess(string fileName, IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = InteropDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} did not finish within {timeout}.");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    public static JsonObject Job(string verb, string input, string output, bool aes, bool rsa, IReadOnlyDictionary<string, string>? context = null, int frameLength = 0)
    {
        var job = new JsonObject { ["verb"] = verb, ["input"] = input, ["output"] = output };
        if (aes)
        {
            job["aes"] = new JsonObject
            {
                ["keyHex"] = StreamTestSupport.AesKeyHex,
                ["namespace"] = StreamTestSupport.AesNamespace,
                ["name"] = StreamTestSupport.AesName,
            };
        }
        if (rsa)
        {
            job["rsa"] = new JsonObject
            {
                [verb == "encrypt" ? "publicPemPath" : "privatePemPath"] = verb == "encrypt" ? StreamTestSupport.RsaPublicPemPath : StreamTestSupport.RsaPrivatePemPath,
                ["namespace"] = StreamTestSupport.RsaNamespace,
                ["name"] = StreamTestSupport.RsaName,
            };
        }
        if (context is not null)
        {
            job["context"] = JsonSerializer.SerializeToNode(context);
        }
        if (frameLength > 0)
        {
            job["frameLength"] = frameLength;
        }
        return job;
    }
}
