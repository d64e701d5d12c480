/*
 * The HTTP server of aw/serve.h over libmicrohttpd: address parsing, the
 * request accessors, and one access handler that turns a reply into a
 * response. GET and HEAD only; a request with a body is refused.
 */
#include "aw/serve.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct aw_server {
    struct MHD_Daemon *d;
    aw_handler h;
    void *ud;
};

struct aw_request {
    struct MHD_Connection *c;
    const char *path, *method;
};

const char *aw_request_path(const aw_request *rq) { return rq->path; }
const char *aw_request_method(const aw_request *rq) { return rq->method; }

const char *aw_request_arg(const aw_request *rq, const char *name) {
    return MHD_lookup_connection_value(rq->c, MHD_GET_ARGUMENT_KIND, name);
}

const char *aw_request_header(const aw_request *rq, const char *name) {
    return MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND, name);
}

void aw_reply_set(aw_reply *rp, unsigned status, const char *type, char *body) {
    free(rp->body);
    rp->status = body ? status : 500;
    rp->type = body ? type : "text/plain; charset=utf-8";
    rp->body = body;
    rp->len = body ? strlen(body) : 0;
}

void aw_reply_header(aw_reply *rp, const char *name, const char *value) {
    if (rp->nheaders < AW_REPLY_HEADERS) {
        rp->headers[rp->nheaders][0] = name;
        rp->headers[rp->nheaders][1] = value;
        rp->nheaders++;
    }
}

static enum MHD_Result respond(struct MHD_Connection *c, aw_reply *rp) {
    static const char oom[] = "out of memory\n";
    struct MHD_Response *r =
        rp->body ? MHD_create_response_from_buffer(rp->len, rp->body, MHD_RESPMEM_MUST_FREE)
                 : MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom,
                                                   MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(rp->body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", rp->type ? rp->type : "text/plain; charset=utf-8");
    for (size_t i = 0; i < rp->nheaders; i++)
        MHD_add_response_header(r, rp->headers[i][0], rp->headers[i][1]);
    enum MHD_Result ret = MHD_queue_response(c, rp->body ? rp->status : 500, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *c, const char *url,
                                      const char *method, const char *version,
                                      const char *upload, size_t *upload_size, void **state) {
    (void)version;
    (void)upload;
    (void)state;
    aw_server *s = cls;
    if (*upload_size)
        return MHD_NO;
    aw_reply rp = {0};
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        aw_reply_set(&rp, 405, "text/plain; charset=utf-8", strdup("only GET and HEAD\n"));
        aw_reply_header(&rp, "Allow", "GET, HEAD");
        aw_reply_header(&rp, "X-Content-Type-Options", "nosniff");
        return respond(c, &rp);
    }
    aw_request rq = {.c = c, .path = url, .method = method};
    s->h(s->ud, &rq, &rp);
    if (!rp.body && rp.status == 0)
        aw_reply_set(&rp, 500, "text/plain; charset=utf-8", strdup("no reply\n"));
    return respond(c, &rp);
}

/* addr into ss; *v6 when it is an IPv6 address. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, bool *v6, bool *loopback,
                      char *errstr, size_t n) {
    memset(ss, 0, sizeof *ss);
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    char host[128] = "";
    if (colon && (size_t)(colon - addr) < sizeof host)
        snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    *v6 = host[0] == '[';
    size_t hl = strlen(host);
    bool ok = colon && (size_t)(colon - addr) < sizeof host && port > 0 && port < 65536 &&
              colon[1] &&
              strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
              (!*v6 || (hl >= 2 && host[hl - 1] == ']'));
    if (ok && *v6) {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        ok = inet_pton(AF_INET6, host, &s6->sin6_addr) == 1;
        *loopback = ok && IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
    } else if (ok) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (!host[0])
            s4->sin_addr.s_addr = htonl(INADDR_ANY);
        else
            ok = inet_pton(AF_INET, host, &s4->sin_addr) == 1;
        *loopback = ok && (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    }
    if (!ok) {
        snprintf(errstr, n, "address \"%s\": expected HOST:PORT with a numeric address, "
                 "e.g. 127.0.0.1:8080, 0.0.0.0:9464 or [::]:9464", addr ? addr : "");
        return AW_ECONFIG;
    }
    return AW_OK;
}

int aw_serve_addr_check(const char *addr, bool *loopback, char *errstr, size_t n) {
    struct sockaddr_storage ss;
    bool v6;
    return parse_addr(addr, &ss, &v6, loopback, errstr, n);
}

int aw_serve_start(const char *addr, unsigned threads, aw_handler h, void *ud, aw_server **out,
                   char *errstr, size_t n) {
    *out = NULL;
    struct sockaddr_storage ss;
    bool v6, loopback;
    int rc = parse_addr(addr, &ss, &v6, &loopback, errstr, n);
    if (rc != AW_OK)
        return rc;
    aw_server *s = calloc(1, sizeof *s);
    if (!s)
        return AW_ENOMEM;
    s->h = h;
    s->ud = ud;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | (v6 ? MHD_USE_IPv6 : 0);
    uint16_t port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                             : ((struct sockaddr_in *)&ss)->sin_port);
    s->d = MHD_start_daemon(flags, port, NULL, NULL, access_handler, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 1u,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)(16 * (threads ? threads : 1)),
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!s->d) {
        snprintf(errstr, n, "address \"%s\": cannot listen there (in use?)", addr);
        free(s);
        return AW_ECONFIG;
    }
    *out = s;
    return AW_OK;
}

void aw_serve_stop(aw_server *s) {
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    free(s);
}
