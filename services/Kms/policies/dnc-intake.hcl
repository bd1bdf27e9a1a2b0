# Public DNC intake form: takes fresh DEKs (plaintext + wrapped) and nothing else that touches stored data.
# It can never unwrap a stored DEK, so it cannot read any stored PII.
path "transit/datakey/plaintext/dnc" {
  capabilities = ["update"]
}

# Derives the blind-index root key: HMAC under the dnc key's per-version HMAC key, which is independent of its
# AES key, so it reveals nothing about wrapped DEKs or field ciphertexts.
path "transit/hmac/dnc/sha2-256" {
  capabilities = ["update"]
}

# The service's health check looks its own token up, so a revoked or expired token is reported as unhealthy (Vault's
# default policy allows this; the AppHost issues service tokens without the default policy).
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
