using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Pii.ServiceDefaults.Auth;

namespace Pii.BackupService.Auth;

/// <summary>The one role of this service: people operating backups (key from the AppHost as <c>Auth__ApiKeyHashes__operator</c>).</summary>
internal static class Roles
{
    public const string Operator = "operator";

    public static string Of(ClaimsPrincipal user) => user.FindFirstValue(ClaimTypes.Role) ?? "none";
}

/// <summary><c>X-Api-Key</c> through the shared <see cref="ApiKeyRoles"/> (constant-time hash comparison); no key → 401.</summary>
internal sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyRoles roles)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(ApiKeyRoles.HeaderName, out var values) || values.Count == 0 || string.IsNullOrEmpty(values[0]))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        if (values.Count != 1 || roles.Match(values[0])?.Role is not { } role)
        {
            return Task.FromResult(AuthenticateResult.Fail("Invalid API key."));
        }
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, role), new Claim(ClaimTypes.Role, role)], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}
