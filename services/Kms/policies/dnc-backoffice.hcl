# DNC back office (agents, supervisors, admins): unwrap DEKs, rotate the KEK and rewrap stored DEKs.
# Never datakey, config, trim or delete.
path "transit/decrypt/dnc" {
  capabilities = ["update"]
}

path "transit/keys/dnc/rotate" {
  capabilities = ["update"]
}

path "transit/rewrap/dnc" {
  capabilities = ["update"]
}
