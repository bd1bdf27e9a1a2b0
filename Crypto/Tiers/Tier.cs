namespace Pii.Crypto.Tiers;

/// <summary>How strongly a column is protected at rest. Declared once per field in a <see cref="PiiSchema"/>.</summary>
public enum Tier
{
    /// <summary>Stored clear. Only for columns that are not sensitive; a PII field may not use it.</summary>
    One = 1,

    /// <summary>Field encryption under a DEK wrapped by the key service (KMS).</summary>
    Two = 2,

    /// <summary>
    /// Double encryption: inside under an application key the key service never sees, outside under the tier-2 DEK.
    /// Neither the key service nor a holder of the application key alone can read the value.
    /// </summary>
    Three = 3,

    /// <summary>
    /// An FF1 token (NIST SP 800-38G) under a service-held FPE key: same length and alphabet as the value, the same
    /// token for the same value in every row of the column, and no integrity. Only for a column a downstream system
    /// insists on reading in its original format; declared with <see cref="PiiSchema.Builder.FpeField"/>. See README
    /// "Format-preserving encryption" for what it leaks compared with tiers 2 and 3.
    /// </summary>
    FormatPreserving = 4,
}
