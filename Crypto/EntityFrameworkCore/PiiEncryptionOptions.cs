using Microsoft.EntityFrameworkCore;
using Pii.Crypto.Keys;

namespace Pii.EntityFrameworkCore;

/// <summary>Where <see cref="PiiEncryption"/> gets its keys.</summary>
public sealed class PiiEncryptionOptions
{
    /// <summary>
    /// Wraps the DEKs and the blind-index root key: the key service's transit KEK (<c>Pii.Crypto.Transit.TransitKek</c>)
    /// in production, <see cref="LocalKek"/> for development.
    /// </summary>
    public required IKeyEncryptionKey KeyEncryptionKey { get; init; }

    /// <summary>
    /// Configures the provider of the key store (the <c>pii_data_keys</c> and <c>pii_service_keys</c> tables), normally
    /// the same database as the application's, e.g. <c>o =&gt; o.UseNpgsql(connectionString)</c>. The tables are part of
    /// every model that uses the encryption, so migrations or <c>EnsureCreated</c> make them.
    /// </summary>
    public required Action<DbContextOptionsBuilder> KeyStore { get; init; }

    /// <summary>
    /// The tier-3 application key (32 bytes): the inner layer of tier-3 properties, never sent to the key service.
    /// Required when a model declares tier 3. It is copied; the caller still owns (and should zero) this array.
    /// </summary>
    public ReadOnlyMemory<byte>? ApplicationKey { get; init; }

    /// <summary>DEK replacement and cache policy (defaults: 30 days, 2^24 uses, 10-minute cache).</summary>
    public DekPolicy? DekPolicy { get; init; }

    public TimeProvider? TimeProvider { get; init; }
}
