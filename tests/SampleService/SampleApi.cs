using System.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Pii.ServiceDefaults.Redaction;

namespace Pii.SampleService;

/// <summary>Endpoints that exercise every telemetry path: a cross-service call, a custom span, PII input, an error.</summary>
internal static partial class SampleApi
{
    private static readonly ActivitySource Source = new(typeof(SampleApi).Assembly.GetName().Name!);

    public static void MapSampleApi(this WebApplication app)
    {
        app.MapGet("/hello", Hello);
        app.MapGet("/chain", ChainAsync);
        app.MapPost("/patients", RegisterPatient);
        app.MapGet("/boom", Boom);
        app.MapGet("/items/{id:guid}", (Guid id) => TypedResults.Ok(id));
        app.MapGet("/parse", ParseInput);
        app.MapGet("/span-exception", SpanException);
    }

    private static Ok<string> Hello(IHostEnvironment environment, ILogger<PeerClient> logger)
    {
        LogHello(logger, environment.ApplicationName);
        return TypedResults.Ok("hello");
    }

    private static async Task<Ok<string>> ChainAsync(PeerClient peer, CancellationToken cancellationToken)
    {
        var answer = await peer.HelloAsync(cancellationToken);
        return TypedResults.Ok($"peer said {answer}");
    }

    /// <summary>Takes PII in the body and the query string, and tags it the way services must: as Sensitive.</summary>
    private static Created<PatientCreated> RegisterPatient(PatientRequest patient, string? email, ILogger<PeerClient> logger)
    {
        using var activity = Source.StartActivity("register-patient");
        activity?.SetTag("patient.name", Sensitive.Of(patient.Name));
        activity?.SetTag("patient.email", Sensitive.Of(email));
        LogRegistered(logger, Sensitive.Of(patient.Name), Sensitive.Of(patient.Ssn));
        var id = Guid.NewGuid();
        return TypedResults.Created($"/patients/{id}", new PatientCreated(id));
    }

    private static Ok Boom() => throw new InvalidOperationException("The sample endpoint failed on purpose.");

    /// <summary>Fails with the request's own input in the exception message, as parsers and drivers do.</summary>
    private static Ok ParseInput(string input) => throw new FormatException($"Invalid header line: '{input}'");

    /// <summary>Records an exception quoting input on a span, as a library calling Activity.AddException would.</summary>
    private static Ok SpanException(string input)
    {
        using var activity = Source.StartActivity("parse-input");
        activity?.AddException(new FormatException($"Could not read '{input}'"));
        return TypedResults.Ok();
    }

    [LoggerMessage(LogLevel.Information, "Said hello as {ServiceName}")]
    private static partial void LogHello(ILogger logger, string serviceName);

    [LoggerMessage(LogLevel.Information, "Registered patient {PatientName} with SSN {Ssn}")]
    private static partial void LogRegistered(ILogger logger, Sensitive<string> patientName, Sensitive<string> ssn);
}

internal sealed record PatientRequest(string Name, string Ssn);

internal sealed record PatientCreated(Guid Id);

internal sealed class PeerClient(HttpClient http)
{
    public async Task<string> HelloAsync(CancellationToken cancellationToken) =>
        await http.GetFromJsonAsync<string>("/hello", cancellationToken) ?? "";

    public async Task<bool> AliveAsync(CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync("/alive", cancellationToken);
        return response.IsSuccessStatusCode;
    }
}

internal sealed class PeerHealthCheck(PeerClient peer) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        await peer.AliveAsync(cancellationToken) ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("peer not alive");
}
