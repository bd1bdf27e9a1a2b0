using System.Security.Cryptography;
using Pii.Crypto.Audit;
using Pii.Kms.Audit;
using Pii.Kms.Auth;
using Pii.Kms.Storage;
using Pii.Kms.Transit;

namespace Pii.Kms.Hosting;

/// <summary>
/// The opened key service: storage, key ring, tokens, policies and audit device. Without a usable master key
/// it stays sealed: nothing is decrypted and every API but sys/health answers 503.
/// </summary>
public sealed partial class KmsRuntime : IDisposable
{
    private readonly KeyRing? _keys;
    private readonly TokenStore? _tokens;
    private readonly PolicyEvaluator? _policies;

    public KmsRuntime(KmsSettings settings, TimeProvider time, ILogger<KmsRuntime> logger)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        var masterKey = LoadMasterKey(settings, logger);
        MasterKeySealer? sealer = null;
        if (masterKey is not null)
        {
            sealer = new MasterKeySealer(masterKey);
            CryptographicOperations.ZeroMemory(masterKey);
        }

        Store = new KmsStore(settings.StoragePath, sealer);
        if (Store.IsSealed || !Store.VerifyMasterKey())
        {
            if (!Store.IsSealed)
            {
                LogWrongMasterKey(logger);
            }

            IsSealed = true;
            return;
        }

        _keys = new KeyRing(Store, time);
        _keys.Load();
        _tokens = new TokenStore(Store, time);
        _tokens.Load();
        _policies = new PolicyEvaluator(Store);
        _policies.Load();
        Bootstrap(settings, logger);
        if (settings.AuditPath is { } auditPath)
        {
            var hmacKey = Store.GetOrCreateSecret("audit-hmac-key", () => RandomNumberGenerator.GetBytes(32));
            PrivateFiles.Prepare(auditPath);
            Audit = new AuditDevice(new AuditChainWriter(auditPath), hmacKey, time);
        }
    }

    public KmsSettings Settings { get; }

    public KmsStore Store { get; }

    public bool IsSealed { get; }

    public AuditDevice? Audit { get; }

    public KeyRing Keys => _keys ?? throw new InvalidOperationException("sealed");

    public TokenStore Tokens => _tokens ?? throw new InvalidOperationException("sealed");

    public PolicyEvaluator Policies => _policies ?? throw new InvalidOperationException("sealed");

    public void Dispose()
    {
        Audit?.Dispose();
        Store.Dispose();
        if (Settings.Dev)
        {
            // Dev mode's store is temporary by definition, like `vault server -dev`'s in-memory storage.
            Directory.Delete(Path.GetDirectoryName(Settings.StoragePath)!, recursive: true);
        }
    }

    private void Bootstrap(KmsSettings settings, ILogger logger)
    {
        var shipped = settings.PoliciesDir ?? Path.Combine(AppContext.BaseDirectory, "policies");
        if (Directory.Exists(shipped))
        {
            foreach (var file in Directory.EnumerateFiles(shipped, "*.hcl"))
            {
                var name = Path.GetFileNameWithoutExtension(file);
                if (settings.PoliciesDir is not null || !Policies.Exists(name))
                {
                    Policies.Put(name, File.ReadAllText(file));
                }
            }
        }

        if (settings.Dev)
        {
            var root = settings.DevRootTokenId ?? TokenStore.NewToken();
            Tokens.Register(root, [PolicyEvaluator.Root], null, "root");
            if (settings.DevRootTokenId is null)
            {
                // Dev mode only, exactly as `vault server -dev` does: the operator needs the generated token.
                LogDevRootToken(logger, root);
            }
        }
        else if (settings.RootTokenFile is { } rootFile && !Tokens.HasRootToken)
        {
            RegisterFromFile(rootFile, [PolicyEvaluator.Root], "root", logger);
        }

        foreach (var bootstrap in settings.Tokens)
        {
            RegisterFromFile(bootstrap.File, bootstrap.Policies, "token-" + Path.GetFileNameWithoutExtension(bootstrap.File), logger);
        }
    }

    /// <summary>
    /// The token in <paramref name="path"/> (a new one is written when the file is missing) with these policies, unless
    /// it exists already or was revoked: a revoked token stays revoked; delete the file to have a new one made.
    /// </summary>
    private void RegisterFromFile(string path, IReadOnlyList<string> policies, string displayName, ILogger logger)
    {
        var token = ReadOrCreateTokenFile(path);
        if (Tokens.IsRevoked(token))
        {
            LogRevokedTokenFile(logger, path);
        }
        else if (!Tokens.Exists(token))
        {
            Tokens.Register(token, policies, null, displayName);
        }
    }

    private static string ReadOrCreateTokenFile(string path)
    {
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length > 0)
            {
                return existing;
            }
        }

        var token = TokenStore.NewToken();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(token);
        }

        return token;
    }

    private static byte[]? LoadMasterKey(KmsSettings settings, ILogger logger)
    {
        if (settings.DevMasterKey is { } dev)
        {
            return (byte[])dev.Clone();
        }

        if (settings.Pkcs11Seal is { } hsm)
        {
            return Pkcs11Seal.Unseal(hsm, settings.StoragePath, logger);
        }

        try
        {
            string? text = null;
            if (settings.MasterKeyFile is { } file)
            {
                var keyDir = Path.GetDirectoryName(Path.GetFullPath(file));
                var dbDir = Path.GetDirectoryName(Path.GetFullPath(settings.StoragePath));
                if (string.Equals(keyDir, dbDir, StringComparison.Ordinal))
                {
                    LogKeyBesideDatabase(logger);
                    return null;
                }

                text = File.Exists(file) ? File.ReadAllText(file) : null;
            }
            else if (settings.MasterKeyEnv is { } env)
            {
                text = Environment.GetEnvironmentVariable(env);
            }

            if (string.IsNullOrWhiteSpace(text))
            {
                LogNoMasterKey(logger);
                return null;
            }

            return MasterKeySealer.ParseMasterKey(text);
        }
        catch (FormatException)
        {
            LogBadMasterKey(logger);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No master key available: the key service starts sealed.")]
    private static partial void LogNoMasterKey(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "The master key is not 32 bytes of hex or base64: the key service starts sealed.")]
    private static partial void LogBadMasterKey(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "The master key file sits in the database's directory; refusing it (keep them apart): the key service starts sealed.")]
    private static partial void LogKeyBesideDatabase(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "The master key does not open this store: the key service starts sealed.")]
    private static partial void LogWrongMasterKey(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The token in {Path} was revoked and is not registered again; delete the file to have a new token made.")]
    private static partial void LogRevokedTokenFile(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dev mode root token: {RootToken}")]
    private static partial void LogDevRootToken(ILogger logger, string rootToken);
}
