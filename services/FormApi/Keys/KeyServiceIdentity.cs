namespace Pii.FormApi.Keys;

/// <summary>This instance's key-service token (VAULT_TOKEN, injected by the AppHost; bound to dnc-intake or dnc-backoffice).</summary>
internal sealed class KeyServiceIdentity(string token)
{
    public const string DncKek = "dnc";
    public const string Purpose = "dnc";

    public string Token { get; } = token;
}
