using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata.Conventions;
using Microsoft.EntityFrameworkCore.Metadata.Conventions.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Pii.EntityFrameworkCore.Internal;

namespace Pii.EntityFrameworkCore;

/// <summary>Turns on encrypted properties for a context.</summary>
public static class PiiDbContextOptionsExtensions
{
    /// <summary>
    /// Applies the model declarations (<c>IsEncrypted</c>, <c>HasBlindIndex</c>, the attributes), adds the key tables to
    /// the model, and installs the interceptors that encrypt on save, decrypt on materialization and rewrite queries.
    /// </summary>
    public static DbContextOptionsBuilder UsePiiEncryption(this DbContextOptionsBuilder builder, PiiEncryption encryption)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(encryption);
        ((IDbContextOptionsBuilderInfrastructure)builder).AddOrUpdateExtension(new PiiOptionsExtension(encryption));
        return builder.AddInterceptors(encryption.Interceptors);
    }

    /// <inheritdoc cref="UsePiiEncryption(DbContextOptionsBuilder, PiiEncryption)"/>
    public static DbContextOptionsBuilder<TContext> UsePiiEncryption<TContext>(this DbContextOptionsBuilder<TContext> builder, PiiEncryption encryption)
        where TContext : DbContext =>
        (DbContextOptionsBuilder<TContext>)UsePiiEncryption((DbContextOptionsBuilder)builder, encryption);
}

/// <summary>
/// Registers the model convention. Each <see cref="PiiEncryption"/> gets its own internal service provider (and so its
/// own cached model), because the blind-index converters in the model belong to one instance's keys.
/// </summary>
internal sealed class PiiOptionsExtension(PiiEncryption encryption) : IDbContextOptionsExtension
{
    private DbContextOptionsExtensionInfo? _info;

    public PiiEncryption Encryption { get; } = encryption;

    public DbContextOptionsExtensionInfo Info => _info ??= new PiiExtensionInfo(this);

    public void ApplyServices(IServiceCollection services) =>
        services.AddScoped<IConventionSetPlugin>(_ => new PiiConventionSetPlugin(Encryption));

    public void Validate(IDbContextOptions options)
    {
    }

    private sealed class PiiExtensionInfo(PiiOptionsExtension extension) : DbContextOptionsExtensionInfo(extension)
    {
        private new PiiOptionsExtension Extension => (PiiOptionsExtension)base.Extension;

        public override bool IsDatabaseProvider => false;

        public override string LogFragment => "using PII encryption ";

        public override int GetServiceProviderHashCode() => RuntimeHelpers.GetHashCode(Extension.Encryption);

        public override bool ShouldUseSameServiceProvider(DbContextOptionsExtensionInfo other) =>
            other is PiiExtensionInfo info && ReferenceEquals(info.Extension.Encryption, Extension.Encryption);

        public override void PopulateDebugInfo(IDictionary<string, string> debugInfo) =>
            debugInfo["Pii:Encryption"] = RuntimeHelpers.GetHashCode(Extension.Encryption).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}

internal sealed class PiiConventionSetPlugin(PiiEncryption encryption) : IConventionSetPlugin
{
    public ConventionSet ModifyConventions(ConventionSet conventionSet)
    {
        var convention = new PiiModelConvention(encryption);
        conventionSet.ModelInitializedConventions.Add(convention);
        conventionSet.ModelFinalizingConventions.Add(convention);
        return conventionSet;
    }
}
