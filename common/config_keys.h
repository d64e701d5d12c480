/*
 * The shape of a row of the settings table, shared by the table
 * (settings.c) and the parser that reads it (config.c). Private to common/.
 */
#ifndef AW_CONFIG_KEYS_H
#define AW_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "aw/config.h"

/* CT_INT, CT_DURATION (seconds) and CT_SIZE (bytes) are stored in a long
 * and checked against min..max; CT_ENUM as the int index of its word. */
typedef enum { CT_STR, CT_INT, CT_BOOL, CT_ENUM, CT_DURATION, CT_SIZE } conf_type;

typedef struct conf_key {
    const char *name;          /* config file key */
    const char *env;           /* environment variable, NULL for none */
    const char *flag;          /* --flag, NULL for none */
    conf_type type;
    size_t offset;             /* of the field in aw_config */
    const char *def;
    long min, max;             /* CT_INT, CT_DURATION, CT_SIZE range */
    const char *const *words;  /* CT_ENUM: the words by index, NULL-terminated ("" a gap) */
    unsigned cmds;             /* AW_CMD_* bits */
    bool secret;               /* masked in --print-config */
    const char *help;
} conf_key;

typedef struct conf_check {
    size_t offset;                  /* of a CT_STR field */
    bool (*valid)(const char *);
    const char *what;               /* what it must be, for the error */
} conf_check;

extern const conf_key aw_conf_keys[];
extern const size_t aw_conf_nkeys;
extern const conf_check aw_conf_checks[];
extern const size_t aw_conf_nchecks;

/* Reads "key = value" lines from f (path names it in errors) into cfg for
 * command cmd; with rdkafka, every line is a librdkafka property. The file
 * loader behind --config and --kafka-properties, exposed for the fuzzer. */
int aw_config_load_stream(aw_config *cfg, unsigned cmd, FILE *f, const char *path,
                          bool rdkafka, char *errstr, size_t errstr_size) AW_WUR;

/* Commands that talk to Kafka: they take -X and --kafka-properties. */
#define AW_KAFKA_CMDS (AW_CMD_INGEST | AW_CMD_POLICY | AW_CMD_ALERTS | AW_CMD_CONSOLE)

#endif
