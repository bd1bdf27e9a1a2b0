using System.Security.Cryptography;
using System.Text;

namespace Pii.AppHost.Dashboard;

internal static class Secrets
{
    /// <summary>
    /// Constant-time comparison that does not leak the length either: both sides are hashed to 32 bytes first.
    /// </summary>
    public static bool FixedTimeEquals(string presented, string expected)
    {
        Span<byte> left = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> right = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), left);
        SHA256.HashData(Encoding.UTF8.GetBytes(expected), right);
        return CryptographicOperations.FixedTimeEquals(left, right);
    }
}
