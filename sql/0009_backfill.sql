-- 0009: backfill. Versions and observations that come from the store's own
-- listing instead of a bucket notification, reconcile tombstones, and the
-- progress of each backfill so a killed one continues where it stopped.
-- Shipped migrations are never edited: changes go in a new numbered file.

-- Last-Modified as a listing (or the GET that read the bytes) reported it.
-- For a store that returns no ETag it is, with the size, what tells whether
-- the listed bytes are the ones already indexed.
ALTER TABLE aw.object_versions ADD COLUMN last_modified timestamptz;
-- Why a tombstone exists: NULL for a delete event, 'reconcile' when a
-- backfill found the object gone (its listing lacked it and a HEAD said 404).
ALTER TABLE aw.object_versions ADD COLUMN reason text
  CHECK (reason IS NULL OR reason IN ('reconcile'));

-- A listing has no Kafka record: its observations carry none. Observations
-- of events still must.
ALTER TABLE aw.observations ADD COLUMN source text NOT NULL DEFAULT 'event'
  CHECK (source IN ('event', 'listing'));
ALTER TABLE aw.observations ALTER COLUMN kafka_topic DROP NOT NULL,
                            ALTER COLUMN kafka_partition DROP NOT NULL,
                            ALTER COLUMN kafka_offset DROP NOT NULL;
ALTER TABLE aw.observations ADD CONSTRAINT observations_event_has_record
  CHECK (source = 'listing' OR (kafka_topic IS NOT NULL AND kafka_partition IS NOT NULL
                                AND kafka_offset IS NOT NULL)) NOT VALID;
ALTER TABLE aw.observations VALIDATE CONSTRAINT observations_event_has_record;

-- The live keys of a bucket in the order S3 lists them (bytes of UTF-8):
-- a backfill compares each listing page with the index over its key range.
CREATE INDEX object_versions_live_keys
  ON aw.object_versions (store, bucket, key COLLATE "C")
  WHERE NOT deleted AND state <> 'tombstone';

-- Versions a listing indexed that no event has claimed yet: each event batch
-- looks here for one holding its bytes, so the lookup stays small.
CREATE INDEX object_versions_listed
  ON aw.object_versions (store, bucket, key)
  WHERE sequencer IS NULL AND version_id IS NULL
    AND (version_ref LIKE 'e:%' OR version_ref LIKE 'l:%');

-- One row per store, bucket and prefix a backfill has run on. after_key (and
-- after_version in a versioned bucket) is where the listing continues: the
-- last key whose page is fully indexed; NULL once a run finished.
CREATE TABLE aw.backfill_progress (
  store         text        NOT NULL,
  bucket        text        NOT NULL,
  prefix        text        NOT NULL DEFAULT '',
  after_key     text,
  after_version text,
  listed        bigint      NOT NULL DEFAULT 0,   -- counts of the run in progress or last run
  indexed       bigint      NOT NULL DEFAULT 0,
  deleted       bigint      NOT NULL DEFAULT 0,
  bytes         bigint      NOT NULL DEFAULT 0,
  started_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  PRIMARY KEY (store, bucket, prefix)
);

-- The public view gains the version's Last-Modified and a tombstone's reason.
CREATE OR REPLACE VIEW aw.objects AS
SELECT v.store,
       v.bucket,
       v.key,
       v.version_id,
       v.size,
       encode(v.sha256, 'hex') AS sha256,
       v.etag,
       v.content_type,
       v.event_time,
       v.indexed_at,
       v.deleted,
       v.state,
       v.last_modified,
       v.reason
  FROM aw.object_versions v;

-- Daemons keep the progress rows current; nothing deletes them but people.
REVOKE DELETE, TRUNCATE ON aw.backfill_progress FROM aw_writer;
GRANT SELECT ON aw.backfill_progress, aw.objects TO aw_reader;
