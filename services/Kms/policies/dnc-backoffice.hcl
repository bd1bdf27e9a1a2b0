# DNC back office (agents, supervisors, admins): unwrap DEKs, rotate the KEK and rewrap stored DEKs, make the new DEK
# of a DEK rotation, derive the blind-index key for lookups. Never config, trim or delete.
path "transit/decrypt/dnc" {
  capabilities = ["update"]
}

path "transit/keys/dnc/rotate" {
  capabilities = ["update"]
}

path "transit/keys/dnc" {
  capabilities = ["read"]
}

path "transit/rewrap/dnc" {
  capabilities = ["update"]
}

path "transit/datakey/plaintext/dnc" {
  capabilities = ["update"]
}

path "transit/hmac/dnc/sha2-256" {
  capabilities = ["update"]
}

# The service's health check looks its own token up, so a revoked or expired token is reported as unhealthy (Vault's
# default policy allows this; the AppHost issues service tokens without the default policy).
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
