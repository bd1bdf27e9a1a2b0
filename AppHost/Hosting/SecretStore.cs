using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;

namespace Pii.AppHost.Hosting;

/// <summary>
/// Generated secrets (passwords, tokens, keys), created once from the CSPRNG and kept as files with mode 0600 in a
/// 0700 folder, so restarts reuse them. As in Aspire, configuration <c>Parameters:&lt;name&gt;</c> (env
/// <c>Parameters__&lt;name&gt;</c>) supplies a value instead, which is then used as given and not written.
/// Values are never logged; callers pass them only to the processes that need them.
/// </summary>
public sealed class SecretStore
{
    private readonly IConfiguration? _parameters;
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly object _gate = new();

    public SecretStore(string directory, IConfiguration? configuration = null)
    {
        _parameters = configuration?.GetSection("Parameters");
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory, FolderMode);
        File.SetUnixFileMode(directory, FolderMode);
    }

    public string Directory { get; }

    public string PathOf(string name) => Path.Combine(Directory, name);

    /// <summary>A URL-safe random secret of 32 bytes (base64url, no padding), created on first use.</summary>
    public string GetOrCreate(string name) => GetOrCreate(name, () => NewToken());

    public string GetOrCreate(string name, Func<string> create)
    {
        if (_parameters?[name] is { Length: > 0 } configured) return configured;
        lock (_gate)
        {
            var path = PathOf(name);
            if (File.Exists(path)) return File.ReadAllText(path).Trim();
            var value = create();
            Write(name, value);
            return value;
        }
    }

    /// <summary>Writes (or replaces) a secret file atomically with mode 0600 from the first byte.</summary>
    public void Write(string name, string value)
    {
        var path = PathOf(name);
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, new FileStreamOptions
        {
            Mode = System.IO.FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = FileMode,
        }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(value);
        }
        File.SetUnixFileMode(temporary, FileMode);
        File.Move(temporary, path, overwrite: true);
    }

    public static string NewToken(int bytes = 32)
    {
        var buffer = RandomNumberGenerator.GetBytes(bytes);
        try
        {
            return Convert.ToBase64String(buffer).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
        }
    }
}
