/*
 * curl_lib.h - libcurl, loaded on first use instead of linked. Linking it
 * made every mlc process load libcurl and the ~30 libraries it needs (TLS,
 * Kerberos, LDAP, SSH, HTTP/2) at start-up, about 3.3 ms, even for commands
 * that never open a URL. core_curl() dlopens libcurl.so.4 the first time a
 * caller needs it and hands back its functions as a table; callers write
 * cu->easy_setopt(c, CURLOPT_URL, url) where they would write
 * curl_easy_setopt(c, CURLOPT_URL, url).
 *
 * Calling through the table bypasses curl.h's gcc type checks of
 * curl_easy_setopt/_getinfo (they are macros): numeric options take a long,
 * *_LARGE options a curl_off_t, callbacks the exact curl prototype.
 *
 * curl.h is still included for its types and constants (libcurl's -dev
 * package stays a build dependency); nothing may call a curl_* function
 * directly, or the linker would need the library again.
 */
#ifndef MLC_CORE_CURL_LIB_H
#define MLC_CORE_CURL_LIB_H

#include <curl/curl.h>

#include "mlc.h"

/* The libcurl functions mlc uses, under their names without "curl_". */
struct core_curl {
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *c);
    CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *c);
    const char *(*easy_strerror)(CURLcode rc);
    /* the result is released with free below, not mlc_free */
    char *(*easy_escape)(CURL *c, const char *s, int n);
    void (*free)(void *p);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
    void (*slist_free_all)(struct curl_slist *list);
    curl_mime *(*mime_init)(CURL *c);
    curl_mimepart *(*mime_addpart)(curl_mime *mime);
    CURLcode (*mime_name)(curl_mimepart *part, const char *name);
    CURLcode (*mime_filename)(curl_mimepart *part, const char *filename);
    CURLcode (*mime_type)(curl_mimepart *part, const char *type);
    CURLcode (*mime_data)(curl_mimepart *part, const char *data, size_t n);
    void (*mime_free)(curl_mime *mime);
};

/* Sets *cu_out to libcurl's functions, loaded (dlopen of libcurl.so.4, then
 * curl_global_init(CURL_GLOBAL_DEFAULT)) by the first call in the process;
 * every call hands out the same immutable table. When libcurl cannot be
 * loaded: MLC_STATUS_NETWORK, with a message naming the library and the
 * loader's reason, and *cu_out untouched; a failed load is not retried.
 * Thread-safe (pthread_once). The library stays loaded and initialised
 * until the process exits (no dlclose, no curl_global_cleanup), like
 * curl_global_init's own state. */
mlc_status core_curl(const struct core_curl **cu_out, mlc_error *err);

#endif
