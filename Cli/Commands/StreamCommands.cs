using System.CommandLine;
using System.CommandLine.Invocation;
using System.Security.Cryptography;
using System.Text.Json;
using Pii.Crypto;
using Pii.Crypto.Streams;
using Pii.Crypto.Streams.Keyrings;
using Pii.Crypto.Transit;

namespace Pii.Cli.Commands;

/// <summary>
/// <c>pii stream encrypt|decrypt</c>: stdin to stdout in the AWS Encryption SDK message format (v2, suite 0x0478).
/// Exit codes: 0 ok, 1 rejected (tampered, truncated, malformed, not for these keys), 2 usage.
/// </summary>
internal static class StreamCommands
{
    public const int Ok = 0;
    public const int Rejected = 1;
    public const int Usage = 2;

    public static Command Create()
    {
        var stream = new Command("stream", "Encrypt or decrypt a byte stream (AWS Encryption SDK format, framed, key-committing)");
        stream.Subcommands.Add(CreateEncrypt());
        stream.Subcommands.Add(CreateDecrypt());
        stream.Action = new StreamAction((_, _) => throw new UsageException("pii stream needs a verb: encrypt or decrypt (see pii stream --help)."));
        return stream;
    }

    private static Command CreateEncrypt()
    {
        var keys = new KeyOptions(rsaKeyOption: new Option<FileInfo>("--rsa-public-key") { Description = "PEM file with an RSA public key (SubjectPublicKeyInfo)" });
        var context = new Option<string>("--context") { Description = "Encryption context as a JSON object of strings" };
        var frameLength = new Option<string>("--frame-length") { Description = "Plaintext bytes per frame (default 65536)" };
        var command = new Command("encrypt", "Encrypt stdin to stdout");
        keys.AddTo(command);
        command.Options.Add(context);
        command.Options.Add(frameLength);
        command.Action = new StreamAction(async (parseResult, cancellationToken) =>
        {
            var encryptionContext = ParseContext(parseResult.GetValue(context));
            var options = new StreamEncryptionOptions { FrameLength = ParseFrameLength(parseResult.GetValue(frameLength)) };
            using var keyring = keys.CreateKeyring(parseResult, forEncryption: true);
            using var input = Console.OpenStandardInput();
            using var output = new WriteBehindStream(Console.OpenStandardOutput());
            using var encrypting = await StreamEncryptor.CreateAsync(output, keyring.Keyring, encryptionContext, options, leaveOpen: true, cancellationToken);
            // Synchronous copy on this thread, writes behind on another: AES-GCM outruns file I/O, and console streams'
            // async calls each hop to the thread pool, which measured slower (bench/RESULTS.md) than this.
            input.CopyTo(encrypting, WriteBehindStream.ChunkSize);
            encrypting.Complete();
            output.Complete();
        });
        return command;
    }

    private static Command CreateDecrypt()
    {
        var keys = new KeyOptions(rsaKeyOption: new Option<FileInfo>("--rsa-private-key") { Description = "PEM file with an RSA private key (PKCS#8)" });
        var command = new Command("decrypt", "Decrypt stdin to stdout; fails with exit code 1 on any defect");
        keys.AddTo(command);
        command.Action = new StreamAction(async (parseResult, cancellationToken) =>
        {
            using var keyring = keys.CreateKeyring(parseResult, forEncryption: false);
            // Frame headers are read in small exact pieces, served from chunks read ahead on another thread.
            using var input = new ReadAheadStream(Console.OpenStandardInput());
            using var output = new WriteBehindStream(Console.OpenStandardOutput());
            using var decrypting = await StreamDecryptor.OpenAsync(input, keyring.Keyring, leaveOpen: true, cancellationToken: cancellationToken);
            // As in encrypt. Plaintext reaches the output only frame by frame after each tag verified, as before.
            decrypting.CopyTo(output, decrypting.FrameLength);
            output.Complete();
        });
        return command;
    }

    private static Dictionary<string, string> ParseContext(string? json)
    {
        if (json is null)
        {
            return [];
        }
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, string>>(json)
                ?? throw new UsageException("--context must be a JSON object of strings.");
        }
        catch (JsonException)
        {
            throw new UsageException("--context must be a JSON object of strings.");
        }
    }

    private static int ParseFrameLength(string? text)
    {
        if (text is null)
        {
            return StreamEncryptionOptions.DefaultFrameLength;
        }
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var frameLength)
            || frameLength < 1 || frameLength > StreamEncryptionOptions.MaxFrameLength)
        {
            throw new UsageException($"--frame-length must be an integer from 1 to {StreamEncryptionOptions.MaxFrameLength}.");
        }
        return frameLength;
    }

    /// <summary>The keyring options shared by both verbs; the RSA key option differs (public to encrypt, private to decrypt).</summary>
    private sealed class KeyOptions(Option<FileInfo> rsaKeyOption)
    {
        private readonly Option<string> aesKeyHex = new("--aes-key-hex") { Description = "Raw AES keyring: 32-byte wrapping key in hex" };
        private readonly Option<string> keyNamespace = new("--key-namespace") { Description = "Raw AES keyring: key namespace (provider ID)" };
        private readonly Option<string> keyName = new("--key-name") { Description = "Raw AES keyring: key name" };
        private readonly Option<string> rsaKeyNamespace = new("--rsa-key-namespace") { Description = "Raw RSA keyring: key namespace (provider ID)" };
        private readonly Option<string> rsaKeyName = new("--rsa-key-name") { Description = "Raw RSA keyring: key name" };
        private readonly Option<string> transitKey = new("--transit-key") { Description = "Transit keyring: key name in the key service (VAULT_ADDR, VAULT_TOKEN)" };

        public void AddTo(Command command)
        {
            command.Options.Add(aesKeyHex);
            command.Options.Add(keyNamespace);
            command.Options.Add(keyName);
            command.Options.Add(rsaKeyOption);
            command.Options.Add(rsaKeyNamespace);
            command.Options.Add(rsaKeyName);
            command.Options.Add(transitKey);
        }

        /// <summary>
        /// Transit keyring first (the generator), then AES, then RSA; a multi-keyring when several are given. Decryption
        /// tries each, so a message with a transit and an RSA EDK opens with either.
        /// </summary>
        public OwnedKeyring CreateKeyring(ParseResult parseResult, bool forEncryption)
        {
            var keyrings = new List<IKeyring>();
            HttpClient? transitHttp = null;
            try
            {
                if (parseResult.GetValue(transitKey) is { } transitKeyName)
                {
                    transitHttp = new HttpClient();
                    keyrings.Add(CreateTransitKeyring(transitHttp, transitKeyName));
                }
                var hex = parseResult.GetValue(aesKeyHex);
                if (hex is not null)
                {
                    keyrings.Add(CreateAesKeyring(hex, Required(parseResult, keyNamespace), Required(parseResult, keyName)));
                }
                var rsaKeyFile = parseResult.GetValue(rsaKeyOption);
                if (rsaKeyFile is not null)
                {
                    var pem = ReadPem(rsaKeyFile, rsaKeyOption.Name);
                    keyrings.Add(CreateRsaKeyring(
                        Required(parseResult, rsaKeyNamespace), Required(parseResult, rsaKeyName), forEncryption ? pem : null, forEncryption ? null : pem));
                }
                return new OwnedKeyring(keyrings, transitHttp, keyrings.Count switch
                {
                    0 => throw new UsageException($"Give --transit-key, --aes-key-hex (with --key-namespace, --key-name) and/or {rsaKeyOption.Name} (with --rsa-key-namespace, --rsa-key-name)."),
                    1 => keyrings[0],
                    _ => new MultiKeyring(keyrings[0], keyrings.Skip(1).ToList()),
                });
            }
            catch
            {
                DisposeAll(keyrings);
                transitHttp?.Dispose();
                throw;
            }
        }

        private static TransitKeyring CreateTransitKeyring(HttpClient http, string keyName)
        {
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("VAULT_ADDR")))
            {
                throw new UsageException("--transit-key needs VAULT_ADDR (and VAULT_TOKEN) set to the key service.");
            }
            return new TransitKeyring(new TransitClient(http, TransitClientOptions.FromEnvironment()), keyName);
        }

        private static RawAesKeyring CreateAesKeyring(string hex, string keyNamespace, string keyName)
        {
            byte[] key;
            try
            {
                key = Convert.FromHexString(hex);
            }
            catch (FormatException)
            {
                throw new UsageException("--aes-key-hex must be hexadecimal.");
            }
            try
            {
                return key.Length == 32
                    ? new RawAesKeyring(keyNamespace, keyName, key)
                    : throw new UsageException("--aes-key-hex must be 32 bytes (64 hex digits).");
            }
            finally
            {
                CryptographicOperations.ZeroMemory(key);
            }
        }

        private static RawRsaKeyring CreateRsaKeyring(string keyNamespace, string keyName, string? publicPem, string? privatePem)
        {
            try
            {
                return RawRsaKeyring.FromPem(keyNamespace, keyName, publicPem, privatePem);
            }
            catch (Exception e) when (e is ArgumentException or CryptographicException or FormatException)
            {
                throw new UsageException($"The RSA key file is not a {(publicPem is null ? "PKCS#8 private" : "SubjectPublicKeyInfo public")} key in PEM.");
            }
        }

        private static string ReadPem(FileInfo file, string optionName)
        {
            try
            {
                return File.ReadAllText(file.FullName);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"{optionName}: cannot read {file.FullName}.");
            }
        }

        private static string Required(ParseResult parseResult, Option<string> option) =>
            parseResult.GetValue(option) is { Length: > 0 } value ? value : throw new UsageException($"{option.Name} is required with this keyring.");
    }

    /// <summary>The keyring to use and the raw keyrings it is built from, which hold key material to dispose.</summary>
    private sealed class OwnedKeyring(List<IKeyring> parts, HttpClient? transitHttp, IKeyring keyring) : IDisposable
    {
        public IKeyring Keyring { get; } = keyring;

        public void Dispose()
        {
            DisposeAll(parts);
            transitHttp?.Dispose();
        }
    }

    private static void DisposeAll(List<IKeyring> keyrings)
    {
        foreach (var keyring in keyrings)
        {
            (keyring as IDisposable)?.Dispose();
        }
    }

    private sealed class UsageException(string message) : Exception(message);

    /// <summary>
    /// Runs a verb and maps outcomes to exit codes. It also takes over parse errors of its own options
    /// (ClearsParseErrors) so that bad usage exits with 2, not System.CommandLine's default 1.
    /// </summary>
    private sealed class StreamAction(Func<ParseResult, CancellationToken, Task> run) : AsynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken = default)
        {
            if (parseResult.Errors.Count > 0 || parseResult.UnmatchedTokens.Count > 0)
            {
                foreach (var error in parseResult.Errors)
                {
                    await Console.Error.WriteLineAsync(error.Message);
                }
                foreach (var token in parseResult.UnmatchedTokens)
                {
                    await Console.Error.WriteLineAsync($"Unrecognized argument: {token}");
                }
                return Usage;
            }
            try
            {
                await run(parseResult, cancellationToken);
                return Ok;
            }
            catch (UsageException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return Usage;
            }
            catch (CryptoException e)
            {
                await Console.Error.WriteLineAsync($"rejected ({e.GetType().Name}): {e.Message}");
                return Rejected;
            }
            catch (TransitException e)
            {
                await Console.Error.WriteLineAsync($"rejected: the key service answered {e.StatusCode}.");
                return Rejected;
            }
            catch (HttpRequestException)
            {
                await Console.Error.WriteLineAsync("rejected: the key service is unreachable.");
                return Rejected;
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return Usage;
            }
        }
    }
}
