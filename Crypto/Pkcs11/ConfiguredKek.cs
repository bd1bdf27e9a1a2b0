using System.Globalization;
using Pii.Crypto.Keys;

namespace Pii.Crypto.Pkcs11;

/// <summary>
/// The local (no key service) KEK as configured: a key on a PKCS#11 token when <see cref="Library"/> is set, otherwise
/// the software <see cref="LocalKek"/> from <c>PII_LOCAL_KEK</c> / <c>PII_LOCAL_KEK_FILE</c>. Setting both is refused,
/// and a token that cannot be used is an <see cref="HsmException"/>: nothing falls back to a software key.
/// </summary>
/// <remarks>
/// Settings (environment variables, or the same keys in an IConfiguration):
/// <list type="bullet">
/// <item><c>PII_LOCAL_KEK_PKCS11_LIBRARY</c>: the vendor's PKCS#11 module, e.g. <c>/usr/lib/softhsm/libsofthsm2.so</c>;</item>
/// <item><c>PII_LOCAL_KEK_PKCS11_TOKEN_LABEL</c> or <c>PII_LOCAL_KEK_PKCS11_SLOT</c>: the token, exactly one;</item>
/// <item><c>PII_LOCAL_KEK_PKCS11_PIN_FILE</c>, or the PIN itself in the environment variable <c>PII_LOCAL_KEK_PKCS11_PIN</c>;</item>
/// <item><c>PII_LOCAL_KEK_PKCS11_KEY_LABEL</c>: the AES-256 key (sensitive, non-extractable), made beforehand with the HSM's own tools.</item>
/// </list>
/// </remarks>
public static class ConfiguredKek
{
    public const string Library = "PII_LOCAL_KEK_PKCS11_LIBRARY";
    public const string TokenLabel = "PII_LOCAL_KEK_PKCS11_TOKEN_LABEL";
    public const string Slot = "PII_LOCAL_KEK_PKCS11_SLOT";
    public const string PinFile = "PII_LOCAL_KEK_PKCS11_PIN_FILE";
    public const string Pin = "PII_LOCAL_KEK_PKCS11_PIN";
    public const string KeyLabel = "PII_LOCAL_KEK_PKCS11_KEY_LABEL";

    /// <summary>The KEK named <paramref name="name"/> from the process environment.</summary>
    public static IKeyEncryptionKey FromEnvironment(string name) => Open(name, Environment.GetEnvironmentVariable);

    /// <summary>The KEK named <paramref name="name"/> from <paramref name="setting"/> (the PIN variable is always read from the environment).</summary>
    /// <exception cref="HsmException">PKCS#11 is configured but incomplete, contradictory or unusable.</exception>
    public static IKeyEncryptionKey Open(string name, Func<string, string?> setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        string? library = Value(setting, Library);
        if (library is null)
        {
            return LocalKek.FromSettings(name, setting);
        }
        if (Value(setting, LocalKek.EnvironmentVariable) is not null || Value(setting, LocalKek.FileEnvironmentVariable) is not null)
        {
            throw new HsmException(HsmFailure.Configuration,
                $"Both a PKCS#11 KEK ({Library}) and a software KEK ({LocalKek.EnvironmentVariable}[_FILE]) are configured; set one.");
        }
        string? pinFile = Value(setting, PinFile);
        return Pkcs11Kek.Open(name, new Pkcs11Options
        {
            LibraryPath = library,
            TokenLabel = Value(setting, TokenLabel),
            SlotId = Value(setting, Slot) is { } slot ? ParseSlot(slot) : null,
            PinFile = pinFile,
            PinEnvironmentVariable = pinFile is null ? Pin : null,
            KeyLabel = Value(setting, KeyLabel) ?? throw new HsmException(HsmFailure.Configuration, $"{KeyLabel} is not set."),
        });
    }

    private static string? Value(Func<string, string?> setting, string key) => setting(key) is { Length: > 0 } value ? value.Trim() : null;

    private static ulong ParseSlot(string text) =>
        ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong slot)
            ? slot
            : throw new HsmException(HsmFailure.Configuration, $"{Slot} is not a slot number.");
}
