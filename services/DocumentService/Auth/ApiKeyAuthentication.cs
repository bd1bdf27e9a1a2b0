using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Pii.ServiceDefaults.Auth;

namespace Pii.DocumentService.Auth;

/// <summary>The roles of this service; each has one API key whose SHA-256 the AppHost injects as <c>Auth__ApiKeyHashes__&lt;role&gt;</c>.</summary>
internal static class Roles
{
    public const string Clinician = "clinician";
    public const string RecordsAdmin = "records-admin";
    public const string Auditor = "auditor";

    public static readonly string[] All = [Clinician, RecordsAdmin, Auditor];

    public static string Of(ClaimsPrincipal user) => user.FindFirstValue(ClaimTypes.Role) ?? "none";
}

/// <summary>
/// <c>X-Api-Key</c> authentication through the shared <see cref="ApiKeyRoles"/> (SHA-256 compared in constant time
/// against every role's hash). No key → anonymous (401 where a role is required); a wrong key → failure (401).
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyRoles roles)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = ApiKeyRoles.HeaderName;

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(HeaderName, out var values) || values.Count == 0 || string.IsNullOrEmpty(values[0]))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        var key = values[0]!;
        if (values.Count != 1)
        {
            return Task.FromResult(AuthenticateResult.Fail("Invalid API key."));
        }
        var matched = roles.Match(key)?.Role;
        if (matched is null)
        {
            return Task.FromResult(AuthenticateResult.Fail("Invalid API key."));
        }
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, matched), new Claim(ClaimTypes.Role, matched)], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}
