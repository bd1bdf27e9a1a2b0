using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Pii.EntityFrameworkCore.Sample;

public sealed record NewCustomer(string Name, string Email, string? CardNumber, DateOnly? BirthDate);

public sealed record CustomerView(Guid Id, string Name, string Email, string? CardLastFour, DateOnly? BirthDate);

/// <summary>Plain EF Core code: nothing here knows the properties are encrypted.</summary>
public static class CustomersApi
{
    public static RouteGroupBuilder MapCustomersApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/customers").WithTags("Customers");
        group.MapPost("/", CreateAsync).WithSummary("Stores a customer (encrypted at rest).");
        group.MapGet("/{id:guid}", GetAsync).WithSummary("Reads a customer back (decrypted).");
        group.MapGet("/", FindByEmailAsync).WithSummary("Finds a customer by email through the blind index.");
        return group;
    }

    public static async Task<Results<Created<CustomerView>, ValidationProblem, Conflict>> CreateAsync(NewCustomer request, ShopContext db, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Name) || string.IsNullOrWhiteSpace(request.Email) || !request.Email.Contains('@', StringComparison.Ordinal))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["email"] = ["A name and an email address are required."] });
        }
        var customer = new Customer { Name = request.Name.Trim(), Email = request.Email.Trim(), CardNumber = request.CardNumber, BirthDate = request.BirthDate };
        db.Customers.Add(customer);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException e) when (e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // The blind index on Email is unique: the same address (after normalization) is already stored.
            return TypedResults.Conflict();
        }
        return TypedResults.Created($"/customers/{customer.Id}", View(customer));
    }

    public static async Task<Results<Ok<CustomerView>, NotFound>> GetAsync(Guid id, ShopContext db, CancellationToken cancellationToken) =>
        await db.Customers.AsNoTracking().SingleOrDefaultAsync(c => c.Id == id, cancellationToken) is { } customer
            ? TypedResults.Ok(View(customer))
            : TypedResults.NotFound();

    public static async Task<Results<Ok<CustomerView>, NotFound>> FindByEmailAsync(string email, ShopContext db, CancellationToken cancellationToken) =>
        await db.Customers.AsNoTracking().SingleOrDefaultAsync(c => c.Email == email, cancellationToken) is { } customer
            ? TypedResults.Ok(View(customer))
            : TypedResults.NotFound();

    private static CustomerView View(Customer customer) =>
        new(customer.Id, customer.Name, customer.Email, customer.CardNumber is { Length: >= 4 } card ? card[^4..] : null, customer.BirthDate);
}
