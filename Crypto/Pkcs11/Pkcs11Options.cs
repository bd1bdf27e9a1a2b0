namespace Pii.Crypto.Pkcs11;

/// <summary>
/// Where the HSM key lives: the PKCS#11 library, the token (by slot id or token label, exactly one), the user PIN
/// (from a file or an environment variable, exactly one; never inline, so it stays out of config files and process
/// listings) and the AES key's label.
/// </summary>
public sealed record Pkcs11Options
{
    /// <summary>Path of the vendor's PKCS#11 module, e.g. <c>/usr/lib/softhsm/libsofthsm2.so</c>.</summary>
    public required string LibraryPath { get; init; }

    public ulong? SlotId { get; init; }

    public string? TokenLabel { get; init; }

    /// <summary>File holding the user PIN (one trailing line break ignored).</summary>
    public string? PinFile { get; init; }

    /// <summary>Environment variable holding the user PIN.</summary>
    public string? PinEnvironmentVariable { get; init; }

    /// <summary>CKA_LABEL of the AES key (a secret-key object on the token).</summary>
    public required string KeyLabel { get; init; }

    /// <exception cref="HsmException">The options name no token, both a slot and a label, or no PIN source.</exception>
    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(LibraryPath))
        {
            throw new HsmException(HsmFailure.Configuration, "The PKCS#11 library path is not set.");
        }
        if (SlotId is null == string.IsNullOrEmpty(TokenLabel))
        {
            throw new HsmException(HsmFailure.Configuration, "Name the PKCS#11 token by exactly one of slot id or token label.");
        }
        if (string.IsNullOrEmpty(PinFile) == string.IsNullOrEmpty(PinEnvironmentVariable))
        {
            throw new HsmException(HsmFailure.Configuration, "Give the PKCS#11 PIN by exactly one of a PIN file or an environment variable.");
        }
        if (string.IsNullOrEmpty(KeyLabel))
        {
            throw new HsmException(HsmFailure.Configuration, "The PKCS#11 key label is not set.");
        }
    }

    /// <summary>Reads the PIN from its file or environment variable.</summary>
    internal string ReadPin()
    {
        string? pin;
        if (!string.IsNullOrEmpty(PinFile))
        {
            try
            {
                pin = File.ReadAllText(PinFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new HsmException(HsmFailure.Pin, "The PKCS#11 PIN file cannot be read.", e);
            }
            pin = pin.EndsWith("\r\n", StringComparison.Ordinal) ? pin[..^2] : pin.EndsWith('\n') ? pin[..^1] : pin;
        }
        else
        {
            pin = Environment.GetEnvironmentVariable(PinEnvironmentVariable!);
        }
        if (string.IsNullOrEmpty(pin))
        {
            throw new HsmException(HsmFailure.Pin, "The PKCS#11 PIN is empty or missing.");
        }
        return pin;
    }

    /// <summary>The token as named in messages (no PIN, no key material).</summary>
    internal string TokenDescription => SlotId is { } slot ? $"slot {slot}" : $"token '{TokenLabel}'";
}
