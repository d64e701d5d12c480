/*
 * `artifact-watch migrate` and `artifact-watch version`: the two commands
 * that need nothing but the common library (and the library versions).
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>

#include "aw/hash.h"
#include "aw/http.h"
#include "aw/metrics.h"
#include "aw/migrate.h"
#include "aw/pg.h"
#include "commands.h"

#ifndef AW_VERSION
#define AW_VERSION "0.1.0"
#endif

int cmd_version(aw_config *cfg) {
    (void)cfg;
    printf("artifact-watch %s\n", AW_VERSION);
    printf("librdkafka %s\n", rd_kafka_version_str());
    printf("%s\n", aw_http_version());
    printf("jansson %s\n", JANSSON_VERSION);
    printf("%s\n", aw_crypto_version());
    return 0;
}

void cmd_build_info(void) {
    char labels[400];
    snprintf(labels, sizeof labels,
             "version=\"%s\",librdkafka=\"%s\",libcurl=\"%s\",jansson=\"%s\",openssl=\"%s\"",
             AW_VERSION, rd_kafka_version_str(), aw_http_version() + 8, JANSSON_VERSION,
             aw_crypto_version());
    aw_metric_set(aw_metric_gauge("aw_build_info", "Versions of artifact-watch and its libraries.",
                                  labels),
                  1);
}

int cmd_migrate(aw_config *cfg) {
    char err[1024] = "";
    aw_pg *pg;
    if (aw_pg_connect(cfg->pg_conninfo, &pg, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch migrate: %s\n"
                        "  (set --pg, AW_PG_URI or the PG* variables; is PostgreSQL up?)\n",
                err);
        return 1;
    }
    int rc, applied = 0;
    if (cfg->migrate_status)
        rc = aw_migrate_status(pg, aw_migrations, aw_migrations_n, stdout, err, sizeof err);
    else
        rc = aw_migrate_apply(pg, aw_migrations, aw_migrations_n, &applied, err, sizeof err);
    aw_pg_destroy(pg);
    if (rc != AW_OK) {
        fprintf(stderr, "artifact-watch migrate: %s\n", err);
        return 1;
    }
    if (!cfg->migrate_status) {
        if (applied)
            printf("applied %d migration%s; schema is at %s\n", applied, applied == 1 ? "" : "s",
                   aw_migrations[aw_migrations_n - 1].name);
        else
            printf("schema is up to date (%s); nothing to do\n",
                   aw_migrations[aw_migrations_n - 1].name);
    }
    return 0;
}
