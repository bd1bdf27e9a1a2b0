CREATE TABLE encryption_keys (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  purpose VARCHAR(64) NOT NULL,
  kek_name VARCHAR(128) NOT NULL, kek_version INT NOT NULL,
  wrapped_dek VARCHAR(1024) NOT NULL,
  created_at DATETIME(6) NOT NULL, retired_at DATETIME(6) NULL, destroyed_at DATETIME(6) NULL);
CREATE TABLE dnc_preferences (
  id BINARY(16) NOT NULL PRIMARY KEY,
  first_name VARBINARY(1024) NOT NULL, middle_name VARBINARY(1024) NULL, last_name VARBINARY(1024) NOT NULL,
  phone VARBINARY(256) NOT NULL, email VARBINARY(1024) NOT NULL,
  phone_bidx BINARY(16) NOT NULL, email_bidx BINARY(16) NOT NULL,
  phone_dnc BOOLEAN NOT NULL, email_dnc BOOLEAN NOT NULL,
  dek_id INT NOT NULL,
  created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL, row_version INT NOT NULL,
  KEY ix_phone_bidx (phone_bidx), KEY ix_email_bidx (email_bidx), KEY ix_updated (updated_at, id));
CREATE TABLE dnc_erasures (id BINARY(16) NOT NULL PRIMARY KEY, erased_at DATETIME(6) NOT NULL, KEY ix_erased (erased_at, id));
