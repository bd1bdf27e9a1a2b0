using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Pii.ServiceDefaults.Auth;
using Scalar.AspNetCore;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Every HTTP service's OpenAPI document (<c>/openapi/v1.json</c>) and its interactive reference (<c>/docs</c>, Scalar),
/// both in Development only, like the health endpoints. The document declares the <c>X-Api-Key</c> scheme on the
/// operations that need a key (endpoints marked with <see cref="RequiresApiKey{TBuilder}"/> or with authorization
/// metadata), and the problem-details answers every operation can give.
/// </summary>
public static class OpenApiDefaults
{
    public const string DocumentPath = "/openapi/v1.json";
    public const string ReferencePath = "/docs";
    public const string ApiKeySchemeName = "ApiKey";

    public static TBuilder AddDefaultOpenApi<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[ApiKeySchemeName] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey,
                    In = ParameterLocation.Header,
                    Name = ApiKeyRoles.HeaderName,
                    Description = "A role's API key; the service keeps only its SHA-256 hash (Auth:ApiKeyHashes:<role>).",
                };
                return Task.CompletedTask;
            });
            options.AddOperationTransformer(async (operation, context, cancellationToken) =>
            {
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                var problem = await context.GetOrCreateSchemaAsync(typeof(ProblemDetails), null, cancellationToken);
                operation.Responses ??= new OpenApiResponses();
                void Problem(string status, string description) =>
                    operation.Responses.TryAdd(status, new OpenApiResponse
                    {
                        Description = description,
                        Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = problem } },
                    });
                if (metadata.Any(m => m is ApiKeyRequiredMetadata or IAuthorizeData) && !metadata.Any(m => m is IAllowAnonymous))
                {
                    operation.Security ??= [];
                    operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeySchemeName, context.Document)] = [] });
                    Problem("401", "No valid X-Api-Key.");
                    Problem("403", "The key's role may not call this operation.");
                }
                Problem("503", "A dependency (database, key service, object storage) is unavailable; retry later.");
                Problem("default", "Any other error, as RFC 9457 problem details.");
            });
        });
        return builder;
    }

    public static WebApplication MapDefaultOpenApi(this WebApplication app)
    {
        if (app.Environment.IsDevelopment())
        {
            app.MapOpenApi(DocumentPath);
            app.MapScalarApiReference(ReferencePath, scalar => scalar
                .WithTitle(app.Environment.ApplicationName)
                .WithOpenApiRoutePattern(DocumentPath)
                .AddPreferredSecuritySchemes(ApiKeySchemeName));
        }
        return app;
    }

    /// <summary>Marks endpoints that need an <c>X-Api-Key</c> checked by an endpoint filter rather than by ASP.NET authorization.</summary>
    public static TBuilder RequiresApiKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(ApiKeyRequiredMetadata.Instance);
}

/// <summary>Endpoint metadata: the endpoint answers 401/403 without a valid key of the right role.</summary>
public sealed class ApiKeyRequiredMetadata
{
    public static readonly ApiKeyRequiredMetadata Instance = new();

    private ApiKeyRequiredMetadata()
    {
    }
}
