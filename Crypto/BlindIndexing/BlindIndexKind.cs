namespace Pii.Crypto.BlindIndexing;

/// <summary>Which normalization a blind index applies before hashing.</summary>
public enum BlindIndexKind
{
    /// <summary>Trim, then lowercase (invariant culture).</summary>
    Email,

    /// <summary>E.164: '+' then 7-15 digits; separators (space, '-', '.', parentheses) are dropped.</summary>
    Phone,

    /// <summary>US SSN: exactly 9 digits; spaces and dashes are dropped.</summary>
    Ssn,

    /// <summary>Unicode NFKC, lowercase (invariant), trimmed, inner whitespace collapsed to one space.</summary>
    Name,

    /// <summary>No normalization: the exact string (ordinal, UTF-8). For values whose spelling is already canonical.</summary>
    Exact,
}
