using System.Runtime.InteropServices;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace Pii.Crypto.Pkcs11;

/// <summary>
/// A logged-in read-write session on one token, with the few operations the KEK needs: find, generate and destroy an
/// AES key by label, and AES-GCM encrypt/decrypt inside the token. One session per instance, used under a lock
/// (a PKCS#11 session is not for concurrent use).
/// </summary>
internal sealed class Pkcs11Token : IDisposable
{
    private readonly ModuleLease _module;
    private readonly ISession _session;
    private readonly Lock _gate = new();

    private Pkcs11Token(ModuleLease module, ISession session, string description, ulong slotId)
    {
        _module = module;
        _session = session;
        Description = description;
        SlotId = slotId;
    }

    public string Description { get; }

    /// <summary>The slot the token was found in.</summary>
    public ulong SlotId { get; }

    /// <exception cref="HsmException">Library, token or PIN problems, each with its own <see cref="HsmFailure"/>.</exception>
    public static Pkcs11Token Open(Pkcs11Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        string pin = options.ReadPin();
        ModuleLease module = ModuleLease.Acquire(options.LibraryPath);
        ISession? session = null;
        try
        {
            ISlot slot = FindSlot(module.Library, options);
            session = slot.OpenSession(SessionType.ReadWrite);
            try
            {
                session.Login(CKU.CKU_USER, pin);
            }
            catch (Pkcs11Exception e) when (e.RV == CKR.CKR_USER_ALREADY_LOGGED_IN)
            {
                // Login state is per application and token: another session of this process logged in already.
            }
            catch (Pkcs11Exception e) when (e.RV is CKR.CKR_PIN_INCORRECT or CKR.CKR_PIN_INVALID or CKR.CKR_PIN_LEN_RANGE or CKR.CKR_PIN_LOCKED or CKR.CKR_PIN_EXPIRED)
            {
                throw new HsmException(HsmFailure.Pin, $"The PKCS#11 {options.TokenDescription} rejected the PIN ({e.RV}).", e);
            }
            return new Pkcs11Token(module, session, options.TokenDescription, slot.SlotId);
        }
        catch (Exception e) when (e is HsmException or Pkcs11Exception)
        {
            session?.Dispose();
            module.Dispose();
            if (e is Pkcs11Exception p)
            {
                throw new HsmException(HsmFailure.Operation, $"The PKCS#11 {options.TokenDescription} could not be opened ({p.RV}).", p);
            }
            throw;
        }
    }

    /// <summary>The AES secret key with this label; refuses a key that could leave the token.</summary>
    /// <exception cref="HsmException">No such key (<see cref="HsmFailure.KeyNotFound"/>), several, or an extractable one (<see cref="HsmFailure.KeyPolicy"/>).</exception>
    public IObjectHandle FindAesKey(string label)
    {
        lock (_gate)
        {
            List<IObjectHandle> found = Run(() => _session.FindAllObjects(KeyTemplate(label)), "search for the key");
            if (found.Count == 0)
            {
                throw new HsmException(HsmFailure.KeyNotFound, $"The PKCS#11 {Description} holds no AES key labelled '{label}'.");
            }
            if (found.Count > 1)
            {
                throw new HsmException(HsmFailure.KeyPolicy, $"The PKCS#11 {Description} holds {found.Count} AES keys labelled '{label}'; labels must be unique.");
            }
            List<IObjectAttribute> attributes = Run(() => _session.GetAttributeValue(found[0], [CKA.CKA_EXTRACTABLE, CKA.CKA_SENSITIVE]), "read the key's attributes");
            if (attributes[0].GetValueAsBool() || !attributes[1].GetValueAsBool())
            {
                throw new HsmException(HsmFailure.KeyPolicy, $"The AES key '{label}' on the PKCS#11 {Description} is extractable or not sensitive; refusing it.");
            }
            return found[0];
        }
    }

    /// <summary>Generates an AES-256 token key: sensitive, non-extractable, for encrypt and decrypt only.</summary>
    public IObjectHandle GenerateAesKey(string label) => GenerateAesKey(label, extractable: false);

    /// <summary>Generates an AES-256 token key; <paramref name="extractable"/> exists so tests can show such a key is refused.</summary>
    internal IObjectHandle GenerateAesKey(string label, bool extractable)
    {
        lock (_gate)
        {
            var factory = _session.Factories.ObjectAttributeFactory;
            List<IObjectAttribute> template =
            [
                factory.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
                factory.Create(CKA.CKA_KEY_TYPE, CKK.CKK_AES),
                factory.Create(CKA.CKA_VALUE_LEN, 32UL),
                factory.Create(CKA.CKA_LABEL, label),
                factory.Create(CKA.CKA_TOKEN, true),
                factory.Create(CKA.CKA_PRIVATE, true),
                factory.Create(CKA.CKA_SENSITIVE, !extractable),
                factory.Create(CKA.CKA_EXTRACTABLE, extractable),
                factory.Create(CKA.CKA_ENCRYPT, true),
                factory.Create(CKA.CKA_DECRYPT, true),
                factory.Create(CKA.CKA_WRAP, false),
                factory.Create(CKA.CKA_UNWRAP, false),
            ];
            using IMechanism mechanism = _session.Factories.MechanismFactory.Create(CKM.CKM_AES_KEY_GEN);
            return Run(() => _session.GenerateKey(mechanism, template), "generate the key");
        }
    }

    /// <summary>Destroys every AES key with this label (operator clean-up; tests use it to remove a key).</summary>
    internal void DestroyAesKeys(string label)
    {
        lock (_gate)
        {
            foreach (IObjectHandle handle in Run(() => _session.FindAllObjects(KeyTemplate(label)), "search for the key"))
            {
                Run(() => { _session.DestroyObject(handle); return 0; }, "destroy the key");
            }
        }
    }

    /// <summary>AES-GCM (CKM_AES_GCM, 128-bit tag) inside the token; returns ciphertext ‖ tag.</summary>
    public byte[] EncryptGcm(IObjectHandle key, byte[] iv, byte[] aad, byte[] plaintext)
    {
        lock (_gate)
        {
            using IMechanism mechanism = GcmMechanism(iv, aad);
            return Run(() => _session.Encrypt(mechanism, key, plaintext), "encrypt");
        }
    }

    /// <summary>Reverses <see cref="EncryptGcm"/>.</summary>
    /// <exception cref="TamperedException">The token reports that the tag does not verify.</exception>
    public byte[] DecryptGcm(IObjectHandle key, byte[] iv, byte[] aad, byte[] ciphertextAndTag)
    {
        lock (_gate)
        {
            using IMechanism mechanism = GcmMechanism(iv, aad);
            try
            {
                return _session.Decrypt(mechanism, key, ciphertextAndTag);
            }
            // The standard answer to a tag mismatch is CKR_ENCRYPTED_DATA_INVALID; SoftHSM2 2.6 answers CKR_GENERAL_ERROR
            // (its OpenSSL decrypt-final fails). With a valid key handle and mechanism, either means the input does not verify.
            catch (Pkcs11Exception e) when (e.RV is CKR.CKR_ENCRYPTED_DATA_INVALID or CKR.CKR_ENCRYPTED_DATA_LEN_RANGE or CKR.CKR_GENERAL_ERROR)
            {
                throw new TamperedException("The HSM-wrapped key does not verify under the token's key (altered, or wrapped by another key).", e);
            }
            catch (Pkcs11Exception e)
            {
                throw Failure(e, "decrypt");
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _session.Dispose();
            _module.Dispose();
        }
    }

    private IMechanism GcmMechanism(byte[] iv, byte[] aad)
    {
        var parameters = _session.Factories.MechanismParamsFactory.CreateCkGcmParams(iv, (ulong)iv.Length * 8, aad, 128);
        return _session.Factories.MechanismFactory.Create(CKM.CKM_AES_GCM, parameters);
    }

    private List<IObjectAttribute> KeyTemplate(string label)
    {
        var factory = _session.Factories.ObjectAttributeFactory;
        return
        [
            factory.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
            factory.Create(CKA.CKA_KEY_TYPE, CKK.CKK_AES),
            factory.Create(CKA.CKA_LABEL, label),
        ];
    }

    private T Run<T>(Func<T> operation, string what)
    {
        try
        {
            return operation();
        }
        catch (Pkcs11Exception e)
        {
            throw Failure(e, what);
        }
    }

    private HsmException Failure(Pkcs11Exception e, string what) => e.RV is CKR.CKR_OBJECT_HANDLE_INVALID or CKR.CKR_KEY_HANDLE_INVALID
        ? new HsmException(HsmFailure.KeyNotFound, $"The key is no longer on the PKCS#11 {Description} (could not {what}: {e.RV}).", e)
        : new HsmException(HsmFailure.Operation, $"The PKCS#11 {Description} could not {what} ({e.RV}).", e);

    private static ISlot FindSlot(IPkcs11Library library, Pkcs11Options options)
    {
        foreach (ISlot slot in library.GetSlotList(SlotsType.WithTokenPresent))
        {
            if (options.SlotId is { } id ? slot.SlotId == id : string.Equals(slot.GetTokenInfo().Label.Trim(), options.TokenLabel, StringComparison.Ordinal))
            {
                return slot;
            }
        }
        throw new HsmException(HsmFailure.TokenNotFound, $"No PKCS#11 {options.TokenDescription} is present (library {options.LibraryPath}).");
    }

    /// <summary>
    /// One loaded and initialised PKCS#11 module per library path, shared by every token session in the process and
    /// finalised when the last one closes: C_Initialize/C_Finalize are process-wide, so two independent loads of the
    /// same module would finalise each other.
    /// </summary>
    private sealed class ModuleLease : IDisposable
    {
        private static readonly Lock Gate = new();
        private static readonly Dictionary<string, (IPkcs11Library Library, int Users)> Modules = new(StringComparer.Ordinal);

        private readonly string _path;
        private bool _disposed;

        static ModuleLease()
        {
            // Pkcs11Interop 5.3 dlopen()s through a P/Invoke of "libdl", which glibc ≥ 2.34 systems (Debian 12) ship only
            // as libdl.so.2 (the unversioned name comes with libc6-dev). Point the name at the runtime library.
            if (OperatingSystem.IsLinux())
            {
                NativeLibrary.SetDllImportResolver(typeof(Pkcs11InteropFactories).Assembly, (name, _, _) =>
                    name == "libdl" && NativeLibrary.TryLoad("libdl.so.2", out IntPtr handle) ? handle : IntPtr.Zero);
            }
        }

        private ModuleLease(string path, IPkcs11Library library)
        {
            _path = path;
            Library = library;
        }

        public IPkcs11Library Library { get; }

        public static ModuleLease Acquire(string path)
        {
            lock (Gate)
            {
                if (Modules.TryGetValue(path, out var entry))
                {
                    Modules[path] = (entry.Library, entry.Users + 1);
                    return new ModuleLease(path, entry.Library);
                }
                if (!File.Exists(path))
                {
                    throw new HsmException(HsmFailure.Library, $"The PKCS#11 library {path} does not exist.");
                }
                IPkcs11Library library;
                try
                {
                    var factories = new Pkcs11InteropFactories();
                    library = factories.Pkcs11LibraryFactory.LoadPkcs11Library(factories, path, AppType.MultiThreaded);
                }
                catch (Exception e) when (e is Pkcs11Exception or UnmanagedException or DllNotFoundException or BadImageFormatException)
                {
                    throw new HsmException(HsmFailure.Library, $"The PKCS#11 library {path} could not be loaded or initialised.", e);
                }
                Modules[path] = (library, 1);
                return new ModuleLease(path, library);
            }
        }

        public void Dispose()
        {
            lock (Gate)
            {
                if (_disposed)
                {
                    return;
                }
                _disposed = true;
                var entry = Modules[_path];
                if (entry.Users == 1)
                {
                    Modules.Remove(_path);
                    entry.Library.Dispose();
                }
                else
                {
                    Modules[_path] = (entry.Library, entry.Users - 1);
                }
            }
        }
    }
}
