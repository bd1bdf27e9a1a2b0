namespace Pii.EntityFrameworkCore;

/// <summary>
/// A LINQ query uses an encrypted property in a way the database cannot evaluate (ordering, LIKE, ranges, an
/// un-indexed equality…). Thrown when the query is translated, before anything runs.
/// </summary>
public sealed class EncryptedPropertyQueryException : InvalidOperationException
{
    public EncryptedPropertyQueryException()
    {
    }

    public EncryptedPropertyQueryException(string message)
        : base(message)
    {
    }

    public EncryptedPropertyQueryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
