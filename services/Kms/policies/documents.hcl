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
