-- Enrollment finds its secret by the SHA-256 digest of the presented value, never by comparing
-- the secret itself: an index lookup compares keys byte by byte and stops at the first
-- difference, and timing how far it got must not tell a guesser how much of a secret it has
-- right. Timing a digest comparison reveals nothing about the secret. The secret is still kept
-- (GET /spec/enroll_secret shows it); every insert writes its digest beside it.
ALTER TABLE enroll_secrets ADD COLUMN secret_digest bytea;
UPDATE enroll_secrets SET secret_digest = sha256(convert_to(secret, 'UTF8'));
ALTER TABLE enroll_secrets ALTER COLUMN secret_digest SET NOT NULL;
CREATE UNIQUE INDEX enroll_secrets_secret_digest_key ON enroll_secrets (secret_digest);
