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

static int load(aw_config *c, int argc, char **argv, char *err, size_t n) {
    bool help;
    aw_config_free(c);
    ASSERT_INT_EQ(aw_config_init(c), 0);
    return aw_config_load(c, AW_CMD_INGEST, argc, argv, &help, err, n);
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
