namespace Pii.Crypto.Fields;

/// <summary>How a field is encrypted. The numeric value is the low nibble of the format's first byte.</summary>
public enum FieldMode
{
    /// <summary>AES-256-GCM with a random 96-bit nonce: equal plaintexts give different ciphertexts.</summary>
    Randomized = 1,

    /// <summary>AES-SIV-512 (RFC 5297): equal plaintext in the same cell context gives the same ciphertext.</summary>
    Deterministic = 2,
}
