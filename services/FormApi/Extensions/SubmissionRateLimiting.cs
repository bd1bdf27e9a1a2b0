using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.RateLimiting;
using Pii.FormApi.Apis;

namespace Pii.FormApi.Extensions;

/// <summary>
/// Limits on the public submission routes, three deep: a token bucket per client address (the policy
/// <see cref="DncApi.RateLimitPolicy"/>), and in front of it one token bucket and one concurrency limit for all clients
/// together, so many source addresses (or one proxy) cannot multiply the capacity. The client address is the
/// connection's, or the X-Forwarded-For entry added by a proxy listed in <c>FormApi:TrustedProxies</c> /
/// <c>FormApi:TrustedNetworks</c>; nobody else's forwarded header is believed (ASP.NET Core would otherwise trust loopback).
/// </summary>
internal static class SubmissionRateLimiting
{
    public static IServiceCollection AddSubmissionRateLimiting(this IServiceCollection services, FormApiOptions options)
    {
        services.Configure<ForwardedHeadersOptions>(forwarded =>
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor;
            forwarded.ForwardLimit = 1;
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in options.TrustedProxies) forwarded.KnownProxies.Add(IPAddress.Parse(proxy));
            foreach (var network in options.TrustedNetworks) forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
        });
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(DncApi.RateLimitPolicy, context => RateLimitPartition.GetTokenBucketLimiter(
                context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = options.RateLimitBurst,
                    TokensPerPeriod = options.RateLimitPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                }));
            // The global limiter runs for every request; only the submission routes (those with the policy) share its buckets.
            limiter.GlobalLimiter = PartitionedRateLimiter.CreateChained(
                PartitionedRateLimiter.Create<HttpContext, string>(context => IsSubmission(context)
                    ? RateLimitPartition.GetTokenBucketLimiter("all", _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = options.GlobalRateLimitBurst,
                        TokensPerPeriod = options.GlobalRateLimitPerSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    })
                    : RateLimitPartition.GetNoLimiter("other")),
                PartitionedRateLimiter.Create<HttpContext, string>(context => IsSubmission(context)
                    ? RateLimitPartition.GetConcurrencyLimiter("all", _ => new ConcurrencyLimiterOptions { PermitLimit = options.MaxConcurrentSubmissions, QueueLimit = 0 })
                    : RateLimitPartition.GetNoLimiter("other")));
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                context.HttpContext.Response.Headers.RetryAfter = "1";
                await context.HttpContext.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context.HttpContext,
                    ProblemDetails = { Status = StatusCodes.Status429TooManyRequests, Title = "Too many submissions; retry after a second." },
                });
            };
        });
        return services;
    }

    /// <summary>Forwarded headers (only when a proxy is configured: with none, ASP.NET Core would trust every sender), then the limiter.</summary>
    public static WebApplication UseSubmissionRateLimiting(this WebApplication app, FormApiOptions options)
    {
        if (options.TrustedProxies.Length > 0 || options.TrustedNetworks.Length > 0)
        {
            app.UseForwardedHeaders();
        }
        app.UseRateLimiter();
        return app;
    }

    private static bool IsSubmission(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName == DncApi.RateLimitPolicy;
}
