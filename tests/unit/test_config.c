/* Configuration precedence, validation and the words of its errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aw/config.h"
#include "test.h"

static char path[] = "/tmp/aw-test-config-XXXXXX";

static void write_file(const char *text) {
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
}

static int load_for(unsigned cmd, aw_config *c, int argc, char **argv, char *err, size_t n) {
    bool help;
    aw_config_free(c);
    ASSERT_INT_EQ(aw_config_init(c), 0);
    return aw_config_load(c, cmd, argc, argv, &help, err, n);
}

static int load(aw_config *c, int argc, char **argv, char *err, size_t n) {
    return load_for(AW_CMD_INGEST, c, argc, argv, err, n);
}

int main(void) {

    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    close(fd);
    unsetenv("AW_CONFIG");
    unsetenv("AW_FETCH_CONCURRENCY");
    unsetenv("AW_KAFKA_TOPIC");
    aw_config c = {0};
    char err[512];
    char *noargs[] = {"ingest"};

    CASE("defaults") {
        ASSERT_INT_EQ(load(&c, 1, noargs, err, sizeof err), 0);
        ASSERT_INT_EQ(c.fetch_concurrency, 16);
        ASSERT_STR_EQ(c.kafka_topic, "aw.bucket-events");
        ASSERT_INT_EQ(c.s3_path_style, 1);
    }

    CASE("file < env < flag") {
        write_file("# comment\nfetch.concurrency = 4\nkafka.topic = from-file\n"
                   "migrate.status = true\n");
        setenv("AW_CONFIG", path, 1);
        ASSERT_INT_EQ(load(&c, 1, noargs, err, sizeof err), 0);
        ASSERT_INT_EQ(c.fetch_concurrency, 4);
        ASSERT_STR_EQ(c.kafka_topic, "from-file");
        ASSERT_INT_EQ(c.migrate_status, 0); /* a key of another command is ignored */
        setenv("AW_FETCH_CONCURRENCY", "8", 1);
        ASSERT_INT_EQ(load(&c, 1, noargs, err, sizeof err), 0);
        ASSERT_INT_EQ(c.fetch_concurrency, 8);
        char *flags[] = {"ingest", "--fetch-concurrency", "32", "--topic=t2", "--no-path-style",
                         "-X", "fetch.max.bytes=1000", "--drain"};
        ASSERT_INT_EQ(load(&c, 8, flags, err, sizeof err), 0);
        ASSERT_INT_EQ(c.fetch_concurrency, 32);
        ASSERT_STR_EQ(c.kafka_topic, "t2");
        ASSERT_INT_EQ(c.s3_path_style, 0);
        ASSERT_INT_EQ(c.drain, 1);
        ASSERT_INT_EQ(c.rdkafka_props_n, 1);
        ASSERT_STR_EQ(c.rdkafka_props[0].key, "fetch.max.bytes");
        ASSERT_STR_EQ(c.rdkafka_props[0].value, "1000");
    }

    CASE("errors name the key and the source") {
        setenv("AW_FETCH_CONCURRENCY", "lots", 1);
        ASSERT_INT_EQ(load(&c, 1, noargs, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "env AW_FETCH_CONCURRENCY");
        ASSERT_CONTAINS(err, "fetch.concurrency=\"lots\"");
        unsetenv("AW_FETCH_CONCURRENCY");
        char *bad_range[] = {"ingest", "--fetch-concurrency", "0"};
        ASSERT_INT_EQ(load(&c, 3, bad_range, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "flag --fetch-concurrency");
        ASSERT_CONTAINS(err, "from 1 to 1024");
        write_file("fetch.concurrency = 4\n\nfetch.retrys = 3\n");
        ASSERT_INT_EQ(load(&c, 1, noargs, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, ":3: unknown key \"fetch.retrys\"");
        write_file("verify-md5\n");
        ASSERT_INT_EQ(load(&c, 1, noargs, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, ":1: expected key = value");
        write_file("fetch.verify_md5 = maybe\n");
        ASSERT_INT_EQ(load(&c, 1, noargs, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "is not a boolean");
        unsetenv("AW_CONFIG");
        char *unknown[] = {"ingest", "--status"}; /* a migrate flag */
        ASSERT_INT_EQ(load(&c, 2, unknown, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "unknown option --status");
        char *badx[] = {"ingest", "-X", "novalue"};
        ASSERT_INT_EQ(load(&c, 3, badx, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "key=value");
        char *badenc[] = {"ingest", "--key-encoding", "base64"};
        ASSERT_INT_EQ(load(&c, 3, badenc, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "auto, url or raw");
        char *nofile[] = {"ingest", "--config", "/nonexistent/aw.conf"};
        ASSERT_INT_EQ(load(&c, 3, nofile, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "/nonexistent/aw.conf");
    }

    CASE("durations and sizes are parsed once, with their ranges") {
        ASSERT_INT_EQ(load(&c, 1, noargs, err, sizeof err), 0);
        ASSERT_INT_EQ(c.fetch_range_size, 8L << 20);
        ASSERT_INT_EQ(c.sidecar_max_bytes, 1L << 20);
        char *sizes[] = {"ingest", "--range-size", "64KiB", "--sidecar-max-bytes=4096"};
        ASSERT_INT_EQ(load(&c, 4, sizes, err, sizeof err), 0);
        ASSERT_INT_EQ(c.fetch_range_size, 65536);
        ASSERT_INT_EQ(c.sidecar_max_bytes, 4096);
        char *small[] = {"ingest", "--range-size", "1000"};
        ASSERT_INT_EQ(load(&c, 3, small, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "fetch.range_size=\"1000\" is not a size from 1KiB to 1GiB");
        char *zero_ok[] = {"policy", "--lag-wait", "0"}; /* zero needs no unit */
        ASSERT_INT_EQ(load_for(AW_CMD_POLICY, &c, 3, zero_ok, err, sizeof err), 0);
        ASSERT_INT_EQ(c.policy_lag_wait_s, 0);
        char *every[] = {"policy", "--every", "90m", "--lag-wait", "0s", "--max-plan-age=2d"};
        ASSERT_INT_EQ(load_for(AW_CMD_POLICY, &c, 6, every, err, sizeof err), 0);
        ASSERT_INT_EQ(c.policy_every_s, 5400);
        ASSERT_INT_EQ(c.policy_lag_wait_s, 0);
        ASSERT_INT_EQ(c.policy_max_plan_age_s, 2 * 86400);
        char *zero[] = {"policy", "--every", "0s"};
        ASSERT_INT_EQ(load_for(AW_CMD_POLICY, &c, 3, zero, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "flag --every: policy.every=\"0s\" is not a duration from 1s to");
        char *unit[] = {"scrub", "--interval", "1y"};
        ASSERT_INT_EQ(load_for(AW_CMD_SCRUB, &c, 3, unit, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "s, m, h, d or w");
        FILE *dump = tmpfile();
        ASSERT(dump != NULL);
        ASSERT_INT_EQ(load_for(AW_CMD_POLICY, &c, 6, every, err, sizeof err), 0);
        aw_config_dump(dump, &c, AW_CMD_POLICY);
        char text[8192] = "";
        rewind(dump);
        text[fread(text, 1, sizeof text - 1, dump)] = '\0';
        fclose(dump);
        ASSERT_CONTAINS(text, "policy.every = 90m\n");
        ASSERT_CONTAINS(text, "policy.max_plan_age = 2d\n");
        ASSERT_CONTAINS(text, "policy.format = table\n");
    }

    CASE("enumerated settings are stored as their index") {
        char *csv[] = {"policy", "--format", "csv"};
        ASSERT_INT_EQ(load_for(AW_CMD_POLICY, &c, 3, csv, err, sizeof err), 0);
        ASSERT_INT_EQ(c.policy_format, AW_FMT_CSV);
        char *dot[] = {"policy", "--format", "dot"}; /* a format policy does not offer */
        ASSERT_INT_EQ(load_for(AW_CMD_POLICY, &c, 3, dot, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "must be table, json or csv");
        char *empty[] = {"policy", "--format", ""}; /* the gap is no word */
        ASSERT_INT_EQ(load_for(AW_CMD_POLICY, &c, 3, empty, err, sizeof err), AW_ECONFIG);
        char *all[] = {"alerts", "--state", "all", "--format", "dot"};
        ASSERT_INT_EQ(load_for(AW_CMD_ALERTS, &c, 5, all, err, sizeof err), 0);
        ASSERT_INT_EQ(c.alerts_state, AW_ALERTS_ALL);
        ASSERT_STR_EQ(aw_alert_state_words[c.alerts_state], "all");
        ASSERT_INT_EQ(c.alerts_format, AW_FMT_DOT);
        char *lvl[] = {"ingest", "--log-level", "debug", "--log-format", "json"};
        ASSERT_INT_EQ(load(&c, 5, lvl, err, sizeof err), 0);
        ASSERT_INT_EQ(c.log_level, 3);
        ASSERT_INT_EQ(c.log_format, 1);
    }

    CASE("a malformed connection string is a configuration error that hides the value") {
        char *bad[] = {"ingest", "--pg", "postgresql://aw:s3cr%zz@db/aw"};
        ASSERT_INT_EQ(load(&c, 3, bad, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "flag --pg: pg.conninfo is not a PostgreSQL connection string");
        ASSERT(strstr(err, "s3cr") == NULL);
        setenv("AW_PG_URI", "host=db port", 1);
        ASSERT_INT_EQ(load(&c, 1, noargs, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "env AW_PG_URI: pg.conninfo");
        setenv("AW_PG_URI", "postgresql://aw:p%40ss@db:5432/aw?sslmode=require", 1);
        ASSERT_INT_EQ(load(&c, 1, noargs, err, sizeof err), 0);
        unsetenv("AW_PG_URI");
        char *empty[] = {"ingest", "--pg", ""}; /* libpq's defaults and PG* variables */
        ASSERT_INT_EQ(load(&c, 3, empty, err, sizeof err), 0);
    }

    CASE("the properties file comes before -X, so -X wins") {
        write_file("# librdkafka\nfetch.max.bytes = 5\nsocket.timeout.ms=100\n");
        char kp[128];
        snprintf(kp, sizeof kp, "--kafka-properties=%s", path);
        char *props[] = {"ingest", kp, "-X", "fetch.max.bytes=7"};
        ASSERT_INT_EQ(load(&c, 4, props, err, sizeof err), 0);
        ASSERT_INT_EQ(c.rdkafka_props_n, 3);
        ASSERT_STR_EQ(c.rdkafka_props[0].value, "5");
        ASSERT_STR_EQ(c.rdkafka_props[2].key, "fetch.max.bytes");
        ASSERT_STR_EQ(c.rdkafka_props[2].value, "7");

        aw_config_free(&c);
        aw_config_free(NULL);
        unlink(path);
    }
    TEST_DONE();
}
