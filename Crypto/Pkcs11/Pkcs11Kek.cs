using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Net.Pkcs11Interop.HighLevelAPI;
using Pii.Crypto.Keys;

namespace Pii.Crypto.Pkcs11;

/// <summary>
/// A KEK that never leaves an HSM: an AES-256 secret key on a PKCS#11 token (sensitive, non-extractable; found by its
/// label), used through CKM_AES_GCM inside the token. For the local (no key service) path, and as the key service's
/// seal. Nothing falls back to a software key: every failure is an <see cref="HsmException"/>.
/// </summary>
/// <remarks>
/// Wrapped text form: <c>pkcs11:v1:&lt;base64(iv[12] ‖ ciphertext ‖ tag[16])&gt;</c>, IV from our CSPRNG, AAD =
/// UTF-8 <c>"pii-pkcs11-kek/v1:" + Name</c> so a wrapped key cannot be replayed under another KEK name.
/// Why GCM rather than CKM_AES_KEY_WRAP_PAD: in PKCS#11, key wrap is C_WrapKey/C_UnwrapKey on key objects, so the DEK
/// would have to be imported into the token and, on unwrap, created extractable so its value could be read back;
/// GCM through C_Encrypt/C_Decrypt wraps the bytes directly, authenticates a context, and SoftHSM2 and network HSMs
/// support it.
/// </remarks>
public sealed class Pkcs11Kek : IKeyEncryptionKey, IDisposable
{
    public const int Version = 1;
    private const string Prefix = "pkcs11:v1:";
    private const int IvSize = 12;
    private const int TagSize = 16;

    private readonly Pkcs11Token _token;
    private readonly IObjectHandle _key;
    private readonly byte[] _aad;

    private Pkcs11Kek(string name, Pkcs11Token token, IObjectHandle key)
    {
        Name = name;
        _token = token;
        _key = key;
        _aad = Encoding.UTF8.GetBytes("pii-pkcs11-kek/v1:" + name);
    }

    public string Name { get; }

    /// <summary>Opens the token, logs in and finds the key by label.</summary>
    /// <param name="generateIfMissing">Create the key on the token when no key has the label (first start only:
    /// callers must not pass true once data is wrapped, or a removed key would be silently replaced).</param>
    /// <exception cref="HsmException">Library, token, PIN or key problems, each with its <see cref="HsmFailure"/>.</exception>
    public static Pkcs11Kek Open(string name, Pkcs11Options options, bool generateIfMissing = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Pkcs11Token token = Pkcs11Token.Open(options);
        try
        {
            IObjectHandle key;
            try
            {
                key = token.FindAesKey(options.KeyLabel);
            }
            catch (HsmException e) when (e.Failure == HsmFailure.KeyNotFound && generateIfMissing)
            {
                key = token.GenerateAesKey(options.KeyLabel);
            }
            return new Pkcs11Kek(name, token, key);
        }
        catch
        {
            token.Dispose();
            throw;
        }
    }

    /// <summary>Wraps key bytes (1 to 4096) under the token key.</summary>
    public WrappedDek Wrap(ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty || key.Length > 4096)
        {
            throw new ArgumentException("A wrapped key is 1 to 4096 bytes.", nameof(key));
        }
        byte[] iv = RandomNumberGenerator.GetBytes(IvSize);
        byte[] plaintext = key.ToArray();
        try
        {
            byte[] sealedBytes = _token.EncryptGcm(_key, iv, _aad, plaintext);
            string text = Prefix + Convert.ToBase64String([.. iv, .. sealedBytes]);
            return new WrappedDek(Name, Version, text);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>Unwraps; the caller owns the returned bytes and zeroes them when done.</summary>
    /// <exception cref="TamperedException">The wrapped key was altered or belongs to another key or KEK name.</exception>
    /// <exception cref="UnknownKeyException">Wrapped by a different KEK name or version.</exception>
    /// <exception cref="MalformedInputException">Not this KEK's text form.</exception>
    public byte[] Unwrap(WrappedDek wrapped)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        if (!string.Equals(wrapped.KekName, Name, StringComparison.Ordinal) || wrapped.KekVersion != Version)
        {
            throw new UnknownKeyException(string.Create(CultureInfo.InvariantCulture, $"The key is wrapped by KEK {wrapped.KekName} v{wrapped.KekVersion}, not {Name} v{Version}."));
        }
        if (!wrapped.Ciphertext.StartsWith(Prefix, StringComparison.Ordinal))
        {
            throw new MalformedInputException("A PKCS#11-wrapped key is written pkcs11:v1:<base64>.");
        }
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(wrapped.Ciphertext[Prefix.Length..]);
        }
        catch (FormatException)
        {
            throw new MalformedInputException("A PKCS#11-wrapped key's payload is not base64.");
        }
        if (bytes.Length < IvSize + TagSize + 1)
        {
            throw new MalformedInputException("A PKCS#11-wrapped key is shorter than an IV, one byte and a tag.");
        }
        return _token.DecryptGcm(_key, bytes[..IvSize], _aad, bytes[IvSize..]);
    }

    public Task<GeneratedDek> GenerateDataKeyAsync(CancellationToken cancellationToken = default)
    {
        byte[] dek = RandomNumberGenerator.GetBytes(32);
        return Task.FromResult(new GeneratedDek(dek, Wrap(dek)));
    }

    public Task<WrappedDek> WrapAsync(ReadOnlyMemory<byte> dek, CancellationToken cancellationToken = default) => Task.FromResult(Wrap(dek.Span));

    public Task<byte[]> UnwrapAsync(WrappedDek wrapped, CancellationToken cancellationToken = default) => Task.FromResult(Unwrap(wrapped));

    public Task<WrappedDek> RewrapAsync(WrappedDek wrapped, CancellationToken cancellationToken = default)
    {
        byte[] dek = Unwrap(wrapped);
        try
        {
            return Task.FromResult(Wrap(dek));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dek);
        }
    }

    public void Dispose() => _token.Dispose();
}
