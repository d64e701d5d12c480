/*
 * The loaders of the settings table (settings.c): defaults, the config file,
 * the environment and the flags, in that order, each value checked by the
 * type its row declares. Nothing here knows a particular key except the
 * few every command shares (--config, --help, -X).
 */
#include "aw/config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aw/codec.h"
#include "config_keys.h"

#define keys aw_conf_keys
#define NKEYS aw_conf_nkeys
#define OFF(f) offsetof(aw_config, f)

static void errf(char *errstr, size_t n, const char *fmt, ...) AW_PRINTF(3, 4);
static void errf(char *errstr, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, n, fmt, ap);
    va_end(ap);
}

static int parse_bool(const char *s, bool *out) {
    if (!strcasecmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
        !strcasecmp(s, "on")) {
        *out = true;
        return AW_OK;
    }
    if (!strcasecmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") ||
        !strcasecmp(s, "off")) {
        *out = false;
        return AW_OK;
    }
    return AW_EINVAL;
}

int aw_parse_long(const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    if (!s || !*s || *s == ' ' || *s == '+')
        return AW_EINVAL;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < min || x > max)
        return AW_EINVAL;
    *out = x;
    return AW_OK;
}

int aw_word_index(const char *const *words, const char *s) {
    for (int i = 0; words && words[i]; i++)
        if (*words[i] && !strcmp(words[i], s))
            return i;
    return -1;
}

void aw_verb_usage(FILE *out, const char *cmd, const aw_verb *verbs) {
    bool first = true;
    for (const aw_verb *v = verbs; v->name; v++) {
        if (!v->synopsis)
            continue;
        fprintf(out, "%s artifact-watch %s %s%s\n", first ? "usage:" : "      ", cmd, v->name,
                v->synopsis);
        first = false;
    }
}

int aw_verb_pick(const char *cmd, const aw_verb *verbs, const aw_config *cfg) {
    for (int i = 0; cfg->nargs && verbs[i].name; i++) {
        if (strcmp(verbs[i].name, cfg->args[0]))
            continue;
        if (cfg->nargs - 1 == verbs[i].nargs)
            return i;
        fprintf(stderr, "artifact-watch %s %s: takes %zu argument%s, not %zu\n", cmd,
                cfg->args[0], verbs[i].nargs, verbs[i].nargs == 1 ? "" : "s", cfg->nargs - 1);
        aw_verb_usage(stderr, cmd, verbs);
        return -1;
    }
    char shown[128];
    if (cfg->nargs) {
        aw_escape_text(cfg->args[0], strlen(cfg->args[0]), shown, sizeof shown);
        fprintf(stderr, "artifact-watch %s: unknown verb \"%s\"\n", cmd, shown);
    } else {
        fprintf(stderr, "artifact-watch %s: which one?\n", cmd);
    }
    aw_verb_usage(stderr, cmd, verbs);
    return -1;
}

/* "a, b or c" for the error of an enumerated key. */
static void words_list(const char *const *w, char *out, size_t n) {
    size_t l = 0;
    out[0] = '\0';
    int count = 0, seen = 0;
    for (int i = 0; w[i]; i++)
        count += *w[i] != '\0';
    for (int i = 0; w[i] && l < n; i++)
        if (*w[i])
            l += (size_t)snprintf(out + l, n - l, "%s%s", seen++ == 0 ? ""
                                  : seen == count ? " or " : ", ", w[i]);
}

/* Sets key k from text value v; `src` names the origin for errors. */
static int set_value(aw_config *cfg, const conf_key *k, const char *v, const char *src,
                     char *errstr, size_t n) {
    char *base = (char *)cfg + k->offset;
    char x[160]; /* the value as an error may quote it */
    aw_escape_text(v, strlen(v), x, sizeof x);
    switch (k->type) {
    case CT_ENUM: {
        int i = aw_word_index(k->words, v);
        if (i < 0) {
            char w[256];
            words_list(k->words, w, sizeof w);
            errf(errstr, n, "%s: %s=\"%s\" must be %s", src, k->name, x, w);
            return AW_ECONFIG;
        }
        *(int *)base = i;
        return AW_OK;
    }
    case CT_DURATION:
    case CT_SIZE: {
        int64_t q;
        bool dur = k->type == CT_DURATION;
        if ((dur ? aw_parse_duration(v, &q) : aw_parse_size(v, &q)) != AW_OK || q < k->min ||
            q > k->max) {
            char lo[32], hi[32];
            (dur ? aw_format_duration : aw_format_size)(k->min, lo, sizeof lo);
            (dur ? aw_format_duration : aw_format_size)(k->max, hi, sizeof hi);
            errf(errstr, n, "%s: %s=\"%s\" is not a %s from %s to %s (%s)", src, k->name, x,
                 dur ? "duration" : "size", lo, hi,
                 dur ? "a number and s, m, h, d or w: 90s, 15m, 7d"
                     : "bytes, or a number and KB, MB, GB, KiB, MiB, GiB: 8MiB");
            return AW_ECONFIG;
        }
        *(long *)base = (long)q;
        return AW_OK;
    }
    case CT_STR: {
        for (size_t i = 0; i < aw_conf_nchecks; i++)
            if (aw_conf_checks[i].offset == k->offset && !aw_conf_checks[i].valid(v)) {
                errf(errstr, n, "%s: %s is not %s (the value is not shown: it may hold a "
                                "secret)", src, k->name, aw_conf_checks[i].what);
                return AW_ECONFIG;
            }
        char *dup = strdup(v);
        if (!dup)
            return AW_ENOMEM;
        free(*(char **)base);
        *(char **)base = dup;
        return AW_OK;
    }
    case CT_INT:
        if (aw_parse_long(v, k->min, k->max, (long *)base) != AW_OK) {
            errf(errstr, n, "%s: %s=\"%s\" is not a whole number from %ld to %ld", src,
                 k->name, x, k->min, k->max);
            return AW_ECONFIG;
        }
        return AW_OK;
    case CT_BOOL:
        if (parse_bool(v, (bool *)base) != AW_OK) {
            errf(errstr, n, "%s: %s=\"%s\" is not a boolean (true/false, yes/no, 1/0)",
                 src, k->name, x);
            return AW_ECONFIG;
        }
        return AW_OK;
    }
    return AW_EINVAL;
}

int aw_config_init(aw_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    char err[64];
    for (size_t i = 0; i < NKEYS; i++) {
        int rc = set_value(cfg, &keys[i], keys[i].def, "default", err, sizeof err);
        if (rc != AW_OK) {
            aw_config_free(cfg);
            return rc;
        }
    }
    return AW_OK;
}

void aw_config_free(aw_config *cfg) {
    if (!cfg)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].type == CT_STR) {
            char **p = (char **)((char *)cfg + keys[i].offset);
            free(*p);
            *p = NULL;
        }
    }
    for (size_t i = 0; i < cfg->rdkafka_props_n; i++) {
        free(cfg->rdkafka_props[i].key);
        free(cfg->rdkafka_props[i].value);
    }
    free(cfg->rdkafka_props);
    cfg->rdkafka_props = NULL;
    cfg->rdkafka_props_n = 0;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static int add_prop(aw_config *cfg, const char *key, const char *value) {
    aw_kv *nv = realloc(cfg->rdkafka_props, (cfg->rdkafka_props_n + 1) * sizeof *nv);
    if (!nv)
        return AW_ENOMEM;
    cfg->rdkafka_props = nv;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return AW_ENOMEM;
    }
    nv[cfg->rdkafka_props_n++] = (aw_kv){k, v};
    return AW_OK;
}

int aw_config_add_rdkafka_prop(aw_config *cfg, const char *kv, char *errstr,
                               size_t errstr_size) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        errf(errstr, errstr_size, "flag -X: \"%s\" is not of the form key=value", kv);
        return AW_ECONFIG;
    }
    char key[256];
    size_t kl = (size_t)(eq - kv);
    if (kl >= sizeof key) {
        errf(errstr, errstr_size, "flag -X: property name too long");
        return AW_ECONFIG;
    }
    memcpy(key, kv, kl);
    key[kl] = '\0';
    return add_prop(cfg, key, eq + 1);
}

int aw_config_load_stream(aw_config *cfg, unsigned cmd, FILE *f, const char *path,
                          bool rdkafka, char *errstr, size_t n) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, rc = AW_OK;
    while (rc == AW_OK && (got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (got > 16384 || strlen(line) != (size_t)got) {
            errf(errstr, n, "%s:%d: %s", path, lineno,
                 got > 16384 ? "a line longer than 16384 bytes" : "a NUL byte");
            rc = AW_ECONFIG;
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            errf(errstr, n, "%s:%d: expected key = value", path, lineno);
            rc = AW_ECONFIG;
            break;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        if (rdkafka) {
            rc = add_prop(cfg, k, v);
            continue;
        }
        const conf_key *ck = NULL;
        for (size_t i = 0; i < NKEYS; i++)
            if (!strcmp(keys[i].name, k))
                ck = &keys[i];
        if (!ck) {
            char x[128];
            aw_escape_text(k, strlen(k), x, sizeof x);
            errf(errstr, n, "%s:%d: unknown key \"%s\"", path, lineno, x);
            rc = AW_ECONFIG;
            break;
        }
        if (!(ck->cmds & cmd))
            continue; /* one file may serve several subcommands */
        char src[600];
        snprintf(src, sizeof src, "%s:%d", path, lineno);
        rc = set_value(cfg, ck, v, src, errstr, n);
    }
    free(line);
    return rc;
}

/* Reads "key = value" lines; '#' starts a comment line. */
static int load_file(aw_config *cfg, unsigned cmd, const char *path, bool rdkafka,
                     char *errstr, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        errf(errstr, n, "cannot open %s file %s: %s", rdkafka ? "Kafka properties" : "config",
             path, strerror(errno));
        return AW_ECONFIG;
    }
    int rc = aw_config_load_stream(cfg, cmd, f, path, rdkafka, errstr, n);
    fclose(f);
    return rc;
}

/* 2. the environment: every key of cmd that has a variable set */
static int load_env(aw_config *cfg, unsigned cmd, char *errstr, size_t n) {
    for (size_t i = 0; i < NKEYS; i++) {
        const conf_key *k = &keys[i];
        const char *v = k->env && (k->cmds & cmd) ? getenv(k->env) : NULL;
        if (!v || !*v)
            continue;
        char src[128];
        snprintf(src, sizeof src, "env %s", k->env);
        int rc = set_value(cfg, k, v, src, errstr, n);
        if (rc != AW_OK)
            return rc;
    }
    return AW_OK;
}

/* The key --name sets for cmd (a flag may name keys of several commands: the
 * command's own wins); *negated for --no-NAME of a boolean. NULL if none. */
static const conf_key *flag_key(const char *name, unsigned cmd, bool *negated) {
    const conf_key *k = NULL;
    for (size_t j = 0; j < NKEYS && !(k && (k->cmds & cmd)); j++) {
        if (keys[j].flag && !strcmp(keys[j].flag, name)) {
            k = &keys[j];
            *negated = false;
        } else if (keys[j].flag && keys[j].type == CT_BOOL && !strncmp(name, "no-", 3) &&
                   !strcmp(keys[j].flag, name + 3)) {
            k = &keys[j];
            *negated = true;
        }
    }
    return k && (k->cmds & cmd) ? k : NULL;
}

/* One --name[=value] at argv[*i] (advanced past a separate value). */
static int load_flag(aw_config *cfg, unsigned cmd, int argc, char **argv, int *i, char *errstr,
                     size_t n) {
    const char *name = argv[*i] + 2, *val = NULL;
    char nbuf[128];
    const char *eq = strchr(name, '=');
    if (eq) {
        size_t l = (size_t)(eq - name);
        if (l >= sizeof nbuf)
            l = sizeof nbuf - 1;
        memcpy(nbuf, name, l);
        nbuf[l] = '\0';
        name = nbuf;
        val = eq + 1;
    }
    if (!strcmp(name, "config")) { /* read before anything else */
        *i += !val;
        return AW_OK;
    }
    bool negated = false;
    const conf_key *k = flag_key(name, cmd, &negated);
    if (!k) {
        errf(errstr, n, "unknown option --%s (see --help)", name);
        return AW_ECONFIG;
    }
    if (k->type == CT_BOOL && !val)
        val = negated ? "false" : "true";
    if (!val) {
        if (*i + 1 >= argc) {
            errf(errstr, n, "flag --%s needs a value", name);
            return AW_ECONFIG;
        }
        val = argv[++*i];
    }
    char src[160];
    snprintf(src, sizeof src, "flag --%s", name);
    return set_value(cfg, k, val, src, errstr, n);
}

/* 3. the flags, arguments and -X properties (into cfg->rdkafka_props). */
static int load_flags(aw_config *cfg, unsigned cmd, int argc, char **argv, bool *want_help,
                      char *errstr, size_t n) {
    int rc = AW_OK;
    bool only_args = false; /* after "--" */
    for (int i = 1; i < argc && rc == AW_OK; i++) {
        const char *a = argv[i];
        if (!only_args && !strcmp(a, "--")) {
            only_args = true;
        } else if (only_args || strncmp(a, "-", 1) != 0 || !a[1]) {
            if (cfg->nargs >= AW_CONFIG_MAX_ARGS) {
                errf(errstr, n, "more than %d arguments", AW_CONFIG_MAX_ARGS);
                return AW_ECONFIG;
            }
            cfg->args[cfg->nargs++] = a;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *want_help = true;
        } else if (!strcmp(a, "-X")) {
            if (i + 1 >= argc) {
                errf(errstr, n, "flag -X needs a key=value argument");
                return AW_ECONFIG;
            }
            rc = aw_config_add_rdkafka_prop(cfg, argv[++i], errstr, n);
        } else if (strncmp(a, "--", 2) != 0) {
            errf(errstr, n, "unknown option %s (see --help)", a);
            return AW_ECONFIG;
        } else {
            rc = load_flag(cfg, cmd, argc, argv, &i, errstr, n);
        }
    }
    return rc;
}

int aw_config_load(aw_config *cfg, unsigned cmd, int argc, char **argv, bool *want_help,
                   char *errstr, size_t n) {
    *want_help = false;
    int rc;
    /* 1. the config file: --config wins over AW_CONFIG */
    const char *file = getenv("AW_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
    }
    if (file && *file && (rc = load_file(cfg, cmd, file, false, errstr, n)) != AW_OK)
        return rc;
    if ((rc = load_env(cfg, cmd, errstr, n)) != AW_OK)
        return rc;
    /* the -X properties are collected, then the properties file is put
     * before them, so -X always wins */
    aw_kv *saved = cfg->rdkafka_props;
    size_t saved_n = cfg->rdkafka_props_n;
    cfg->rdkafka_props = NULL;
    cfg->rdkafka_props_n = 0;
    rc = load_flags(cfg, cmd, argc, argv, want_help, errstr, n);
    aw_kv *xprops = cfg->rdkafka_props;
    size_t nx = cfg->rdkafka_props_n;
    cfg->rdkafka_props = saved;
    cfg->rdkafka_props_n = saved_n;
    if (rc == AW_OK && *cfg->kafka_properties_file && (cmd & AW_KAFKA_CMDS))
        rc = load_file(cfg, cmd, cfg->kafka_properties_file, true, errstr, n);
    for (size_t i = 0; i < nx; i++) {
        if (rc == AW_OK)
            rc = add_prop(cfg, xprops[i].key, xprops[i].value);
        free(xprops[i].key);
        free(xprops[i].value);
    }
    free(xprops);
    return rc;
}

void aw_config_usage(FILE *out, unsigned cmd) {
    fprintf(out, "Options (flag / environment / config-file key; later sources win:\n"
                 "defaults < --config file < environment < flags):\n");
    fprintf(out, "  --config FILE\n      AW_CONFIG; file of key = value lines\n");
    for (size_t i = 0; i < NKEYS; i++) {
        const conf_key *k = &keys[i];
        if (!(k->cmds & cmd))
            continue;
        char flag[96];
        if (k->flag)
            snprintf(flag, sizeof flag, "--%s%s", k->flag,
                     k->type == CT_BOOL ? "[=BOOL]" : k->type == CT_INT ? " N"
                     : k->type == CT_ENUM ? " WORD" : k->type == CT_DURATION ? " DURATION"
                     : k->type == CT_SIZE ? " SIZE" : " VALUE");
        else
            snprintf(flag, sizeof flag, "(no flag)");
        fprintf(out, "  %s\n      %s%s%s; %s (default: %s%s%s)\n", flag,
                k->env ? k->env : "", k->env ? " / " : "", k->name, k->help,
                *k->def ? "\"" : "", *k->def ? k->def : "none", *k->def ? "\"" : "");
    }
    if (cmd & AW_KAFKA_CMDS)
        fprintf(out, "  -X key=value\n      any librdkafka property, passed through "
                     "(repeatable; wins over --kafka-properties)\n");
    fprintf(out, "  -h, --help\n      this text\n");
}

void aw_config_dump(FILE *out, const aw_config *cfg, unsigned cmd) {
    for (size_t i = 0; i < NKEYS; i++) {
        const conf_key *k = &keys[i];
        if (!(k->cmds & cmd))
            continue;
        const char *base = (const char *)cfg + k->offset;
        if (k->offset == OFF(print_config))
            continue;
        switch (k->type) {
        case CT_ENUM:
            fprintf(out, "%s = %s\n", k->name, k->words[*(const int *)base]);
            break;
        case CT_DURATION:
        case CT_SIZE: {
            char v[32];
            (k->type == CT_DURATION ? aw_format_duration : aw_format_size)(*(const long *)base,
                                                                          v, sizeof v);
            fprintf(out, "%s = %s\n", k->name, v);
            break;
        }
        case CT_STR: {
            const char *v = *(char *const *)base;
            char shown[4096];
            aw_url_redact(v, shown, sizeof shown); /* a URL's credentials never show */
            fprintf(out, "%s = %s\n", k->name, k->secret && v && *v ? "(set)" : shown);
            break;
        }
        case CT_INT:
            fprintf(out, "%s = %ld\n", k->name, *(const long *)base);
            break;
        case CT_BOOL:
            fprintf(out, "%s = %s\n", k->name, *(const bool *)base ? "true" : "false");
            break;
        }
    }
    for (size_t i = 0; i < cfg->rdkafka_props_n; i++)
        fprintf(out, "-X %s=%s\n", cfg->rdkafka_props[i].key,
                aw_config_secret_prop(cfg->rdkafka_props[i].key) ? "(set)"
                                                                 : cfg->rdkafka_props[i].value);
}

bool aw_config_secret_prop(const char *key) {
    static const char *const marks[] = {"password", "secret", "key.pem", "token", "jaas",
                                        "oauthbearer.config", "keytab", "credential", NULL};
    for (int i = 0; marks[i]; i++)
        if (strstr(key, marks[i]))
            return true;
    return false;
}

int aw_parse_size(const char *s, int64_t *out) {
    static const struct { const char *unit; int64_t mult; } units[] = {
        {"", 1}, {"B", 1}, {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000},
        {"TB", 1000000000000}, {"KiB", 1024}, {"MiB", 1048576}, {"GiB", 1073741824},
        {"TiB", 1099511627776}};
    char *end;
    errno = 0;
    if (!s || *s < '0' || *s > '9')
        return AW_EINVAL;
    long long v = strtoll(s, &end, 10);
    if (errno)
        return AW_EINVAL;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].unit)) {
            if (v > INT64_MAX / units[i].mult)
                return AW_EINVAL;
            *out = v * units[i].mult;
            return AW_OK;
        }
    return AW_EINVAL;
}

int aw_parse_duration(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    if (!s || *s < '0' || *s > '9')
        return AW_EINVAL;
    if (!strcmp(s, "0")) { /* zero needs no unit */
        *out = 0;
        return AW_OK;
    }
    long long v = strtoll(s, &end, 10);
    static const char units[] = "smhdw";
    static const int64_t mult[] = {1, 60, 3600, 86400, 604800};
    const char *u = *end ? strchr(units, *end) : NULL;
    if (errno || !u || end[1] || v > INT64_MAX / mult[u - units])
        return AW_EINVAL;
    *out = v * mult[u - units];
    return AW_OK;
}

void aw_format_duration(int64_t s, char *out, size_t n) {
    static const char units[] = "wdhm";
    static const int64_t mult[] = {604800, 86400, 3600, 60};
    for (int i = 0; i < 4; i++)
        if (s > 0 && s % mult[i] == 0) {
            snprintf(out, n, "%lld%c", (long long)(s / mult[i]), units[i]);
            return;
        }
    snprintf(out, n, "%llds", (long long)s);
}

void aw_format_size(int64_t b, char *out, size_t n) {
    static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};
    for (int i = 0; i < 4; i++) {
        int64_t m = (int64_t)1 << (40 - 10 * i);
        if (b > 0 && b % m == 0) {
            snprintf(out, n, "%lld%s", (long long)(b / m), units[i]);
            return;
        }
    }
    snprintf(out, n, "%lld", (long long)b);
}
