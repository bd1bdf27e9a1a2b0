using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Pii.EntityFrameworkCore.Internal;

/// <summary>
/// Rewrites queries before EF Core translates them (once per query shape; the result is cached):
/// <list type="bullet">
/// <item><c>e.P == value</c> / <c>!=</c> on a property with a blind index becomes a comparison of the index column with
/// the value, which EF Core converts to its HMAC as a parameter: the database uses the index, nothing is decrypted;</item>
/// <item><c>e.P == null</c> / <c>!= null</c> becomes a NULL test on the ciphertext column;</item>
/// <item>any other use inside a filter, ordering, grouping or join (LIKE, Contains, StartsWith, &lt;, OrderBy, an
/// un-indexed property…) fails here with <see cref="EncryptedPropertyQueryException"/>, never with wrong results;</item>
/// <item>in a Select, the property is read from the materialized entity (decrypted), so it is left alone.</item>
/// </list>
/// </summary>
internal sealed class PiiQueryInterceptor(PiiEncryption encryption) : IQueryExpressionInterceptor
{
    public Expression QueryCompilationStarting(Expression queryExpression, QueryExpressionEventData eventData)
    {
        ArgumentNullException.ThrowIfNull(eventData);
        PiiModelMap map = encryption.MapFor(eventData.Context!.Model);
        return map.IsEmpty ? queryExpression : new Rewriter(map).Visit(queryExpression);
    }

    private sealed class Rewriter(PiiModelMap map) : ExpressionVisitor
    {
        private static readonly System.Reflection.MethodInfo PropertyMethod = typeof(EF).GetMethod(nameof(EF.Property))!;

        protected override Expression VisitMethodCall(MethodCallExpression node)
        {
            if (node.Method.DeclaringType == typeof(Queryable) && node.Method.Name is nameof(Queryable.Select) or nameof(Queryable.SelectMany)
                && node.Arguments.Count == 2)
            {
                // A projection reads members from the materialized (decrypted) entity; only the source is rewritten.
                return node.Update(node.Object, [Visit(node.Arguments[0]), node.Arguments[1]]);
            }
            return base.VisitMethodCall(node);
        }

        protected override Expression VisitBinary(BinaryExpression node)
        {
            if (node.NodeType is ExpressionType.Equal or ExpressionType.NotEqual)
            {
                if (Encrypted(node.Left) is { } left)
                {
                    return Compare(node, left.Member, left.Field, node.Right);
                }
                if (Encrypted(node.Right) is { } right)
                {
                    return Compare(node, right.Member, right.Field, node.Left);
                }
            }
            return base.VisitBinary(node);
        }

        protected override Expression VisitMember(MemberExpression node)
        {
            if (map.FindMember(node.Member) is { } field)
            {
                throw new EncryptedPropertyQueryException(
                    $"{field.DisplayName} is encrypted: a query can only compare it with == or != (with a blind index) or test it for null. "
                    + "Ordering, LIKE / Contains / StartsWith, ranges and other functions of its value cannot run in the database.");
            }
            return base.VisitMember(node);
        }

        private BinaryExpression Compare(BinaryExpression node, MemberExpression member, FieldPlan field, Expression other)
        {
            if (Encrypted(other) is not null)
            {
                throw new EncryptedPropertyQueryException($"{field.DisplayName} is encrypted: it cannot be compared with another encrypted property.");
            }
            Expression instance = Visit(member.Expression!);
            Expression value = Visit(other);
            bool equal = node.NodeType == ExpressionType.Equal;
            if (StripConvert(value) is ConstantExpression { Value: null })
            {
                var ciphertext = Expression.Call(PropertyMethod.MakeGenericMethod(typeof(byte[])), instance, Expression.Constant(field.Ciphertext.Name));
                var none = Expression.Constant(null, typeof(byte[]));
                return equal ? Expression.Equal(ciphertext, none) : Expression.NotEqual(ciphertext, none);
            }
            if (field.Index is null)
            {
                throw new EncryptedPropertyQueryException(
                    $"{field.DisplayName} is encrypted without a blind index, so it cannot be searched: declare HasBlindIndex(...) or [BlindIndexed(...)].");
            }
            var index = Expression.Call(PropertyMethod.MakeGenericMethod(typeof(string)), instance, Expression.Constant(field.Index.Name));
            return equal ? Expression.Equal(index, value) : Expression.NotEqual(index, value);
        }

        private (MemberExpression Member, FieldPlan Field)? Encrypted(Expression expression) =>
            StripConvert(expression) is MemberExpression { Expression: not null } member && map.FindMember(member.Member) is { } field
                ? (member, field)
                : null;

        private static Expression StripConvert(Expression expression)
        {
            while (expression is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } convert)
            {
                expression = convert.Operand;
            }
            return expression;
        }
    }
}
