-- An alert's page draws what was made from the bad version ten steps deep:
-- on a dense graph fifty steps (0017) reached hundreds of versions by
-- thousands of paths and took a second to walk and draw. The whole count is
-- the alert's blast_radius; the lineage page goes deeper on request.
CREATE OR REPLACE FUNCTION aw.console_alert(p_id bigint) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $$
  SELECT to_jsonb(a) || jsonb_build_object(
           'uri', format('s3://%s/%s', a.bucket, a.key),
           'downstream', aw.lineage_graph(format('s3://%s/%s', a.bucket, a.key), 10, NULL,
                                          false, a.store))
    FROM aw.alerts a WHERE a.id = p_id
$$;
