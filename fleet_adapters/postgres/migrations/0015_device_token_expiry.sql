-- Device tokens expire (FLEET_DEVICE_TOKEN_TTL, one hour by default, as in Fleet) unless the host
-- refreshes them through its node key. A lookup checks the digest and the expiry in one indexed
-- statement, so an expired token costs the same work as one that never existed. Tokens issued
-- before this migration get the default lifetime from their issue time.
ALTER TABLE host_device_auth ADD COLUMN expires_at timestamptz;
UPDATE host_device_auth SET expires_at = created_at + interval '1 hour';
ALTER TABLE host_device_auth ALTER COLUMN expires_at SET NOT NULL;
