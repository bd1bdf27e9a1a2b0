using System.Globalization;
using System.Text.Json;
using Pii.Crypto.Pkcs11;
using Pii.Kms.Storage;

namespace Pii.Kms.Hosting;

/// <summary>A token created at start from a file (the file is written with a new token if missing).</summary>
public sealed record BootstrapToken(string File, IReadOnlyList<string> Policies);

/// <summary>
/// How the key service starts. Dev mode (<c>-dev</c>) uses a temporary store, a generated master key and the given
/// root token. Otherwise a JSON config file (<c>-config=PATH</c> or IConfiguration <c>Kms:ConfigFile</c>):
/// <code>
/// { "listener":   {"tcp": {"address": "127.0.0.1:8200"}},
///   "storage":    {"sqlite": {"path": "/abs/kms.db"}},
///   "master_key": {"file": "/abs/master.key"}            // or {"env": "PII_KMS_MASTER_KEY"}; 32 bytes, hex or base64
///   // or, instead of master_key, the HSM seal (Pkcs11Seal): the root key is wrapped by an AES key inside the token
///   "seal": {"pkcs11": {"lib": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "kms" /* or "slot": "0" */,
///            "pin_file": "/abs/hsm.pin" /* or "pin_env": "KMS_HSM_PIN" */, "key_label": "kms-root",
///            "root_key_file": "/abs/root-key.hsm",       // the wrapped root key (default: the db path + ".root-key.hsm")
///            "generate_key": true }},                    // optional: make the token key on the very first start only
///   "audit":      {"file": {"path": "/abs/audit.log"}},   // optional; without it no audit device
///   "root_token_file": "/abs/root-token",                 // first start: this token becomes root (written if missing)
///   "policies":   {"dir": "/abs/policies"},               // optional; *.hcl installed by file name at start
///   "tokens":     [{"file": "/abs/etl.token", "policies": ["etl"]}],  // optional bootstrap service tokens
///   "auto_rotate_check_seconds": 60,                      // optional
///   "max_concurrent_large_bodies": 4 }                    // optional; bodies over 1 MiB read at once
/// </code>
/// ASPNETCORE_URLS (or the <c>urls</c> setting) wins over the listener address.
/// Without a file, the same settings may come from IConfiguration (e.g. env <c>Kms__StoragePath</c>):
/// <c>Kms:ListenAddress</c>, <c>Kms:StoragePath</c>, <c>Kms:MasterKeyFile</c> | <c>Kms:MasterKeyEnv</c>,
/// <c>Kms:AuditPath</c>, <c>Kms:RootTokenFile</c>, <c>Kms:PoliciesDir</c>, <c>Kms:MaxConcurrentLargeBodies</c>.
/// </summary>
public sealed record KmsSettings
{
    public bool Dev { get; init; }
    public string? DevRootTokenId { get; init; }
    public string? ListenAddress { get; init; }
    public string StoragePath { get; init; } = "";
    public string? MasterKeyFile { get; init; }
    public string? MasterKeyEnv { get; init; }
    public Pkcs11SealSettings? Pkcs11Seal { get; init; }
    public byte[]? DevMasterKey { get; init; }
    public string? AuditPath { get; init; }
    public string? RootTokenFile { get; init; }
    public string? PoliciesDir { get; init; }
    public IReadOnlyList<BootstrapToken> Tokens { get; init; } = [];
    public TimeSpan AutoRotateCheckInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How many request bodies above 1 MiB are read at once (the rest wait): bounds the memory big bodies take.</summary>
    public int MaxConcurrentLargeBodies { get; init; } = DefaultMaxConcurrentLargeBodies;

    public const int DefaultMaxConcurrentLargeBodies = 4;

    /// <summary>Vault-style flags this process understands, and the arguments left for ASP.NET Core.</summary>
    public sealed record CommandLine(bool Dev, string? DevRootTokenId, string? DevListenAddress, string? ConfigFile, string[] Rest)
    {
        public static CommandLine Parse(string[] args)
        {
            ArgumentNullException.ThrowIfNull(args);
            bool dev = false;
            string? root = null, listen = null, config = null;
            var rest = new List<string>();
            foreach (var arg in args)
            {
                var a = arg.StartsWith("--", StringComparison.Ordinal) ? arg[1..] : arg;
                if (a == "-dev")
                {
                    dev = true;
                }
                else if (a.StartsWith("-dev-root-token-id=", StringComparison.Ordinal))
                {
                    root = a["-dev-root-token-id=".Length..];
                }
                else if (a.StartsWith("-dev-listen-address=", StringComparison.Ordinal))
                {
                    listen = a["-dev-listen-address=".Length..];
                }
                else if (a.StartsWith("-config=", StringComparison.Ordinal))
                {
                    config = a["-config=".Length..];
                }
                else
                {
                    rest.Add(arg);
                }
            }

            return new CommandLine(dev, root, listen, config, [.. rest]);
        }
    }

    /// <summary>Command line first, then IConfiguration (<c>Kms:Dev</c>, <c>Kms:DevRootTokenId</c>, <c>Kms:DevListenAddress</c>, <c>Kms:ConfigFile</c>).</summary>
    public static KmsSettings Resolve(CommandLine commandLine, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        ArgumentNullException.ThrowIfNull(configuration);
        var configFile = commandLine.ConfigFile ?? configuration["Kms:ConfigFile"];
        var dev = commandLine.Dev || (configFile is null && configuration.GetValue<bool>("Kms:Dev"));
        if (dev)
        {
            var dir = Path.Combine(Path.GetTempPath(), "pii-kms-dev-" + Guid.NewGuid().ToString("N"));
            Storage.PrivateFiles.CreateDirectory(dir);
            return new KmsSettings
            {
                Dev = true,
                DevRootTokenId = commandLine.DevRootTokenId ?? configuration["Kms:DevRootTokenId"],
                ListenAddress = commandLine.DevListenAddress ?? configuration["Kms:DevListenAddress"] ?? "127.0.0.1:8200",
                StoragePath = Path.Combine(dir, "kms.db"),
                DevMasterKey = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32),
            };
        }

        if (configFile is not null)
        {
            return FromFile(configFile);
        }

        if (configuration["Kms:StoragePath"] is { Length: > 0 } storagePath)
        {
            return new KmsSettings
            {
                ListenAddress = configuration["Kms:ListenAddress"] ?? "127.0.0.1:8200",
                StoragePath = storagePath,
                MasterKeyFile = configuration["Kms:MasterKeyFile"],
                MasterKeyEnv = configuration["Kms:MasterKeyEnv"],
                AuditPath = configuration["Kms:AuditPath"],
                RootTokenFile = configuration["Kms:RootTokenFile"],
                PoliciesDir = configuration["Kms:PoliciesDir"],
                MaxConcurrentLargeBodies = configuration.GetValue("Kms:MaxConcurrentLargeBodies", DefaultMaxConcurrentLargeBodies) is > 0 and var m
                    ? m : DefaultMaxConcurrentLargeBodies,
            };
        }

        throw new InvalidOperationException("Start the key service with -dev or -config=PATH (or set Kms:ConfigFile or Kms:StoragePath).");
    }

    public static KmsSettings FromFile(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var root = doc.RootElement;
        var tokens = new List<BootstrapToken>();
        if (root.TryGetProperty("tokens", out var tokenArray))
        {
            foreach (var t in tokenArray.EnumerateArray())
            {
                tokens.Add(new BootstrapToken(
                    t.GetProperty("file").GetString() ?? throw new InvalidDataException("tokens[].file must be a string"),
                    [.. t.GetProperty("policies").EnumerateArray().Select(p => p.GetString() ?? "")]));
            }
        }

        var storagePath = Get(root, "storage", "sqlite", "path") ?? throw new InvalidDataException("config: storage.sqlite.path is required");
        var pkcs11Seal = ReadPkcs11Seal(root, storagePath);
        if (pkcs11Seal is not null && root.TryGetProperty("master_key", out _))
        {
            throw new InvalidDataException("config: give either master_key or seal.pkcs11, not both");
        }

        return new KmsSettings
        {
            Pkcs11Seal = pkcs11Seal,
            ListenAddress = Get(root, "listener", "tcp", "address") ?? "127.0.0.1:8200",
            StoragePath = storagePath,
            MasterKeyFile = Get(root, "master_key", "file"),
            MasterKeyEnv = Get(root, "master_key", "env"),
            AuditPath = Get(root, "audit", "file", "path"),
            RootTokenFile = Get(root, "root_token_file"),
            PoliciesDir = Get(root, "policies", "dir"),
            Tokens = tokens,
            AutoRotateCheckInterval = root.TryGetProperty("auto_rotate_check_seconds", out var s) ? TimeSpan.FromSeconds(s.GetDouble()) : TimeSpan.FromSeconds(60),
            MaxConcurrentLargeBodies = root.TryGetProperty("max_concurrent_large_bodies", out var m) && m.GetInt32() > 0 ? m.GetInt32() : DefaultMaxConcurrentLargeBodies,
        };
    }

    private static Pkcs11SealSettings? ReadPkcs11Seal(JsonElement root, string storagePath)
    {
        if (!root.TryGetProperty("seal", out var seal))
        {
            return null;
        }

        if (seal.ValueKind != JsonValueKind.Object || !seal.TryGetProperty("pkcs11", out var pkcs11) || pkcs11.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException("config: seal supports pkcs11 only");
        }

        ulong? slot = null;
        if (Get(pkcs11, "slot") is { } slotText)
        {
            slot = ulong.TryParse(slotText, NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                ? id
                : throw new InvalidDataException("config: seal.pkcs11.slot must be a decimal slot id in a string");
        }

        var options = new Pkcs11Options
        {
            LibraryPath = Get(pkcs11, "lib") ?? throw new InvalidDataException("config: seal.pkcs11.lib is required"),
            SlotId = slot,
            TokenLabel = Get(pkcs11, "token_label"),
            PinFile = Get(pkcs11, "pin_file"),
            PinEnvironmentVariable = Get(pkcs11, "pin_env"),
            KeyLabel = Get(pkcs11, "key_label") ?? throw new InvalidDataException("config: seal.pkcs11.key_label is required"),
        };
        var generate = pkcs11.TryGetProperty("generate_key", out var g) && g.ValueKind == JsonValueKind.True;
        return new Pkcs11SealSettings(options, Get(pkcs11, "root_key_file") ?? storagePath + ".root-key.hsm", generate);
    }

    private static string? Get(JsonElement element, params string[] path)
    {
        foreach (var name in path)
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out element))
            {
                return null;
            }
        }

        return element.ValueKind == JsonValueKind.String ? element.GetString() : null;
    }
}
