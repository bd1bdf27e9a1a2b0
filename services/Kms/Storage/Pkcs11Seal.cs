using System.Security.Cryptography;
using System.Text;
using Pii.Crypto;
using Pii.Crypto.Keys;
using Pii.Crypto.Pkcs11;

namespace Pii.Kms.Storage;

/// <summary>The <c>"seal": {"pkcs11": {…}}</c> section of the config file (see <see cref="Hosting.KmsSettings"/>).</summary>
/// <param name="Options">Library, token, PIN source and key label.</param>
/// <param name="RootKeyFile">Where the HSM-wrapped root key is kept (useless without the token).</param>
/// <param name="GenerateKey">Create the token key on the very first start, when the store does not exist yet.</param>
public sealed record Pkcs11SealSettings(Pkcs11Options Options, string RootKeyFile, bool GenerateKey);

/// <summary>
/// The HSM seal, as Vault's pkcs11 seal: the store's 32-byte root key (what <see cref="MasterKeySealer"/> seals every
/// record with) is random, and kept only wrapped by an AES key inside the token (<see cref="Pkcs11Kek"/>, CKM_AES_GCM).
/// At start the token unwraps it; without the token, the PIN or the key, the service stays sealed and says why. There
/// is no fallback to a software key, and a new root key is only ever made for a store that does not exist yet.
/// </summary>
/// <remarks>
/// Root key file: one line, <c>pkcs11:v1:&lt;base64(iv ‖ ciphertext ‖ tag)&gt;</c> (the <see cref="Pkcs11Kek"/> text form,
/// KEK name <c>pii-kms-root</c> as AAD), written once, atomically, mode 0600.
/// </remarks>
public static partial class Pkcs11Seal
{
    private const string KekName = "pii-kms-root";

    /// <summary>The root key, or null (logged) when the HSM cannot give it.</summary>
    public static byte[]? Unseal(Pkcs11SealSettings seal, string storagePath, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(seal);
        ArgumentNullException.ThrowIfNull(logger);
        bool newStore = !File.Exists(storagePath);
        try
        {
            using var kek = Pkcs11Kek.Open(KekName, seal.Options, generateIfMissing: seal.GenerateKey && newStore);
            // Anything at the path counts as present: only a truly absent file may lead to a new root key.
            if (Path.Exists(seal.RootKeyFile))
            {
                string text = File.ReadAllText(seal.RootKeyFile).Trim();
                byte[] rootKey = kek.Unwrap(new WrappedDek(KekName, Pkcs11Kek.Version, text));
                if (rootKey.Length != 32)
                {
                    CryptographicOperations.ZeroMemory(rootKey);
                    LogRootKeyUnusable(logger, seal.RootKeyFile, "it does not hold a 32-byte key");
                    return null;
                }
                return rootKey;
            }
            if (!newStore)
            {
                LogRootKeyFileMissing(logger, seal.RootKeyFile);
                return null;
            }
            byte[] created = RandomNumberGenerator.GetBytes(32);
            WriteOnce(seal.RootKeyFile, kek.Wrap(created).Ciphertext);
            LogRootKeyCreated(logger, seal.RootKeyFile, seal.Options.KeyLabel);
            return created;
        }
        catch (HsmException e)
        {
            LogHsmFailure(logger, e.Failure, e.Message);
            return null;
        }
        catch (CryptoException e)
        {
            LogRootKeyUnusable(logger, seal.RootKeyFile, e.Message);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogRootKeyUnusable(logger, seal.RootKeyFile, "the file cannot be read or written: " + e.GetType().Name);
            return null;
        }
    }

    /// <summary>Temp file in the same directory, flushed to disk, then renamed: the file is whole or absent.</summary>
    private static void WriteOnce(string path, string text)
    {
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp-" + Guid.NewGuid().ToString("N");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temp, options))
        {
            stream.Write(Encoding.ASCII.GetBytes(text + "\n"));
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, full, overwrite: false);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "HSM seal: {Failure}: {Reason} The key service starts sealed; it never falls back to a software key.")]
    private static partial void LogHsmFailure(ILogger logger, HsmFailure failure, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "HSM seal: the wrapped root key file {Path} is missing for an existing store; refusing to make a new root key. Restore the file from backup. The key service starts sealed.")]
    private static partial void LogRootKeyFileMissing(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "HSM seal: the wrapped root key in {Path} cannot be used ({Reason}). The key service starts sealed.")]
    private static partial void LogRootKeyUnusable(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "HSM seal: new store: made a root key, wrapped by the token key '{KeyLabel}', in {Path}. Back this file up with the database.")]
    private static partial void LogRootKeyCreated(ILogger logger, string path, string keyLabel);
}
