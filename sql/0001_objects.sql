-- 0001: object versions, their observations and ingest checks; the public
-- view aw.objects; the roles aw_writer (daemons) and aw_reader (people and
-- dashboards).
-- Shipped migrations are never edited: changes go in a new numbered file.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aw_writer') THEN
    CREATE ROLE aw_writer NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aw_reader') THEN
    CREATE ROLE aw_reader NOLOGIN;
  END IF;
END
$$;

-- One row per version of an object in a store. A version is named by the
-- store's version id when the bucket is versioned; otherwise by the event's
-- sequencer (every write of an unversioned key is a new version), and as a
-- last resort by the ETag. A delete event is a version too: a tombstone row,
-- so deleted objects never leave a hole.
CREATE TABLE aw.object_versions (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  store         text        NOT NULL,
  bucket        text        NOT NULL,
  key           text        NOT NULL,
  version_ref   text        NOT NULL,          -- identity within the key, see above
  version_id    text,                          -- the store's version id, if any
  sequencer     text,                          -- as the event sent it
  seq_key       text,                          -- sequencer normalised to sort as text
  size          bigint      CHECK (size >= 0),
  sha256        bytea       CHECK (octet_length(sha256) = 32),
  md5           bytea       CHECK (octet_length(md5) = 16),
  etag          text,
  content_type  text,
  event_time    timestamptz,
  state         text        NOT NULL
                CHECK (state IN ('present',     -- fetched and hashed
                                 'vanished',    -- gone (404) before it could be fetched
                                 'superseded',  -- overwritten before it could be fetched
                                 'tombstone')), -- a delete event
  deleted       boolean     NOT NULL DEFAULT false,
  deleted_at    timestamptz,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  indexed_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (store, bucket, key, version_ref)
);
CREATE INDEX object_versions_sha256 ON aw.object_versions (sha256) WHERE sha256 IS NOT NULL;
-- Delete events of unversioned keys, probed once per key of every batch;
-- the unique key above serves lookups by (store, bucket, key).
CREATE INDEX object_versions_tombstones ON aw.object_versions (store, bucket, key, seq_key)
  WHERE state = 'tombstone' AND version_id IS NULL;

-- Every notification that touched a version, exactly once per Kafka record:
-- replays hit the unique constraint and change nothing. The record's
-- timestamp is part of its identity because offsets start over when a topic
-- is recreated or a cluster replaced; a replay keeps the timestamp. object_version_id has
-- no foreign key on purpose: the indexer, the only writer, takes it from
-- aw.object_versions in the same statement, and version rows are never
-- deleted (a delete is a tombstone row); a per-row trigger would cost about a
-- third of the insert.
CREATE TABLE aw.observations (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  object_version_id bigint      NOT NULL,
  kind              text        NOT NULL CHECK (kind IN ('created', 'deleted', 'delete_marker')),
  event_name        text,
  event_source      text,
  sequencer         text,
  event_time        timestamptz,
  kafka_topic       text        NOT NULL,
  kafka_partition   integer     NOT NULL,
  kafka_offset      bigint      NOT NULL,
  kafka_timestamp   bigint      NOT NULL DEFAULT -1,   -- ms since the epoch, -1 if none
  record_index      integer     NOT NULL DEFAULT 0,
  observed_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, record_index)
);
CREATE INDEX observations_version ON aw.observations (object_version_id);

-- Checks made at ingest (e.g. a single-part ETag against the MD5 of the bytes).
CREATE TABLE aw.checks (
  object_version_id bigint      NOT NULL REFERENCES aw.object_versions (id) ON DELETE CASCADE,
  check_kind        text        NOT NULL,
  expected          text        NOT NULL,
  actual            text        NOT NULL,
  ok                boolean     NOT NULL,
  checked_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (object_version_id, check_kind)
);
CREATE INDEX checks_failed ON aw.checks (checked_at) WHERE NOT ok;

-- Public interface: one row per object version. Later migrations may add
-- columns but never remove or change these.
CREATE VIEW aw.objects AS
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
       v.state
  FROM aw.object_versions v;

GRANT USAGE ON SCHEMA aw TO aw_reader, aw_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA aw TO aw_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA aw TO aw_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA aw GRANT SELECT ON TABLES TO aw_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA aw GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO aw_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA aw GRANT USAGE, SELECT ON SEQUENCES TO aw_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA aw GRANT EXECUTE ON FUNCTIONS TO aw_reader, aw_writer;
