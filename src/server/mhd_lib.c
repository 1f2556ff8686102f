/*
 * mhd_lib.c - loads libmicrohttpd on first use (mhd_lib.h): dlopen of
 * libmicrohttpd.so.12 and dlsym of every slot of struct srv_mhd, once per
 * process under pthread_once.
 *
 * It does not unload: the handle lives until the process exits, so a table
 * handed out stays valid for every daemon and thread. A load that failed is
 * remembered with its message and not retried.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "core/core.h"
#include "server/mhd_lib.h"

#define MHD_SONAME "libmicrohttpd.so.12"

/* Every slot of struct srv_mhd, loaded from the symbol "MHD_<slot>". */
#define MHD_SLOTS(X)                                                                               \
    X(start_daemon)                                                                                \
    X(quiesce_daemon)                                                                              \
    X(stop_daemon)                                                                                 \
    X(get_daemon_info)                                                                             \
    X(lookup_connection_value)                                                                     \
    X(suspend_connection)                                                                          \
    X(resume_connection)                                                                           \
    X(create_response_from_buffer_with_free_callback)                                              \
    X(add_response_header)                                                                         \
    X(queue_response)                                                                              \
    X(destroy_response)

#define COUNT_SLOT(s) +1
_Static_assert(sizeof(struct srv_mhd) == (0 MHD_SLOTS(COUNT_SLOT)) * sizeof(void (*)(void)),
               "MHD_SLOTS must name every slot of struct srv_mhd");

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct srv_mhd table;
static const struct srv_mhd *loaded; /* &table once complete, else NULL */
static char load_error[MLC_ERROR_MAX];

static void load(void)
{
    struct srv_mhd t;
    void *h = NULL, *sym = NULL;
    if (!(h = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL))) {
        snprintf(load_error, sizeof load_error,
                 "the HTTP server needs libmicrohttpd, which cannot be loaded: %s", dlerror());
        goto fail;
    }
    /* The cast names microhttpd.h's prototype, so a slot declared with
     * another type is a compile error (incompatible pointer types). */
#define LOAD_SLOT(s)                                                                               \
    if (!(sym = dlsym(h, "MHD_" #s))) goto missing;                                                \
    t.s = (__typeof__(&MHD_##s))sym;
    MHD_SLOTS(LOAD_SLOT)
#undef LOAD_SLOT
    table = t;
    loaded = &table;
    return;
missing:
    snprintf(load_error, sizeof load_error,
             "the HTTP server needs libmicrohttpd, which is unusable: %s", dlerror());
fail:
    if (h) dlclose(h);
}

mlc_status srv_mhd(const struct srv_mhd **mh_out, mlc_error *err)
{
    pthread_once(&once, load);
    if (!loaded) return core_err(err, MLC_STATUS_UNSUPPORTED, "%s", load_error);
    *mh_out = loaded;
    return MLC_OK;
}
