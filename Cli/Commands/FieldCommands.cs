using System.CommandLine;
using System.Security.Cryptography;
using Pii.Crypto;
using Pii.Crypto.Fields;

namespace Pii.Cli.Commands;

/// <summary>
/// <c>pii field encrypt|decrypt --dek-hex HEX --dek-id N --mode randomized|deterministic --context TABLE.COLUMN:ID</c>:
/// the project's field ciphertext format (see Crypto/Fields/FieldCipher.cs), base64 on stdin and stdout.
/// Decrypt reads the mode from the ciphertext header and still requires --mode to match it. Whatever is wrong with a
/// well-encoded ciphertext (header, mode, key id, tag) is an authentication failure (exit 1); bad flags or base64 are 2.
/// </summary>
internal static class FieldCommands
{
    public static Command Create()
    {
        var field = new Command("field", "Field-level encryption in the PiiAspire field format, base64 on stdin and stdout");
        field.Subcommands.Add(Verb("encrypt", "Encrypt the plaintext (base64) read from stdin", decrypt: false));
        field.Subcommands.Add(Verb("decrypt", "Decrypt the field ciphertext (base64) read from stdin", decrypt: true));
        return field;
    }

    private static Command Verb(string name, string description, bool decrypt)
    {
        var dekHex = new Option<string>("--dek-hex") { Description = "The 32-byte DEK in hex", Required = true };
        var dekId = new Option<int>("--dek-id") { Description = "The DEK's id (written into / checked against the header)", Required = true };
        var mode = new Option<string>("--mode") { Description = "randomized (AES-256-GCM) or deterministic (AES-SIV-512)", Required = true };
        mode.AcceptOnlyFromAmong("randomized", "deterministic");
        var context = new Option<string>("--context") { Description = "The cell: TABLE.COLUMN:RECORD_ID", Required = true };
        var command = new Command(name, description) { dekHex, dekId, mode, context };
        command.SetAction(parseResult => CommandRunner.Run(() =>
        {
            byte[] dek = CommandRunner.DecodeHex(parseResult.GetValue(dekHex), "--dek-hex value");
            try
            {
                if (dek.Length != FieldKey.DekSize)
                {
                    throw new UsageException("--dek-hex must be 32 bytes.");
                }
                int id = parseResult.GetValue(dekId);
                if (id < 0)
                {
                    throw new UsageException("--dek-id must not be negative.");
                }
                FieldMode fieldMode = parseResult.GetValue(mode) == "deterministic" ? FieldMode.Deterministic : FieldMode.Randomized;
                FieldContext cell = FieldContext.Parse(parseResult.GetValue(context)!);
                byte[] input = CommandRunner.ReadBase64FromStdin();
                using FieldKey key = FieldKey.FromDek(id, dek);
                if (decrypt)
                {
                    if (ReadHeaderOfUntrustedInput(input).Mode != fieldMode)
                    {
                        throw new TamperedException("The ciphertext is not in the --mode given.");
                    }
                    byte[] plaintext = FieldCipher.Decrypt(key, input, cell)!;
                    CommandRunner.WriteBase64(plaintext);
                    CryptographicOperations.ZeroMemory(plaintext);
                }
                else
                {
                    CommandRunner.WriteBase64(FieldCipher.Encrypt(key, fieldMode, input, cell));
                    CryptographicOperations.ZeroMemory(input);
                }
                return CommandRunner.Success;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(dek);
            }
        }));
        return command;
    }

    // A header that does not parse came from a ciphertext that is not authentic: report it like a failed tag.
    private static FieldHeader ReadHeaderOfUntrustedInput(byte[] ciphertext)
    {
        try
        {
            return FieldCipher.ReadHeader(ciphertext);
        }
        catch (MalformedInputException e)
        {
            throw new TamperedException("The field ciphertext's header is invalid.", e);
        }
    }
}
