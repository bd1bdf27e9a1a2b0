# Public DNC intake form: takes fresh DEKs (plaintext + wrapped) and nothing else.
# It can never unwrap a stored DEK, so it cannot read any stored PII.
path "transit/datakey/plaintext/dnc" {
  capabilities = ["update"]
}
