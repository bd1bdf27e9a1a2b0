# Operators (people, never a service): every transit operation, policies, tokens, and audit-log look-ups.
path "transit/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

path "sys/policies/acl" {
  capabilities = ["list"]
}

path "sys/policies/acl/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

path "auth/token/*" {
  capabilities = ["create", "read", "update", "delete", "list", "sudo"]
}

path "sys/audit-hash/*" {
  capabilities = ["update"]
}

# Consistent online snapshots of the key service's own store (Vault also requires sudo here).
path "sys/storage/raft/snapshot" {
  capabilities = ["read", "sudo"]
}
