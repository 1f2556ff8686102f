/*
 * curl_lib.c - loads libcurl on first use (curl_lib.h): dlopen of
 * libcurl.so.4, dlsym of every slot of struct core_curl, then
 * curl_global_init, once per process under pthread_once.
 *
 * It does not unload: the handle and curl's global state live until the
 * process exits, so a table handed out stays valid on every thread. A load
 * that failed is remembered with its message and not retried (a library
 * installed later is seen by the next process).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "core/core.h"
#include "core/curl_lib.h"

#define CURL_SONAME "libcurl.so.4"

/* Every slot of struct core_curl, loaded from the symbol "curl_<slot>". */
#define CURL_SLOTS(X)                                                                              \
    X(easy_init)                                                                                   \
    X(easy_setopt)                                                                                 \
    X(easy_perform)                                                                                \
    X(easy_getinfo)                                                                                \
    X(easy_cleanup)                                                                                \
    X(easy_strerror)                                                                               \
    X(easy_escape)                                                                                 \
    X(free)                                                                                        \
    X(slist_append)                                                                                \
    X(slist_free_all)                                                                              \
    X(mime_init)                                                                                   \
    X(mime_addpart)                                                                                \
    X(mime_name)                                                                                   \
    X(mime_filename)                                                                               \
    X(mime_type)                                                                                   \
    X(mime_data)                                                                                   \
    X(mime_free)

#define COUNT_SLOT(s) +1
_Static_assert(sizeof(struct core_curl) == (0 CURL_SLOTS(COUNT_SLOT)) * sizeof(void (*)(void)),
               "CURL_SLOTS must name every slot of struct core_curl");

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct core_curl table;
static const struct core_curl *loaded; /* &table once complete, else NULL */
static char load_error[MLC_ERROR_MAX];

static void load(void)
{
    struct core_curl t;
    void *h = NULL, *sym = NULL;
    CURLcode rc = CURLE_OK;
    if (!(h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL))) {
        snprintf(load_error, sizeof load_error,
                 "URL transfers need libcurl, which cannot be loaded: %s", dlerror());
        goto fail;
    }
    /* The cast names curl.h's prototype, so a slot declared with another
     * type is a compile error (incompatible pointer types). */
#define LOAD_SLOT(s)                                                                               \
    if (!(sym = dlsym(h, "curl_" #s))) goto missing;                                               \
    t.s = (__typeof__(&curl_##s))sym;
    CURL_SLOTS(LOAD_SLOT)
#undef LOAD_SLOT
    if (!(sym = dlsym(h, "curl_global_init"))) goto missing;
    if ((rc = ((__typeof__(&curl_global_init))sym)(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
        snprintf(load_error, sizeof load_error, "%s: curl_global_init failed: %s", CURL_SONAME,
                 t.easy_strerror(rc));
        goto fail;
    }
    table = t;
    loaded = &table;
    return;
missing:
    snprintf(load_error, sizeof load_error, "URL transfers need libcurl, which is unusable: %s",
             dlerror());
fail:
    if (h) dlclose(h);
}

mlc_status core_curl(const struct core_curl **cu_out, mlc_error *err)
{
    pthread_once(&once, load);
    if (!loaded) return core_err(err, MLC_STATUS_NETWORK, "%s", load_error);
    *cu_out = loaded;
    return MLC_OK;
}
