/*
 * A small HTTP server for GET and HEAD: the metrics endpoints and the web
 * console both sit on it. libmicrohttpd stays behind this header. Handlers
 * run on the server's threads; each request is answered in full (no
 * streaming), and the server owns the reply's body once it is set.
 */
#ifndef AW_SERVE_H
#define AW_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "aw/err.h"

typedef struct aw_server aw_server;
typedef struct aw_request aw_request;

/* What a handler answers. body is malloc'd (the server frees it); headers
 * are extra "Name: value" pairs, at most AW_REPLY_HEADERS. */
#define AW_REPLY_HEADERS 12
typedef struct aw_reply {
    unsigned status;
    char *body;
    size_t len;
    const char *type;
    const char *headers[AW_REPLY_HEADERS][2];
    size_t nheaders;
} aw_reply;

typedef void (*aw_handler)(void *ud, const aw_request *rq, aw_reply *rp);

/* The request's path (percent-decoded), method and a query argument or a
 * header by name (NULL when absent). */
const char *aw_request_path(const aw_request *rq);
const char *aw_request_method(const aw_request *rq);
const char *aw_request_arg(const aw_request *rq, const char *name);
const char *aw_request_header(const aw_request *rq, const char *name);

/* Sets the reply: status, type and a body it takes (NULL: no memory, 500). */
void aw_reply_set(aw_reply *rp, unsigned status, const char *type, char *body);
/* Adds a header; name and value must outlive the request (literals). */
void aw_reply_header(aw_reply *rp, const char *name, const char *value);

/* Parses "HOST:PORT" ("0.0.0.0:9464", "[::1]:8080", ":9464" for every
 * address). AW_ECONFIG with the reason when it is not one. loopback tells
 * whether only this machine can connect. */
int aw_serve_addr_check(const char *addr, bool *loopback, char *errstr, size_t errstr_size) AW_WUR;

/* Serves on addr with threads worker threads (1: one internal thread).
 * AW_ECONFIG with the reason when addr is malformed or cannot be bound. */
int aw_serve_start(const char *addr, unsigned threads, aw_handler h, void *ud, aw_server **out,
                   char *errstr, size_t errstr_size) AW_WUR;
void aw_serve_stop(aw_server *s);

#endif
