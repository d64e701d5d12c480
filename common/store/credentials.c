/*
 * S3 credentials: checked before they reach a request (an access key, a
 * secret and a session token become the Authorization header and
 * x-amz-security-token, so a stray newline in a mounted secret must never
 * become a second header), and read from an AWS shared credentials file,
 * which rotating temporary credentials rewrite in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aw/codec.h"
#include "internal.h"

static void wipe(char *s) {
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

void aw_s3_creds_clear(aw_s3_creds *c) {
    if (!c)
        return;
    wipe(c->access_key);
    wipe(c->secret_key);
    wipe(c->session_token);
    memset(c, 0, sizeof *c);
}

int aw_s3_creds_check(const aw_s3_creds *c, const char *source, char *errstr, size_t n) {
    if (!c->access_key || !*c->access_key)
        return AW_OK; /* unsigned requests */
    if (!aw_token_ok(c->access_key, 128) || strchr(c->access_key, ':')) {
        snprintf(errstr, n, "%s: the access key id is not 1 to 128 visible characters "
                 "without ':'", source);
        return AW_ECONFIG;
    }
    if (!c->secret_key || !*c->secret_key) {
        snprintf(errstr, n, "%s: an access key id is set but no secret access key", source);
        return AW_ECONFIG;
    }
    if (!aw_token_ok(c->secret_key, 256)) {
        snprintf(errstr, n, "%s: the secret access key is not 1 to 256 visible characters",
                 source);
        return AW_ECONFIG;
    }
    if (c->session_token && *c->session_token && !aw_token_ok(c->session_token, 16384)) {
        snprintf(errstr, n, "%s: the session token is not 1 to 16384 visible characters",
                 source);
        return AW_ECONFIG;
    }
    return AW_OK;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

int aw_s3_creds_read_file(const char *path, const char *profile, aw_s3_creds *out,
                          char *errstr, size_t n) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, n, "cannot open credentials file %s: %s", path, strerror(errno));
        return AW_ECONFIG;
    }
    const char *want = profile && *profile ? profile : "default";
    char line[20000];
    bool in_profile = false, found = false;
    int rc = AW_OK;
    while (rc == AW_OK && fgets(line, sizeof line, f)) {
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end)
                continue;
            *end = '\0';
            char *name = trim(s + 1);
            if (!strncmp(name, "profile ", 8)) /* the config file's spelling */
                name = trim(name + 8);
            in_profile = !strcmp(name, want);
            found |= in_profile;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!in_profile || !eq)
            continue;
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1), **dst = NULL;
        if (!strcmp(k, "aws_access_key_id"))
            dst = &out->access_key;
        else if (!strcmp(k, "aws_secret_access_key"))
            dst = &out->secret_key;
        else if (!strcmp(k, "aws_session_token") || !strcmp(k, "aws_security_token"))
            dst = &out->session_token;
        if (dst) {
            free(*dst);
            if (!(*dst = strdup(v)))
                rc = AW_ENOMEM;
        }
    }
    fclose(f);
    if (rc == AW_OK && !found) {
        snprintf(errstr, n, "credentials file %s has no profile [%s]", path, want);
        rc = AW_ECONFIG;
    }
    if (rc == AW_OK && (!out->access_key || !out->secret_key)) {
        snprintf(errstr, n, "credentials file %s: profile [%s] lacks aws_access_key_id or "
                 "aws_secret_access_key", path, want);
        rc = AW_ECONFIG;
    }
    if (rc == AW_OK) {
        char src[600];
        snprintf(src, sizeof src, "credentials file %s [%s]", path, want);
        rc = aw_s3_creds_check(out, src, errstr, n);
    }
    if (rc != AW_OK)
        aw_s3_creds_clear(out);
    return rc;
}

static void wipe_str(char **p) {
    if (*p) {
        memset(*p, 0, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

int aw_s3_auth_use(aw_s3_auth *a, const aw_s3_creds *c) {
    char *userpwd = NULL, *h0 = NULL, *h1 = NULL;
    if (c->access_key && *c->access_key) {
        size_t ul = strlen(c->access_key) + strlen(c->secret_key) + 2;
        bool tok = c->session_token && *c->session_token;
        size_t tl = tok ? strlen(c->session_token) + 32 : 0;
        userpwd = malloc(ul);
        h0 = strdup("x-amz-content-sha256: " EMPTY_SHA256);
        h1 = tok ? malloc(tl) : NULL;
        if (!userpwd || !h0 || (tok && !h1)) {
            free(userpwd), free(h0), free(h1);
            return AW_ENOMEM;
        }
        snprintf(userpwd, ul, "%s:%s", c->access_key, c->secret_key);
        if (tok)
            snprintf(h1, tl, "x-amz-security-token: %s", c->session_token);
    }
    wipe_str(&a->userpwd), wipe_str(&a->headers[0]), wipe_str(&a->headers[1]);
    a->userpwd = userpwd;
    a->headers[0] = h0;
    a->headers[1] = h1;
    return AW_OK;
}

int aw_s3_auth_refresh(aw_s3_auth *a, char *errstr, size_t n) {
    struct stat st;
    if (!a->cred_file)
        return AW_OK;
    if (stat(a->cred_file, &st) != 0) {
        snprintf(errstr, n, "credentials file %s: %s", a->cred_file, strerror(errno));
        return AW_ECONFIG;
    }
    if (st.st_mtim.tv_sec == a->cred_mtime.tv_sec &&
        st.st_mtim.tv_nsec == a->cred_mtime.tv_nsec && st.st_size == a->cred_size)
        return AW_OK;
    aw_s3_creds c;
    int rc = aw_s3_creds_read_file(a->cred_file, a->profile, &c, errstr, n);
    if (rc == AW_OK)
        rc = aw_s3_auth_use(a, &c);
    aw_s3_creds_clear(&c);
    if (rc == AW_OK) {
        a->cred_mtime = st.st_mtim;
        a->cred_size = st.st_size;
    }
    return rc;
}

void aw_s3_auth_clear(aw_s3_auth *a) {
    wipe_str(&a->userpwd), wipe_str(&a->headers[0]), wipe_str(&a->headers[1]);
    free(a->cred_file), free(a->profile);
    a->cred_file = a->profile = NULL;
}
