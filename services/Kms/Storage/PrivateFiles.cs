namespace Pii.Kms.Storage;

/// <summary>
/// The store and the audit log hold sealed keys, token hashes and the audit chain: only the service's user may read
/// them. Files are created 0600 and missing directories 0700; SQLite gives its -wal and -shm files the database file's
/// mode, so creating the database 0600 covers them. Files left readable by an earlier version are tightened at start.
/// </summary>
public static class PrivateFiles
{
    private const UnixFileMode OwnerFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates <paramref name="path"/> (and its missing directories) owner-only, and tightens the given files if they exist.</summary>
    public static void Prepare(string path, params string[] companions)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(companions);
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.Write, UnixCreateMode = OwnerFile };
        using (new FileStream(path, options))
        {
            // Only creates the file (with the mode) when it is missing; existing content is untouched.
        }

        foreach (var file in companions.Prepend(path).Where(File.Exists))
        {
            if ((File.GetUnixFileMode(file) & ~OwnerFile) != 0)
            {
                File.SetUnixFileMode(file, OwnerFile);
            }
        }
    }

    /// <summary>Creates the directory and any missing parents 0700; directories that exist keep their mode.</summary>
    public static void CreateDirectory(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        // Directory.CreateDirectory(path, mode) gives the mode to the last directory only; missing parents are made
        // one by one so each is owner-only too.
        var missing = new Stack<string>();
        for (var dir = Path.GetFullPath(path); !Directory.Exists(dir); dir = Path.GetDirectoryName(dir)!)
        {
            missing.Push(dir);
        }

        while (missing.TryPop(out var dir))
        {
            Directory.CreateDirectory(dir, OwnerDirectory);
        }
    }
}
