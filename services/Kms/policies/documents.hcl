# Document service: its own KEK "documents" only — fresh DEKs for uploads, unwrap for downloads, rewrap after rotation.
path "transit/datakey/plaintext/documents" {
  capabilities = ["update"]
}

path "transit/datakey/wrapped/documents" {
  capabilities = ["update"]
}

path "transit/encrypt/documents" {
  capabilities = ["update"]
}

path "transit/decrypt/documents" {
  capabilities = ["update"]
}

path "transit/rewrap/documents" {
  capabilities = ["update"]
}

# The service's health check looks its own token up, so a revoked or expired token is reported as unhealthy (Vault's
# default policy allows this; the AppHost issues service tokens without the default policy).
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
