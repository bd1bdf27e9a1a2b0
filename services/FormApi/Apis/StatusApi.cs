using Microsoft.AspNetCore.Http.HttpResults;
using Pii.Services.Shared;

namespace Pii.FormApi.Apis;

/// <summary>What this FormApi instance is and whether it reaches the key service (a call that spans two services).</summary>
internal static class StatusApi
{
    public static RouteGroupBuilder MapStatusApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api/status").WithTags("Status");
        api.MapGet("/", GetStatusAsync)
            .WithName("GetStatus")
            .WithSummary("Instance identity and key service reachability")
            .WithDescription("Calls the key service's sys/health and reports its HTTP status.");
        return api;
    }

    public static async Task<Ok<StatusResponse>> GetStatusAsync(IHttpClientFactory clients, IConfiguration configuration, CancellationToken cancellationToken)
    {
        var instance = configuration["FormApi:Instance"] ?? "intake";
        try
        {
            using var response = await clients.CreateClient(DependencyChecks.KeyServiceClient).GetAsync("v1/sys/health", cancellationToken);
            return TypedResults.Ok(new StatusResponse(instance, new KeyServiceStatus(true, (int)response.StatusCode)));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or Polly.Timeout.TimeoutRejectedException)
        {
            return TypedResults.Ok(new StatusResponse(instance, new KeyServiceStatus(false, null)));
        }
    }
}

internal sealed record StatusResponse(string Instance, KeyServiceStatus KeyService);

internal sealed record KeyServiceStatus(bool Reachable, int? HttpStatus);
