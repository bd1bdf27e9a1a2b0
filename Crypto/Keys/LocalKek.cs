using System.Globalization;
using System.Security.Cryptography;
using Pii.Crypto.KeyWrap;

namespace Pii.Crypto.Keys;

/// <summary>
/// The offline keyring: wraps DEKs with AES-KWP (RFC 5649) under a local 256-bit master key. Several master-key
/// versions may be loaded; the highest wraps, all of them unwrap, so the master key can rotate (add a version, then
/// <see cref="DekManager.RewrapAllAsync"/>, then drop the old version).
/// </summary>
/// <remarks>
/// Wrapped text form: <c>local:v&lt;N&gt;:&lt;base64 of the RFC 5649 output&gt;</c> (standard base64 with padding).
/// Keyring text (env var <see cref="EnvironmentVariable"/>, or the file named by <see cref="FileEnvironmentVariable"/>):
/// entries separated by newlines, ',' or ';', each <c>v&lt;N&gt;=&lt;key&gt;</c>, where the key is 64 hex digits or
/// 44 base64 characters (32 bytes). A single bare key means version 1.
/// </remarks>
public sealed class LocalKek : IKeyEncryptionKey, IDisposable
{
    public const string EnvironmentVariable = "PII_LOCAL_KEK";
    public const string FileEnvironmentVariable = "PII_LOCAL_KEK_FILE";
    public const int MasterKeySize = 32;
    private const string Prefix = "local:v";

    private readonly SortedDictionary<int, byte[]> _masterKeys = [];

    public LocalKek(string name, IReadOnlyDictionary<int, byte[]> masterKeys)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(masterKeys);
        if (masterKeys.Count == 0)
        {
            throw new ArgumentException("A local KEK needs at least one master-key version.", nameof(masterKeys));
        }
        foreach ((int version, byte[] key) in masterKeys)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(version, 1, nameof(masterKeys));
            if (key.Length != MasterKeySize)
            {
                throw new ArgumentException("A local master key is 32 bytes.", nameof(masterKeys));
            }
            byte[] copy = GC.AllocateArray<byte>(MasterKeySize, pinned: true);
            key.CopyTo(copy, 0);
            _masterKeys[version] = copy;
        }
        Name = name;
        CurrentVersion = _masterKeys.Keys.Max();
    }

    public string Name { get; }

    /// <summary>The version new wraps use: the highest loaded.</summary>
    public int CurrentVersion { get; }

    /// <summary>Builds a keyring from its text form (see the type remarks). Errors never quote the text.</summary>
    public static LocalKek FromText(string name, string keyringText)
    {
        ArgumentNullException.ThrowIfNull(keyringText);
        string[] entries = keyringText.Split(['\n', '\r', ',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var keys = new Dictionary<int, byte[]>();
        try
        {
            foreach (string entry in entries)
            {
                int equals = entry.IndexOf('=', StringComparison.Ordinal);
                bool versioned = entry.StartsWith('v') && equals > 1
                    && int.TryParse(entry.AsSpan(1, equals - 1), NumberStyles.None, CultureInfo.InvariantCulture, out _);
                if (!versioned && entries.Length > 1)
                {
                    throw new MalformedInputException("Local KEK entries are written v<N>=<key>.");
                }
                int version = versioned ? int.Parse(entry.AsSpan(1, equals - 1), NumberStyles.None, CultureInfo.InvariantCulture) : 1;
                string keyText = versioned ? entry[(equals + 1)..] : entry;
                if (version < 1)
                {
                    throw new MalformedInputException("Local KEK versions start at 1.");
                }
                if (!keys.TryAdd(version, DecodeKey(keyText)))
                {
                    throw new MalformedInputException("Local KEK text repeats a version.");
                }
            }
            if (keys.Count == 0)
            {
                throw new MalformedInputException("Local KEK text holds no key.");
            }
            return new LocalKek(name, keys);
        }
        finally
        {
            foreach (byte[] key in keys.Values)
            {
                CryptographicOperations.ZeroMemory(key);
            }
        }
    }

    /// <summary>Reads the keyring from <see cref="EnvironmentVariable"/>, else from the file <see cref="FileEnvironmentVariable"/> names.</summary>
    public static LocalKek FromEnvironment(string name) => FromSettings(name, Environment.GetEnvironmentVariable);

    /// <summary>As <see cref="FromEnvironment"/>, with the two settings looked up in <paramref name="setting"/> (e.g. an IConfiguration).</summary>
    public static LocalKek FromSettings(string name, Func<string, string?> setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        string? text = setting(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(text))
        {
            string? path = setting(FileEnvironmentVariable);
            if (string.IsNullOrWhiteSpace(path))
            {
                throw new InvalidOperationException($"Set {EnvironmentVariable} or {FileEnvironmentVariable} to load the local KEK.");
            }
            text = File.ReadAllText(path);
        }
        return FromText(name, text);
    }

    public Task<GeneratedDek> GenerateDataKeyAsync(CancellationToken cancellationToken = default)
    {
        byte[] dek = RandomNumberGenerator.GetBytes(32);
        return Task.FromResult(new GeneratedDek(dek, Wrap(dek)));
    }

    public Task<WrappedDek> WrapAsync(ReadOnlyMemory<byte> dek, CancellationToken cancellationToken = default) =>
        Task.FromResult(Wrap(dek.Span));

    public Task<byte[]> UnwrapAsync(WrappedDek wrapped, CancellationToken cancellationToken = default) =>
        Task.FromResult(Unwrap(wrapped));

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

    public void Dispose()
    {
        foreach (byte[] key in _masterKeys.Values)
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    private WrappedDek Wrap(ReadOnlySpan<byte> dek)
    {
        byte[] wrapped = AesKeyWrap.WrapPadded(_masterKeys[CurrentVersion], dek);
        string text = string.Create(CultureInfo.InvariantCulture, $"{Prefix}{CurrentVersion}:{Convert.ToBase64String(wrapped)}");
        return new WrappedDek(Name, CurrentVersion, text);
    }

    private byte[] Unwrap(WrappedDek wrapped)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        if (!string.Equals(wrapped.KekName, Name, StringComparison.Ordinal))
        {
            throw new UnknownKeyException("The DEK is wrapped by a different KEK.");
        }
        (int version, byte[] bytes) = ParseText(wrapped.Ciphertext);
        if (version != wrapped.KekVersion)
        {
            throw new MalformedInputException("The wrapped DEK's version and its text form disagree.");
        }
        if (!_masterKeys.TryGetValue(version, out byte[]? masterKey))
        {
            throw new UnknownKeyException("The local KEK does not hold the master-key version this DEK was wrapped with.");
        }
        return AesKeyWrap.UnwrapPadded(masterKey, bytes);
    }

    private static (int Version, byte[] Bytes) ParseText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.IndexOf(':', Prefix.Length);
        if (!text.StartsWith(Prefix, StringComparison.Ordinal) || colon < 0
            || !int.TryParse(text.AsSpan(Prefix.Length, colon - Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int version))
        {
            throw new MalformedInputException("A local wrapped DEK is written local:v<N>:<base64>.");
        }
        try
        {
            return (version, Convert.FromBase64String(text[(colon + 1)..]));
        }
        catch (FormatException)
        {
            throw new MalformedInputException("A local wrapped DEK's payload is not base64.");
        }
    }

    private static byte[] DecodeKey(string text)
    {
        byte[] key;
        try
        {
            key = text.Length == 2 * MasterKeySize ? Convert.FromHexString(text) : Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw new MalformedInputException("A local master key is 64 hex digits or 44 base64 characters.");
        }
        if (key.Length != MasterKeySize)
        {
            CryptographicOperations.ZeroMemory(key);
            throw new MalformedInputException("A local master key is 32 bytes.");
        }
        return key;
    }
}
