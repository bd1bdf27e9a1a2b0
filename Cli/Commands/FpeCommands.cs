using System.CommandLine;
using System.Security.Cryptography;
using Pii.Crypto.Fpe;

namespace Pii.Cli.Commands;

/// <summary>
/// <c>pii fpe encrypt|decrypt --key-hex HEX [--tweak-hex HEX] --radix N</c>: FF1 (NIST SP 800-38G) with an AES-256 key.
/// One string on stdin (one trailing line break ignored), written in the first N characters of <c>0-9a-z</c>; the
/// result, same length and alphabet, on stdout. A character outside the radix, a length FF1 refuses or a bad option is
/// exit 2.
/// </summary>
internal static class FpeCommands
{
    private const int MaxCliRadix = 36;

    public static Command Create()
    {
        var fpe = new Command("fpe", "Format-preserving encryption (FF1, AES-256), text on stdin and stdout");
        fpe.Subcommands.Add(Verb("encrypt", "Encrypt the numeral string read from stdin", decrypt: false));
        fpe.Subcommands.Add(Verb("decrypt", "Decrypt the numeral string read from stdin", decrypt: true));
        return fpe;
    }

    private static Command Verb(string name, string description, bool decrypt)
    {
        var keyHex = new Option<string>("--key-hex") { Description = "AES-256 key: 32 bytes in hex", Required = true };
        var tweakHex = new Option<string>("--tweak-hex") { Description = $"The FF1 tweak in hex (at most {Ff1.MaxTweakLength} bytes); empty when omitted" };
        var radix = new Option<int>("--radix") { Description = "Radix 2..36: numerals are the first N characters of 0-9a-z", Required = true };
        var command = new Command(name, description) { keyHex, tweakHex, radix };
        command.SetAction(parseResult => CommandRunner.Run(() =>
        {
            byte[] key = CommandRunner.DecodeHex(parseResult.GetValue(keyHex), "--key-hex value");
            try
            {
                if (key.Length != 32)
                {
                    throw new UsageException("--key-hex must be 32 bytes (AES-256).");
                }
                int radixValue = parseResult.GetValue(radix);
                if (radixValue is < 2 or > MaxCliRadix)
                {
                    throw new UsageException($"--radix must be 2 to {MaxCliRadix} (the 0-9a-z alphabet).");
                }
                byte[] tweak = CommandRunner.DecodeHex(parseResult.GetValue(tweakHex), "--tweak-hex value");
                if (tweak.Length > Ff1.MaxTweakLength)
                {
                    throw new UsageException($"--tweak-hex must be at most {Ff1.MaxTweakLength} bytes.");
                }
                string input = CommandRunner.ReadLineFromStdin();
                using var ff1 = new Ff1(key);
                FpeAlphabet alphabet = FpeAlphabet.Base36(radixValue);
                Console.Out.WriteLine(decrypt ? FpeText.Decrypt(ff1, alphabet, input, tweak) : FpeText.Encrypt(ff1, alphabet, input, tweak));
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
