using System.CommandLine;
using System.Security.Cryptography;
using System.Text;
using Pii.Crypto.Kdf;
using Pii.Crypto.Transit;

namespace Pii.Cli.Commands;

/// <summary>
/// <c>pii transit backup --key NAME --passphrase-file F --out FILE [--kdf argon2id|pbkdf2]</c> and
/// <c>pii transit restore --in FILE --passphrase-file F [--name N] [--force]</c>: a transit key kept offline for the
/// retention period. The backup (<c>GET transit/backup/:name</c>, every key version in plaintext) never reaches the disk
/// unsealed: it is written as a <see cref="ProtectedKeyFile"/> under the passphrase, readable by its owner only, and
/// never over an existing file. The key service is VAULT_ADDR with VAULT_TOKEN (or VAULT_TOKEN_FILE, ~/.vault-token);
/// its policies let only operators back up and restore. Exit 1: wrong passphrase, altered file, or the key service
/// refused (its error is shown) or is unreachable; exit 2: usage.
/// </summary>
internal static class TransitCommands
{
    public static Command Create()
    {
        var transit = new Command("transit", "Transit keys kept offline: passphrase-sealed backup and restore (VAULT_ADDR, VAULT_TOKEN)");
        transit.Subcommands.Add(Backup());
        transit.Subcommands.Add(Restore());
        return transit;
    }

    private static Command Backup()
    {
        var key = new Option<string>("--key") { Description = "Transit key to back up (configured exportable and allow_plaintext_backup)", Required = true };
        var passphraseFile = KeyCommands.PassphraseFileOption();
        var output = new Option<FileInfo>("--out") { Description = "Protected backup file to create (an existing file is never replaced)", Required = true };
        var kdf = KeyCommands.KdfOption();
        var command = new Command("backup", "Fetch transit/backup/NAME and write it sealed under the passphrase") { key, passphraseFile, output, kdf };
        command.SetAction((parseResult, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            PasswordKdfParameters parameters = KeyCommands.KdfParameters(parseResult.GetValue(kdf));
            FileInfo file = parseResult.GetValue(output)!;
            if (file.Exists)
            {
                throw new UsageException("The --out file exists; a backup never replaces one.");
            }
            byte[] passphrase = KeyCommands.ReadPassphrase(parseResult.GetValue(passphraseFile)!);
            byte[] backup = [];
            try
            {
                using var http = new HttpClient();
                backup = Encoding.ASCII.GetBytes(await Client(http).BackupKeyAsync(parseResult.GetValue(key)!, cancellationToken));
                WriteNew(file, ProtectedKeyFile.Protect(backup, passphrase, parameters));
                return CommandRunner.Success;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(passphrase);
                CryptographicOperations.ZeroMemory(backup);
            }
        }));
        return command;
    }

    private static Command Restore()
    {
        var input = new Option<FileInfo>("--in") { Description = "Protected backup file written by 'pii transit backup'", Required = true };
        var passphraseFile = KeyCommands.PassphraseFileOption();
        var name = new Option<string>("--name") { Description = "Restore under this name instead of the backed-up key's own" };
        var force = new Option<bool>("--force") { Description = "Replace an existing key of that name (its versions are lost)" };
        var command = new Command("restore", "Open the protected backup and POST it to transit/restore[/NAME]") { input, passphraseFile, name, force };
        command.SetAction((parseResult, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            byte[] sealedFile = ReadSealed(parseResult.GetValue(input)!);
            byte[] passphrase = KeyCommands.ReadPassphrase(parseResult.GetValue(passphraseFile)!);
            byte[] backup = [];
            try
            {
                backup = ProtectedKeyFile.Unprotect(sealedFile, passphrase);
                using var http = new HttpClient();
                await Client(http).RestoreKeyAsync(Encoding.ASCII.GetString(backup), parseResult.GetValue(name), parseResult.GetValue(force), cancellationToken);
                return CommandRunner.Success;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(passphrase);
                CryptographicOperations.ZeroMemory(backup);
            }
        }));
        return command;
    }

    private static TransitClient Client(HttpClient http)
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("VAULT_ADDR")))
        {
            throw new UsageException("Set VAULT_ADDR (and VAULT_TOKEN) to the key service.");
        }
        return new TransitClient(http, TransitClientOptions.FromEnvironment());
    }

    private static byte[] ReadSealed(FileInfo file)
    {
        try
        {
            return file.Length <= 2 * ProtectedKeyFile.MaxPayloadBytes
                ? File.ReadAllBytes(file.FullName)
                : throw new UsageException("The --in file is too large to be a protected backup.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException("The --in file cannot be read.");
        }
    }

    private static void WriteNew(FileInfo file, byte[] content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        try
        {
            using var stream = new FileStream(file.FullName, options);
            stream.Write(content);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException("The --out file cannot be created (it exists, or its directory is missing or not writable).");
        }
    }
}
