using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Pii.AppHost.Dashboard.Auth;

/// <summary>
/// Login sessions without server state. Cookie value = base64url(expiry[8, big-endian unix seconds] ‖
/// HMAC-SHA256(key, expiry)[32]); the key is random per dashboard run, so a restart logs everyone out and the cookie
/// never contains the browser token itself. Valid 3 days, like Aspire's.
/// </summary>
public sealed class DashboardSessions : IDisposable
{
    public const string CookieName = "pii-dashboard-auth";
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(3);
    private const int ExpiryLength = 8;
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly TimeProvider _time;

    public DashboardSessions(TimeProvider time) => _time = time;

    public string Issue(out DateTimeOffset expires)
    {
        expires = _time.GetUtcNow() + Lifetime;
        var value = new byte[ExpiryLength + HMACSHA256.HashSizeInBytes];
        BinaryPrimitives.WriteInt64BigEndian(value, expires.ToUnixTimeSeconds());
        HMACSHA256.HashData(_key, value.AsSpan(0, ExpiryLength), value.AsSpan(ExpiryLength));
        return Base64UrlEncode(value);
    }

    public bool IsValid(string? cookie)
    {
        if (string.IsNullOrEmpty(cookie) || cookie.Length > 128 || !TryBase64UrlDecode(cookie, out var value)
            || value.Length != ExpiryLength + HMACSHA256.HashSizeInBytes)
        {
            return false;
        }
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_key, value.AsSpan(0, ExpiryLength), expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, value.AsSpan(ExpiryLength)))
        {
            return false;
        }
        var expiry = BinaryPrimitives.ReadInt64BigEndian(value);
        return expiry > _time.GetUtcNow().ToUnixTimeSeconds();
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_key);

    private static string Base64UrlEncode(byte[] value) =>
        Convert.ToBase64String(value).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryBase64UrlDecode(string text, out byte[] value)
    {
        var padded = text.Replace('-', '+').Replace('_', '/');
        padded += new string('=', (4 - padded.Length % 4) % 4);
        value = new byte[padded.Length];
        if (Convert.TryFromBase64String(padded, value, out var written))
        {
            value = value[..written];
            return true;
        }
        value = [];
        return false;
    }
}
