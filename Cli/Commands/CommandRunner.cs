using System.CommandLine;
using System.Text.RegularExpressions;
using Pii.Crypto;
using Pii.Crypto.Pkcs11;
using Pii.Crypto.Transit;

namespace Pii.Cli.Commands;

/// <summary>
/// Shared plumbing of the verbs: exit codes, stdin/stdout encodings, and error reporting that never echoes secrets
/// (messages come from our own exceptions, which carry no key or plaintext; parser messages are redacted).
/// </summary>
internal static partial class CommandRunner
{
    public const int Success = 0;
    public const int AuthenticationFailure = 1;
    public const int UsageError = 2;

    /// <summary>Runs a verb body and maps failures to exit codes: tamper/auth → 1, bad usage or input → 2.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (Failure(e) is { } failure)
        {
            return Fail(failure.ExitCode, failure.Message);
        }
    }

    /// <summary>As <see cref="Run"/>, for verbs that call the key service: its refusal or absence is exit 1 too.</summary>
    public static async Task<int> RunAsync(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e) when (Failure(e) is { } failure)
        {
            return Fail(failure.ExitCode, failure.Message);
        }
    }

    /// <summary>Reports parse errors (unknown verb, missing or invalid option) with exit code 2.</summary>
    public static int ReportParseErrors(ParseResult parseResult)
    {
        foreach (var error in parseResult.Errors)
        {
            Console.Error.WriteLine("pii: " + LongTokens().Replace(error.Message, "<redacted>"));
        }
        Console.Error.WriteLine("Run 'pii --help' for usage.");
        return UsageError;
    }

    public static byte[] ReadHexFromStdin() => DecodeHex(Console.In.ReadToEnd().Trim(), "standard input");

    public static byte[] ReadBase64FromStdin()
    {
        try
        {
            return Convert.FromBase64String(Console.In.ReadToEnd().Trim());
        }
        catch (FormatException)
        {
            throw new UsageException("Standard input is not valid base64.");
        }
    }

    /// <summary>Standard input as text with one trailing line break removed.</summary>
    public static string ReadLineFromStdin()
    {
        string text = Console.In.ReadToEnd();
        return text.EndsWith("\r\n", StringComparison.Ordinal) ? text[..^2]
            : text.EndsWith('\n') ? text[..^1]
            : text;
    }

    public static void WriteHex(ReadOnlySpan<byte> bytes) => Console.Out.WriteLine(Convert.ToHexStringLower(bytes));

    public static void WriteBase64(ReadOnlySpan<byte> bytes) => Console.Out.WriteLine(Convert.ToBase64String(bytes));

    /// <summary>Decodes hex; the error names the source, never the value.</summary>
    public static byte[] DecodeHex(string? text, string source)
    {
        try
        {
            return Convert.FromHexString(text ?? string.Empty);
        }
        catch (FormatException)
        {
            throw new UsageException($"The {source} is not valid hex.");
        }
    }

    // Vault's error strings name the refusal (permission denied, not exportable), never a key or a token.
    private static (int ExitCode, string Message)? Failure(Exception e) => e switch
    {
        UsageException or MalformedInputException or HsmException { Failure: HsmFailure.Configuration } => (UsageError, e.Message),
        CryptoException => (AuthenticationFailure, e.Message),
        TransitException t => (AuthenticationFailure, $"the key service refused ({t.StatusCode}): {string.Join("; ", t.Errors)}"),
        HttpRequestException => (AuthenticationFailure, "the key service is unreachable."),
        HsmException => (AuthenticationFailure, e.Message),
        _ => null,
    };

    private static int Fail(int exitCode, string message)
    {
        Console.Error.WriteLine("pii: " + message);
        return exitCode;
    }

    // Anything long enough to be a key or a token is not repeated back.
    [GeneratedRegex("[A-Za-z0-9+/=_-]{16,}")]
    private static partial Regex LongTokens();
}

/// <summary>Bad flags or input the parser could not catch (exit code 2). The message never quotes the input.</summary>
internal sealed class UsageException(string message) : Exception(message);
