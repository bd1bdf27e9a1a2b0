using System.Globalization;
using System.Text;

namespace Pii.EntityFrameworkCore.Internal;

/// <summary>
/// A property value as the plaintext bytes of its field ciphertext: strings as UTF-8, byte arrays as they are, other
/// values as their invariant round-trip text in UTF-8 (dates ISO 8601, numbers invariant), so a field decrypted with
/// the <c>pii</c> CLI reads as the value it was.
/// </summary>
internal static class ValueCodec
{
    private static readonly HashSet<Type> Supported =
    [
        typeof(string), typeof(byte[]), typeof(bool), typeof(short), typeof(int), typeof(long), typeof(decimal), typeof(double),
        typeof(DateOnly), typeof(TimeOnly), typeof(DateTime), typeof(DateTimeOffset), typeof(Guid),
    ];

    public static bool Supports(Type type) => Supported.Contains(Nullable.GetUnderlyingType(type) ?? type);

    public static byte[] Encode(object value) => value switch
    {
        string text => Encoding.UTF8.GetBytes(text),
        byte[] bytes => bytes,
        bool flag => Encoding.UTF8.GetBytes(flag ? "true" : "false"),
        DateOnly date => Encoding.UTF8.GetBytes(date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
        TimeOnly time => Encoding.UTF8.GetBytes(time.ToString("O", CultureInfo.InvariantCulture)),
        DateTime moment => Encoding.UTF8.GetBytes(moment.ToString("O", CultureInfo.InvariantCulture)),
        DateTimeOffset moment => Encoding.UTF8.GetBytes(moment.ToString("O", CultureInfo.InvariantCulture)),
        double number => Encoding.UTF8.GetBytes(number.ToString("R", CultureInfo.InvariantCulture)),
        IFormattable other => Encoding.UTF8.GetBytes(other.ToString(null, CultureInfo.InvariantCulture)),
        _ => throw new InvalidOperationException($"A {value.GetType().Name} cannot be encrypted."),
    };

    public static object Decode(byte[] plaintext, Type type)
    {
        Type target = Nullable.GetUnderlyingType(type) ?? type;
        if (target == typeof(byte[]))
        {
            return plaintext;
        }
        string text = Encoding.UTF8.GetString(plaintext);
        CultureInfo invariant = CultureInfo.InvariantCulture;
        return target switch
        {
            _ when target == typeof(string) => text,
            _ when target == typeof(bool) => text == "true",
            _ when target == typeof(short) => short.Parse(text, NumberStyles.Integer, invariant),
            _ when target == typeof(int) => int.Parse(text, NumberStyles.Integer, invariant),
            _ when target == typeof(long) => long.Parse(text, NumberStyles.Integer, invariant),
            _ when target == typeof(decimal) => decimal.Parse(text, NumberStyles.Number, invariant),
            _ when target == typeof(double) => double.Parse(text, NumberStyles.Float, invariant),
            _ when target == typeof(DateOnly) => DateOnly.ParseExact(text, "yyyy-MM-dd", invariant),
            _ when target == typeof(TimeOnly) => TimeOnly.ParseExact(text, "O", invariant),
            _ when target == typeof(DateTime) => DateTime.ParseExact(text, "O", invariant, DateTimeStyles.RoundtripKind),
            _ when target == typeof(DateTimeOffset) => DateTimeOffset.ParseExact(text, "O", invariant, DateTimeStyles.RoundtripKind),
            _ when target == typeof(Guid) => Guid.ParseExact(text, "D"),
            _ => throw new InvalidOperationException($"A {target.Name} cannot be decrypted."),
        };
    }
}
