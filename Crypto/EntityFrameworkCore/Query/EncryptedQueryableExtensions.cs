using System.Linq.Expressions;

namespace Pii.EntityFrameworkCore;

/// <summary>Explicit equality search on an encrypted property.</summary>
public static class EncryptedQueryableExtensions
{
    /// <summary>
    /// Filters to rows whose encrypted <paramref name="property"/> equals <paramref name="value"/>, through its blind index
    /// (or the exact index of a deterministic property): the same query as <c>Where(e =&gt; e.P == value)</c>, spelled so the
    /// reader sees it is an index lookup. A null value finds rows where the property is NULL.
    /// </summary>
    /// <exception cref="EncryptedPropertyQueryException">At execution, when the property has no index.</exception>
    public static IQueryable<TEntity> WhereEncryptedEquals<TEntity>(this IQueryable<TEntity> source, Expression<Func<TEntity, string?>> property, string? value)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(property);
        if (property.Body is not MemberExpression member || member.Expression != property.Parameters[0])
        {
            throw new ArgumentException("Name a property of the entity, e.g. p => p.Email.", nameof(property));
        }
        // A closure, not a constant: EF Core turns it into a parameter, so every value shares one cached query.
        Expression<Func<string?>> boxed = () => value;
        var predicate = Expression.Lambda<Func<TEntity, bool>>(Expression.Equal(member, boxed.Body), property.Parameters);
        return source.Where(predicate);
    }
}
