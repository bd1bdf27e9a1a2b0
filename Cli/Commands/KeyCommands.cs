using System.CommandLine;
using System.Security.Cryptography;
using Pii.Crypto.Kdf;

namespace Pii.Cli.Commands;

/// <summary>
/// <c>pii key protect|unprotect --passphrase-file F [--kdf argon2id|pbkdf2]</c>: seal a key file (raw bytes on stdin,
/// e.g. the recovery private key's PEM or an exported transit backup) under a passphrase for offline keeping, and open
/// it again. The sealed form is <see cref="ProtectedKeyFile"/>'s three-line text. A wrong passphrase or an altered
/// file is exit 1; a missing or empty passphrase file, or input that is not a protected key file, exit 2.
/// </summary>
internal static class KeyCommands
{
    public static Command Create()
    {
        var key = new Command("key", "Passphrase-protected key files (Argon2id or PBKDF2-HMAC-SHA256 + AES-256-GCM)");
        key.Subcommands.Add(Protect());
        key.Subcommands.Add(Unprotect());
        return key;
    }

    internal static Option<FileInfo> PassphraseFileOption() => new("--passphrase-file")
    {
        Description = "File holding the passphrase (UTF-8; one trailing line break is ignored)",
        Required = true,
    };

    private static Command Protect()
    {
        var passphraseFile = PassphraseFileOption();
        var kdf = KdfOption();
        var command = new Command("protect", "Seal the key read from stdin; writes the protected key file to stdout") { passphraseFile, kdf };
        command.SetAction(parseResult => CommandRunner.Run(() =>
        {
            PasswordKdfParameters parameters = KdfParameters(parseResult.GetValue(kdf));
            byte[] passphrase = ReadPassphrase(parseResult.GetValue(passphraseFile)!);
            byte[] payload = ReadStdin(ProtectedKeyFile.MaxPayloadBytes);
            try
            {
                WriteStdout(ProtectedKeyFile.Protect(payload, passphrase, parameters));
                return CommandRunner.Success;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(passphrase);
                CryptographicOperations.ZeroMemory(payload);
            }
        }));
        return command;
    }

    private static Command Unprotect()
    {
        var passphraseFile = PassphraseFileOption();
        var command = new Command("unprotect", "Open the protected key file read from stdin; writes the key to stdout") { passphraseFile };
        command.SetAction(parseResult => CommandRunner.Run(() =>
        {
            byte[] passphrase = ReadPassphrase(parseResult.GetValue(passphraseFile)!);
            try
            {
                byte[] payload = ProtectedKeyFile.Unprotect(ReadStdin(2 * ProtectedKeyFile.MaxPayloadBytes), passphrase);
                WriteStdout(payload);
                CryptographicOperations.ZeroMemory(payload);
                return CommandRunner.Success;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(passphrase);
            }
        }));
        return command;
    }

    internal static Option<string> KdfOption() => new("--kdf")
    {
        Description = "argon2id (default, m=64 MiB, t=2, p=1) or pbkdf2 (HMAC-SHA256, 600,000 iterations)",
    };

    internal static PasswordKdfParameters KdfParameters(string? kdf) => kdf switch
    {
        null or "argon2id" => PasswordKdfParameters.DefaultArgon2id,
        "pbkdf2" => PasswordKdfParameters.DefaultPbkdf2,
        _ => throw new UsageException("--kdf is argon2id or pbkdf2."),
    };

    /// <summary>The passphrase file's bytes without one trailing line break; the caller zeroes them.</summary>
    internal static byte[] ReadPassphrase(FileInfo file)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException("The --passphrase-file cannot be read.");
        }
        int length = bytes.Length;
        if (length > 0 && bytes[length - 1] == '\n')
        {
            length--;
            if (length > 0 && bytes[length - 1] == '\r')
            {
                length--;
            }
        }
        if (length == 0)
        {
            throw new UsageException("The --passphrase-file is empty.");
        }
        byte[] passphrase = bytes[..length];
        CryptographicOperations.ZeroMemory(bytes);
        return passphrase;
    }

    private static byte[] ReadStdin(int limit)
    {
        using var input = Console.OpenStandardInput();
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[64 * 1024];
        int read;
        while ((read = input.Read(chunk)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw new UsageException($"Standard input is larger than {limit} bytes.");
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static void WriteStdout(byte[] bytes)
    {
        using var output = Console.OpenStandardOutput();
        output.Write(bytes);
    }
}
