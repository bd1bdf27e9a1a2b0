using System.Globalization;

namespace Pii.FormApi.Domain;

/// <summary>What an agent sees without reveal: <c>A***</c>, <c>+1******4567</c>, <c>a***@example.com</c>.</summary>
internal static class Masking
{
    public static string? Name(string? name) =>
        name is null ? null : StringInfo.GetNextTextElement(name) + "***";

    /// <summary>Keeps '+', the first digit and the last four; every other digit becomes '*'.</summary>
    public static string Phone(string e164) =>
        e164.Length <= 6 ? new string('*', e164.Length) : string.Concat(e164.AsSpan(0, 2), new string('*', e164.Length - 6), e164.AsSpan(e164.Length - 4));

    public static string Email(string email)
    {
        int at = email.LastIndexOf('@');
        return at <= 0 ? "***" : string.Concat(email.AsSpan(0, 1), "***", email.AsSpan(at));
    }
}
