namespace Pii.EtlWorker.Etl;

/// <summary>The FormApi's masked forms: <c>A***</c>, <c>+1******4567</c>, <c>a***@example.com</c>.</summary>
public static class ContactMasking
{
    public static string Name(string? name) => string.IsNullOrEmpty(name) ? "" : name[..1] + "***";

    /// <summary>Keeps '+' and the first digit, and the last four digits.</summary>
    public static string Phone(string e164) => e164.Length <= 6 ? new string('*', e164.Length) : e164[..2] + new string('*', e164.Length - 6) + e164[^4..];

    public static string Email(string email)
    {
        ArgumentNullException.ThrowIfNull(email);
        var at = email.LastIndexOf('@');
        return at <= 0 ? "***" : email[..1] + "***" + email[at..];
    }
}
