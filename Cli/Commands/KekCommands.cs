using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using Pii.Crypto;
using Pii.Crypto.Keys;
using Pii.Crypto.Pkcs11;

namespace Pii.Cli.Commands;

/// <summary>
/// <c>pii kek wrap|unwrap --name NAME</c>: wraps a DEK (hex on stdin) under the local KEK and prints its wrapped text
/// form, or unwraps that text back to hex. The KEK is <see cref="ConfiguredKek"/>'s choice: an AES key on a PKCS#11
/// token (<c>PII_LOCAL_KEK_PKCS11_*</c>; the DEK is wrapped inside the token, the key never leaves it, output
/// <c>pkcs11:v1:…</c>) or the software keyring <c>PII_LOCAL_KEK[_FILE]</c> (output <c>local:vN:…</c>). Exit 1: the wrapped
/// key is altered or not this KEK's, or the HSM refused (PIN, token, key); exit 2: usage or an incomplete configuration.
/// </summary>
internal static class KekCommands
{
    public static Command Create()
    {
        var kek = new Command("kek", "Wrap and unwrap DEKs with the local KEK (PKCS#11 token or PII_LOCAL_KEK)");
        kek.Subcommands.Add(Verb("wrap", "Wrap the DEK read from stdin (hex); writes the wrapped text form", unwrap: false));
        kek.Subcommands.Add(Verb("unwrap", "Unwrap the wrapped text form read from stdin; writes the DEK in hex", unwrap: true));
        return kek;
    }

    private static Command Verb(string verb, string description, bool unwrap)
    {
        var name = new Option<string>("--name") { Description = "KEK name the wrapped form is bound to (e.g. dnc)", Required = true };
        var command = new Command(verb, description) { name };
        command.SetAction(parseResult => CommandRunner.Run(() =>
        {
            string kekName = parseResult.GetValue(name)!;
            IKeyEncryptionKey kek = Open(kekName);
            try
            {
                if (unwrap)
                {
                    byte[] dek = kek.UnwrapAsync(Parse(kekName, CommandRunner.ReadLineFromStdin().Trim())).GetAwaiter().GetResult();
                    CommandRunner.WriteHex(dek);
                    CryptographicOperations.ZeroMemory(dek);
                }
                else
                {
                    Console.Out.WriteLine(Wrap(kek, CommandRunner.ReadHexFromStdin()));
                }
            }
            finally
            {
                // Closes the HSM session, or zeroes the software master keys.
                (kek as IDisposable)?.Dispose();
            }
            return CommandRunner.Success;
        }));
        return command;
    }

    private static string Wrap(IKeyEncryptionKey kek, byte[] dek)
    {
        try
        {
            return dek.Length is > 0 and <= 4096
                ? kek.WrapAsync(dek).GetAwaiter().GetResult().Ciphertext
                : throw new UsageException("A DEK is 1 to 4096 bytes.");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dek);
        }
    }

    private static IKeyEncryptionKey Open(string name)
    {
        try
        {
            return ConfiguredKek.FromEnvironment(name);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            throw new UsageException("No local KEK: set PII_LOCAL_KEK or PII_LOCAL_KEK_FILE, or the PII_LOCAL_KEK_PKCS11_* settings.");
        }
    }

    // Both text forms start <scheme>:v<N>: (local:v2:…, pkcs11:v1:…); the KEK checks the rest.
    private static WrappedDek Parse(string name, string text)
    {
        string[] parts = text.Split(':', 3);
        if (parts.Length != 3 || !parts[1].StartsWith('v')
            || !int.TryParse(parts[1].AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int version))
        {
            throw new MalformedInputException("A wrapped DEK is written <scheme>:v<N>:<base64>.");
        }
        return new WrappedDek(name, version, text);
    }
}
