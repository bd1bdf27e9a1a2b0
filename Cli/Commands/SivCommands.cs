using System.CommandLine;
using System.Security.Cryptography;
using Pii.Crypto.Siv;

namespace Pii.Cli.Commands;

/// <summary>
/// <c>pii siv encrypt|decrypt --key-hex HEX [--ad-hex HEX]...</c>: raw RFC 5297 AES-SIV. Output of encrypt (and input
/// of decrypt) is SIV ‖ ciphertext; repeated --ad-hex options form the associated-data vector in order.
/// </summary>
internal static class SivCommands
{
    public static Command Create()
    {
        var siv = new Command("siv", "Raw AES-SIV (RFC 5297), hex on stdin and stdout");
        siv.Subcommands.Add(Verb("encrypt", "Encrypt the plaintext read from stdin; writes SIV ‖ ciphertext", decrypt: false));
        siv.Subcommands.Add(Verb("decrypt", "Decrypt SIV ‖ ciphertext read from stdin", decrypt: true));
        return siv;
    }

    private static Command Verb(string name, string description, bool decrypt)
    {
        var keyHex = new Option<string>("--key-hex") { Description = "AES-SIV key: 32, 48 or 64 bytes in hex", Required = true };
        var adHex = new Option<string[]>("--ad-hex") { Description = "One associated-data item in hex; repeat for a vector" };
        var command = new Command(name, description) { keyHex, adHex };
        command.SetAction(parseResult => CommandRunner.Run(() =>
        {
            byte[] key = CommandRunner.DecodeHex(parseResult.GetValue(keyHex), "--key-hex value");
            try
            {
                if (key.Length is not (32 or 48 or 64))
                {
                    throw new UsageException("--key-hex must be 32, 48 or 64 bytes.");
                }
                byte[][] associatedData = [.. (parseResult.GetValue(adHex) ?? []).Select(a => CommandRunner.DecodeHex(a, "--ad-hex value"))];
                if (associatedData.Length > AesSiv.MaxAssociatedDataItems)
                {
                    throw new UsageException("At most 126 --ad-hex items.");
                }
                byte[] input = CommandRunner.ReadHexFromStdin();
                using var siv = new AesSiv(key);
                byte[] output;
                if (decrypt)
                {
                    output = new byte[Math.Max(0, input.Length - AesSiv.SivSize)];
                    siv.Decrypt(input, associatedData, output);
                }
                else
                {
                    output = new byte[AesSiv.CiphertextLength(input.Length)];
                    siv.Encrypt(input, associatedData, output);
                }
                CommandRunner.WriteHex(output);
                CryptographicOperations.ZeroMemory(decrypt ? output : input);
                return CommandRunner.Success;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(key);
            }
        }));
        return command;
    }
}
