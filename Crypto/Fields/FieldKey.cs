using System.Security.Cryptography;
using System.Text;
using Pii.Crypto.Siv;

namespace Pii.Crypto.Fields;

/// <summary>
/// A 32-byte DEK prepared for field encryption, with its id. The DEK itself is not kept: two keys are derived from it
/// with HKDF-SHA256 (RFC 5869; salt empty, IKM = DEK) and distinct labels, so no key is ever used by two algorithms:
/// <list type="bullet">
/// <item>info "PiiAspire/field/v1/aes-256-gcm" → 32 bytes for randomized mode;</item>
/// <item>info "PiiAspire/field/v1/aes-siv-512" → 64 bytes for deterministic mode.</item>
/// </list>
/// Deriving the GCM key too (instead of using the DEK directly) keeps the DEK a pure root secret: the same DEK can be
/// handed to another construction later without it ever having been an AES key itself.
/// AesGcm and AesSiv are not documented thread-safe, so each thread gets its own instance, created once per key.
/// Disposal zeroes the derived keys as soon as no operation is using them (reference counted, like a SafeHandle).
/// </summary>
public sealed class FieldKey : IDisposable
{
    public const int DekSize = 32;

    private static readonly byte[] GcmLabel = Encoding.ASCII.GetBytes("PiiAspire/field/v1/aes-256-gcm");
    private static readonly byte[] SivLabel = Encoding.ASCII.GetBytes("PiiAspire/field/v1/aes-siv-512");

    private readonly byte[] _gcmKey = GC.AllocateArray<byte>(32, pinned: true);
    private readonly byte[] _sivKey = GC.AllocateArray<byte>(64, pinned: true);
    private readonly ThreadLocal<AesGcm> _gcm;
    private readonly ThreadLocal<AesSiv> _siv;
    private int _references = 1;
    private int _disposed;

    private FieldKey(int dekId, ReadOnlySpan<byte> dek)
    {
        DekId = dekId;
        HKDF.DeriveKey(HashAlgorithmName.SHA256, dek, _gcmKey, salt: default, GcmLabel);
        HKDF.DeriveKey(HashAlgorithmName.SHA256, dek, _sivKey, salt: default, SivLabel);
        _gcm = new ThreadLocal<AesGcm>(() => new AesGcm(_gcmKey, AesGcmTagSize), trackAllValues: true);
        _siv = new ThreadLocal<AesSiv>(() => new AesSiv(_sivKey), trackAllValues: true);
    }

    internal const int AesGcmTagSize = 16;

    /// <summary>The DEK's id as written into every ciphertext header.</summary>
    public int DekId { get; }

    /// <summary>Derives the field keys from a 32-byte DEK. The caller still owns (and should zero) <paramref name="dek"/>.</summary>
    public static FieldKey FromDek(int dekId, ReadOnlySpan<byte> dek)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(dekId);
        if (dek.Length != DekSize)
        {
            throw new ArgumentException("A DEK is exactly 32 bytes.", nameof(dek));
        }
        return new FieldKey(dekId, dek);
    }

    /// <summary>True when the derived key buffers hold only zeros (after the last user released a disposed key).</summary>
    internal bool KeyMaterialIsZero() => !_gcmKey.AsSpan().ContainsAnyExcept((byte)0) && !_sivKey.AsSpan().ContainsAnyExcept((byte)0);

    internal AesGcm Gcm => _gcm.Value!;

    internal AesSiv Siv => _siv.Value!;

    /// <summary>Takes a reference for one operation; throws if the key was disposed and destroyed.</summary>
    internal void Acquire()
    {
        int current;
        do
        {
            current = Volatile.Read(ref _references);
            ObjectDisposedException.ThrowIf(current == 0, this);
        }
        while (Interlocked.CompareExchange(ref _references, current + 1, current) != current);
    }

    internal void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            Destroy();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Release();
        }
    }

    private void Destroy()
    {
        foreach (AesGcm gcm in _gcm.Values)
        {
            gcm.Dispose();
        }
        foreach (AesSiv siv in _siv.Values)
        {
            siv.Dispose();
        }
        _gcm.Dispose();
        _siv.Dispose();
        CryptographicOperations.ZeroMemory(_gcmKey);
        CryptographicOperations.ZeroMemory(_sivKey);
    }
}
