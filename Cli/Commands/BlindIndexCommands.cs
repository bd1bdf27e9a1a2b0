using System.CommandLine;
using System.Security.Cryptography;
using Pii.Crypto.BlindIndexing;

namespace Pii.Cli.Commands;

/// <summary><c>pii blind-index --key-hex HEX --column TABLE.COLUMN --kind email|phone|ssn|name</c>: value on stdin, hex index out.</summary>
internal static class BlindIndexCommands
{
    public static Command Create()
    {
        var keyHex = new Option<string>("--key-hex") { Description = "Blind-index root key in hex (at least 32 bytes)", Required = true };
        var column = new Option<string>("--column") { Description = "TABLE.COLUMN the index belongs to", Required = true };
        var kind = new Option<string>("--kind") { Description = "Normalization: email, phone, ssn or name", Required = true };
        kind.AcceptOnlyFromAmong("email", "phone", "ssn", "name");
        var command = new Command("blind-index", "Blind index (truncated HMAC-SHA256) of the value on stdin, hex out") { keyHex, column, kind };
        command.SetAction(parseResult => CommandRunner.Run(() =>
        {
            byte[] key = CommandRunner.DecodeHex(parseResult.GetValue(keyHex), "--key-hex value");
            try
            {
                if (key.Length < 32)
                {
                    throw new UsageException("--key-hex must be at least 32 bytes.");
                }
                string tableColumn = parseResult.GetValue(column)!;
                int dot = tableColumn.IndexOf('.', StringComparison.Ordinal);
                if (dot <= 0 || dot == tableColumn.Length - 1)
                {
                    throw new UsageException("--column is written TABLE.COLUMN.");
                }
                BlindIndexKind indexKind = Enum.Parse<BlindIndexKind>(parseResult.GetValue(kind)!, ignoreCase: true);
                using var index = new BlindIndex(key, tableColumn[..dot], tableColumn[(dot + 1)..], indexKind);
                CommandRunner.WriteHex(index.Compute(CommandRunner.ReadLineFromStdin()));
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
