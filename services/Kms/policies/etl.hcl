# ETL worker: unwraps DNC DEKs, and computes the suppression list's blind indexes with the HMAC key of
# "suppression-index" (the key never leaves the key service). It also derives the intake's blind-index key through
# transit/hmac/dnc, only to recognise rows it had to quarantine (it can already read every row it loads).
# It cannot encrypt, make data keys or manage keys.
path "transit/decrypt/dnc" {
  capabilities = ["update"]
}

path "transit/hmac/suppression-index/sha2-256" {
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
