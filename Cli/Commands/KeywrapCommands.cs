using System.CommandLine;
using System.Security.Cryptography;
using Pii.Crypto.KeyWrap;

namespace Pii.Cli.Commands;

/// <summary><c>pii keywrap wrap|unwrap --kek-hex HEX [--pad]</c>: RFC 3394 (or RFC 5649 with --pad), hex in and out.</summary>
internal static class KeywrapCommands
{
    public static Command Create()
    {
        var keywrap = new Command("keywrap", "AES key wrap (RFC 3394; RFC 5649 with --pad), hex on stdin and stdout");
        keywrap.Subcommands.Add(Verb("wrap", "Wrap the key read from stdin", unwrap: false));
        keywrap.Subcommands.Add(Verb("unwrap", "Unwrap the wrapped key read from stdin", unwrap: true));
        return keywrap;
    }

    private static Command Verb(string name, string description, bool unwrap)
    {
        var kekHex = new Option<string>("--kek-hex") { Description = "Key-encryption key, 16/24/32 bytes in hex", Required = true };
        var pad = new Option<bool>("--pad") { Description = "Use RFC 5649 (key wrap with padding)" };
        var command = new Command(name, description) { kekHex, pad };
        command.SetAction(parseResult => CommandRunner.Run(() =>
        {
            byte[] kek = CommandRunner.DecodeHex(parseResult.GetValue(kekHex), "--kek-hex value");
            try
            {
                if (kek.Length is not (16 or 24 or 32))
                {
                    throw new UsageException("--kek-hex must be 16, 24 or 32 bytes.");
                }
                byte[] input = CommandRunner.ReadHexFromStdin();
                bool padded = parseResult.GetValue(pad);
                byte[] output = (unwrap, padded) switch
                {
                    (false, false) => AesKeyWrap.Wrap(kek, input),
                    (false, true) => AesKeyWrap.WrapPadded(kek, input),
                    (true, false) => AesKeyWrap.Unwrap(kek, input),
                    (true, true) => AesKeyWrap.UnwrapPadded(kek, input),
                };
                CommandRunner.WriteHex(output);
                CryptographicOperations.ZeroMemory(input);
                CryptographicOperations.ZeroMemory(output);
                return CommandRunner.Success;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(kek);
            }
        }));
        return command;
    }
}
