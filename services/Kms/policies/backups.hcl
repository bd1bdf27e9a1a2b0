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

# The key service's own store, for its backup (wrapped for the offline recovery key only); nothing else under sys/.
path "sys/storage/raft/snapshot" {
  capabilities = ["read", "sudo"]
}
