# Backup service: its own KEK "backups" only — fresh DEKs for dumps, unwrap for restores and drills.
path "transit/datakey/plaintext/backups" {
  capabilities = ["update"]
}

path "transit/datakey/wrapped/backups" {
  capabilities = ["update"]
}

path "transit/encrypt/backups" {
  capabilities = ["update"]
}

path "transit/decrypt/backups" {
  capabilities = ["update"]
}

path "transit/rewrap/backups" {
  capabilities = ["update"]
}

# The service's health check looks its own token up, so a revoked or expired token is reported as unhealthy (Vault's
# default policy allows this; the AppHost issues service tokens without the default policy).
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

# The key service's own store, for its backup (wrapped for the offline recovery key only); nothing else under sys/.
path "sys/storage/raft/snapshot" {
  capabilities = ["read", "sudo"]
}
