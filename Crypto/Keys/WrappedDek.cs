namespace Pii.Crypto.Keys;

/// <summary>
/// A data-encryption key as it may be stored: wrapped by a named, versioned KEK.
/// <see cref="Ciphertext"/> is the KEK's own text form (<c>vault:v3:…</c> for the key service,
/// <c>local:v2:…</c> for the local AES-KW keyring), so it can sit in a text column beside the KEK name.
/// </summary>
public sealed record WrappedDek(string KekName, int KekVersion, string Ciphertext);

/// <summary>A freshly generated DEK: the caller owns <see cref="Plaintext"/> and must zero it when done.</summary>
public sealed record GeneratedDek(byte[] Plaintext, WrappedDek Wrapped);
