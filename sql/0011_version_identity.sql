-- 0011: one index fewer on aw.object_versions. A version's identity,
-- (store, bucket, key, version_ref), was unique with the store first, and a
-- second index, (bucket, key), served the lookups by URI (which name no
-- store). The identity now leads with bucket and key, so its index serves
-- both, and every version written maintains one index less: a tenth of the
-- statement that writes an event batch's versions and observations.
--
-- ON CONFLICT (store, bucket, key, version_ref) matches the new index (its
-- columns, in any order). Building it reads the table once and blocks writes
-- to it meanwhile; reads go on.
-- Shipped migrations are never edited: changes go in a new numbered file.

CREATE UNIQUE INDEX object_versions_identity
  ON aw.object_versions (bucket, key, store, version_ref);
ALTER TABLE aw.object_versions
  DROP CONSTRAINT object_versions_store_bucket_key_version_ref_key;
ALTER TABLE aw.object_versions
  ADD CONSTRAINT object_versions_identity UNIQUE USING INDEX object_versions_identity;
DROP INDEX aw.object_versions_bucket_key;
