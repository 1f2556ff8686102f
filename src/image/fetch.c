/*
 * fetch.c - downloads an image URL with libcurl under mlc_limits: http and
 * https only (also on every redirect hop), at most 5 redirects, the whole
 * transfer bounded by url_timeout_ms, and the body by max_url_bytes (the
 * transfer is aborted the moment it grows past it, and refused up front
 * when Content-Length already says so). With public_only, every socket
 * curl is about to connect is checked and loopback / private / link-local
 * / unspecified / multicast addresses are refused, which also covers
 * redirects and DNS answers that point inwards.
 *
 * It does not decode, cache or retry. Thread-safe: one easy handle per
 * call, no signals (CURLOPT_NOSIGNAL); libcurl is loaded and initialised
 * once, on the first fetch (core/curl_lib.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/curl_lib.h"
#include "image/image.h"

struct fetch {
    struct core_buf body;
    size_t max;
    int too_big;
    int refused;
    char refused_addr[INET6_ADDRSTRLEN];
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct fetch *f = user;
    size_t n = size * nmemb;
    if (f->body.len + n > f->max) {
        f->too_big = 1;
        return 0; /* aborts the transfer */
    }
    return core_buf_append(&f->body, ptr, n) == MLC_OK ? n : 0;
}

static int v4_private(uint32_t a)
{
    uint8_t b0 = a >> 24, b1 = (a >> 16) & 0xFF;
    return b0 == 0 || b0 == 10 || b0 == 127 || (b0 == 169 && b1 == 254) ||
           (b0 == 172 && (b1 & 0xF0) == 16) || (b0 == 192 && b1 == 168) ||
           (b0 == 100 && (b1 & 0xC0) == 64) || b0 >= 224;
}

static int sockaddr_private(const struct sockaddr *sa, char *text, size_t cap)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)cap);
        return v4_private(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        const uint8_t *b = in6->sin6_addr.s6_addr;
        inet_ntop(AF_INET6, b, text, (socklen_t)cap);
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
        if (memcmp(b, v4mapped, 12) == 0)
            return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 |
                              b[15]);
        int zero = 1;
        for (int i = 0; i < 15; i++) zero &= b[i] == 0;
        if (zero) return 1;                                  /* :: and ::1 */
        if (b[0] == 0xFF) return 1;                          /* multicast */
        if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return 1; /* link-local */
        if ((b[0] & 0xFE) == 0xFC) return 1;                 /* unique local */
        return 0;
    }
    return 1;
}

int img_addr_is_private(const char *addr)
{
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    char tmp[INET6_ADDRSTRLEN];
    memset(&in, 0, sizeof in);
    memset(&in6, 0, sizeof in6);
    if (inet_pton(AF_INET, addr, &in.sin_addr) == 1) {
        in.sin_family = AF_INET;
        return sockaddr_private((struct sockaddr *)&in, tmp, sizeof tmp);
    }
    if (inet_pton(AF_INET6, addr, &in6.sin6_addr) == 1) {
        in6.sin6_family = AF_INET6;
        return sockaddr_private((struct sockaddr *)&in6, tmp, sizeof tmp);
    }
    return 1; /* not an address: treat as unsafe */
}

static curl_socket_t open_public_socket(void *user, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct fetch *f = user;
    if (purpose == CURLSOCKTYPE_IPCXN &&
        sockaddr_private(&a->addr, f->refused_addr, sizeof f->refused_addr)) {
        f->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

mlc_status img_fetch_url(const char *url, const mlc_limits *limits, int public_only,
                         uint8_t **data_out, size_t *n_out, mlc_error *err)
{
    mlc_limits def;
    mlc_limits_default(&def);
    size_t max = limits && limits->max_url_bytes ? limits->max_url_bytes : def.max_url_bytes;
    long timeout =
        limits && limits->url_timeout_ms > 0 ? limits->url_timeout_ms : def.url_timeout_ms;
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                        "only http:// and https:// URLs are fetched");
    const struct core_curl *cu = NULL;
    mlc_status st = core_curl(&cu, err);
    if (st) return st;
    struct fetch f;
    memset(&f, 0, sizeof f);
    core_buf_init(&f.body, max + 1);
    f.max = max;
    char cerr[CURL_ERROR_SIZE] = "";
    CURL *c = cu->easy_init();
    if (!c) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "cannot start a URL transfer");
        goto fail;
    }
    cu->easy_setopt(c, CURLOPT_URL, url);
    cu->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    cu->easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    cu->easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
    cu->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    cu->easy_setopt(c, CURLOPT_WRITEDATA, &f);
    cu->easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    cu->easy_setopt(c, CURLOPT_USERAGENT, "mlc/" MLC_VERSION);
    cu->easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (public_only) {
        cu->easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_public_socket);
        cu->easy_setopt(c, CURLOPT_OPENSOCKETDATA, &f);
    }
    CURLcode rc = cu->easy_perform(c);
    long code = 0;
    cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (f.refused) {
        st = core_err(
            err, MLC_STATUS_INVALID_ARGUMENT,
            "URL host resolves to a private or loopback address (%s), which is not allowed",
            f.refused_addr);
        goto fail;
    }
    if (f.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        st = core_err(err, MLC_STATUS_LIMIT, "URL body is larger than the limit of %zu bytes", max);
        goto fail;
    }
    if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
        st = core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                      "URL redirects to a scheme other than http/https");
        goto fail;
    }
    if (rc != CURLE_OK) {
        st = core_err(err, MLC_STATUS_NETWORK, "cannot fetch URL: %s",
                      cerr[0] ? cerr : cu->easy_strerror(rc));
        goto fail;
    }
    if (code < 200 || code >= 300) {
        st = core_err(err, code == 404 ? MLC_STATUS_NOT_FOUND : MLC_STATUS_NETWORK,
                      "URL answered HTTP %ld", code);
        goto fail;
    }
    cu->easy_cleanup(c);
    *n_out = f.body.len;
    if (!f.body.data) {
        *data_out = mlc_alloc(1);
        if (!*data_out) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        return MLC_OK;
    }
    *data_out = (uint8_t *)core_buf_take(&f.body);
    return MLC_OK;
fail:
    if (c) cu->easy_cleanup(c);
    core_buf_free(&f.body);
    return st;
}
