# ETL worker: unwraps DNC DEKs only. It cannot encrypt, make data keys or manage the key.
path "transit/decrypt/dnc" {
  capabilities = ["update"]
}
