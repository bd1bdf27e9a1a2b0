using System.CommandLine;
using System.CommandLine.Invocation;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Pii.Crypto;
using Pii.Crypto.Keys;
using Pii.Crypto.Streams;
using Pii.Crypto.Streams.Keyrings;
using ZstdSharp;

namespace Pii.Cli.Commands;

/// <summary>
/// <c>pii backup restore</c>: disaster recovery of a BackupService backup with nothing but the backup object (from S3
/// or a file) and the offline recovery key (encrypted PKCS#8 PEM + its passphrase file). No key service, no
/// BackupService, no database of ours: the ESDK message is opened through its <c>pii-recovery</c> EDK, every frame is
/// authenticated, the zstd stream decompressed, and the dump written to stdout (or --out) for pg_restore / mariadb.
/// Exit codes: 0 ok, 1 rejected (wrong key, tampered, truncated), 2 usage.
/// </summary>
internal static class BackupCommands
{
    private const int Ok = 0;
    private const int Rejected = 1;
    private const int Usage = 2;

    public static Command Create()
    {
        var backup = new Command("backup", "Offline recovery of BackupService backups");
        backup.Subcommands.Add(CreateRestore());
        return backup;
    }

    private static Command CreateRestore()
    {
        var privateKey = new Option<FileInfo>("--rsa-private-key") { Description = "Recovery private key: encrypted PKCS#8 PEM (.pii/secrets/recovery-private.pem)", Required = true };
        var passphraseFile = new Option<FileInfo>("--passphrase-file") { Description = "File whose first line is the private key's passphrase", Required = true };
        var keyName = new Option<string>("--key-name") { Description = "Recovery key name in the backup (default backups-recovery)", DefaultValueFactory = _ => "backups-recovery" };
        var input = new Option<FileInfo>("--in") { Description = "Read the backup object from this file instead of S3" };
        var output = new Option<FileInfo>("--out") { Description = "Write the dump to this file instead of stdout" };
        var endpoint = new Option<string>("--endpoint") { Description = "S3 endpoint URL (default: AWS; e.g. http://127.0.0.1:4568 for s3rver)" };
        var region = new Option<string>("--region") { Description = "S3 region (default us-east-1)", DefaultValueFactory = _ => "us-east-1" };
        var accessKey = new Option<string>("--access-key") { Description = "S3 access key (default: AWS_ACCESS_KEY_ID)" };
        var secretKeyFile = new Option<FileInfo>("--secret-key-file") { Description = "File holding the S3 secret key (default: AWS_SECRET_ACCESS_KEY)" };
        var location = new Argument<string>("object") { Description = "s3://bucket/key of the backup object (omit with --in)", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("restore", "Decrypt and decompress a backup with the offline recovery key; the dump goes to stdout");
        foreach (var option in new Option[] { privateKey, passphraseFile, keyName, input, output, endpoint, region, accessKey, secretKeyFile }) command.Options.Add(option);
        command.Arguments.Add(location);
        command.Action = new BackupAction(async (parseResult, cancellationToken) =>
        {
            using var keyring = LoadKeyring(parseResult.GetValue(privateKey)!, parseResult.GetValue(passphraseFile)!, parseResult.GetValue(keyName)!);
            using var source = await OpenSourceAsync(parseResult.GetValue(input), parseResult.GetValue(location), parseResult.GetValue(endpoint),
                parseResult.GetValue(region)!, parseResult.GetValue(accessKey), parseResult.GetValue(secretKeyFile), cancellationToken);
            var destination = parseResult.GetValue(output) is { } file ? File.Create(file.FullName) : Console.OpenStandardOutput();
            await using (destination)
            {
                var decrypting = await StreamDecryptor.OpenAsync(new ReadAheadStream(source.Stream), keyring, leaveOpen: true, cancellationToken: cancellationToken);
                await using (decrypting)
                {
                    // The context is authenticated: it names the source, backup id and time the backup was taken.
                    foreach (var (key, value) in decrypting.EncryptionContext.OrderBy(p => p.Key, StringComparer.Ordinal))
                    {
                        await Console.Error.WriteLineAsync($"{key}: {value}");
                    }
                    var zstd = new DecompressionStream(decrypting, leaveOpen: true);
                    await using (zstd)
                    {
                        await zstd.CopyToAsync(destination, 1024 * 1024, cancellationToken);
                    }
                    if (await decrypting.ReadAsync(new byte[1], cancellationToken) != 0)
                    {
                        throw new MalformedInputException("Bytes follow the compressed dump inside the message.");
                    }
                }
            }
        });
        return command;
    }

    private static RawRsaKeyring LoadKeyring(FileInfo privateKeyFile, FileInfo passphraseFile, string keyName)
    {
        string pem;
        string passphrase;
        try
        {
            pem = File.ReadAllText(privateKeyFile.FullName);
            passphrase = RecoveryKeyFiles.ReadPassphrase(passphraseFile.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BackupUsageException("Cannot read the recovery private key or its passphrase file.");
        }
        using var rsa = RecoveryKeyFiles.LoadPrivateKey(pem, passphrase);
        return RawRsaKeyring.FromPem("pii-recovery", keyName, null, rsa.ExportPkcs8PrivateKeyPem());
    }

    private static async Task<OpenedSource> OpenSourceAsync(
        FileInfo? file, string? location, string? endpoint, string region, string? accessKey, FileInfo? secretKeyFile, CancellationToken cancellationToken)
    {
        if (file is not null)
        {
            return location is null ? new OpenedSource(File.OpenRead(file.FullName), null) : throw new BackupUsageException("Give either --in FILE or s3://bucket/key, not both.");
        }
        if (location is null || !location.StartsWith("s3://", StringComparison.Ordinal) || location[5..].Split('/', 2) is not [{ Length: > 0 } bucket, { Length: > 0 } key])
        {
            throw new BackupUsageException("Give the backup as s3://bucket/key or --in FILE.");
        }
        var access = accessKey ?? Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID");
        var secret = secretKeyFile is not null ? File.ReadAllText(secretKeyFile.FullName).Trim() : Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY");
        if (string.IsNullOrEmpty(access) || string.IsNullOrEmpty(secret))
        {
            throw new BackupUsageException("S3 credentials: --access-key and --secret-key-file, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.");
        }
        var config = new AmazonS3Config
        {
            AuthenticationRegion = region,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (endpoint is not null)
        {
            config.ServiceURL = endpoint;
            config.ForcePathStyle = true;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(region);
        }
        var client = new AmazonS3Client(new BasicAWSCredentials(access, secret), config);
        try
        {
            var response = await client.GetObjectAsync(bucket, key, cancellationToken);
            return new OpenedSource(response.ResponseStream, new CompositeDisposable(response, client));
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private sealed class OpenedSource(Stream stream, IDisposable? owner) : IDisposable
    {
        public Stream Stream { get; } = stream;

        public void Dispose()
        {
            Stream.Dispose();
            owner?.Dispose();
        }
    }

    private sealed class CompositeDisposable(params IDisposable[] parts) : IDisposable
    {
        public void Dispose()
        {
            foreach (var part in parts) part.Dispose();
        }
    }

    private sealed class BackupUsageException(string message) : Exception(message);

    /// <summary>Maps outcomes to exit codes; messages never carry key material or dump bytes.</summary>
    private sealed class BackupAction(Func<ParseResult, CancellationToken, Task> run) : AsynchronousCommandLineAction
    {
        public override async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken = default)
        {
            try
            {
                await run(parseResult, cancellationToken);
                return Ok;
            }
            catch (BackupUsageException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return Usage;
            }
            catch (CryptoException e)
            {
                await Console.Error.WriteLineAsync($"rejected ({e.GetType().Name}): {e.Message}");
                return Rejected;
            }
            catch (ZstdException)
            {
                await Console.Error.WriteLineAsync("rejected: the decrypted content is not a zstd stream.");
                return Rejected;
            }
            catch (AmazonServiceException e)
            {
                await Console.Error.WriteLineAsync($"S3 refused: {e.StatusCode} {e.ErrorCode}");
                return Usage;
            }
            catch (Exception e) when (e is IOException or HttpRequestException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"I/O failed: {e.GetType().Name}");
                return Usage;
            }
        }
    }
}
