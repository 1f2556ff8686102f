/*
 * mhd_lib.h - libmicrohttpd, loaded by the first mlc_server_start instead
 * of linked, so that the commands that serve nothing (classify, bench,
 * tensor, ...) do not load it and the TLS libraries it needs at start-up.
 * srv_mhd() dlopens libmicrohttpd.so.12 and hands back its functions as a
 * table: server.c writes s->mh->queue_response(...) where it would write
 * MHD_queue_response(...).
 *
 * microhttpd.h is still included for the types and constants (its -dev
 * package stays a build dependency); nothing may call an MHD_* function
 * directly, or the linker would need the library again.
 */
#ifndef MLC_SRV_MHD_LIB_H
#define MLC_SRV_MHD_LIB_H

#include <microhttpd.h>

#include "mlc.h"

/* The libmicrohttpd functions the server uses, under their names without
 * "MHD_". */
struct srv_mhd {
    struct MHD_Daemon *(*start_daemon)(unsigned int flags, uint16_t port,
                                       MHD_AcceptPolicyCallback apc, void *apc_cls,
                                       MHD_AccessHandlerCallback dh, void *dh_cls, ...);
    MHD_socket (*quiesce_daemon)(struct MHD_Daemon *d);
    void (*stop_daemon)(struct MHD_Daemon *d);
    const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *d,
                                                   enum MHD_DaemonInfoType info, ...);
    const char *(*lookup_connection_value)(struct MHD_Connection *mc, enum MHD_ValueKind kind,
                                           const char *key);
    void (*suspend_connection)(struct MHD_Connection *mc);
    void (*resume_connection)(struct MHD_Connection *mc);
    struct MHD_Response *(*create_response_from_buffer_with_free_callback)(
        size_t n, void *buf, MHD_ContentReaderFreeCallback free_cb);
    enum MHD_Result (*add_response_header)(struct MHD_Response *r, const char *name,
                                           const char *value);
    enum MHD_Result (*queue_response)(struct MHD_Connection *mc, unsigned int status,
                                      struct MHD_Response *r);
    void (*destroy_response)(struct MHD_Response *r);
};

/* Sets *mh_out to libmicrohttpd's functions, loaded (dlopen of
 * libmicrohttpd.so.12) by the first call in the process; every call hands
 * out the same immutable table. When the library cannot be loaded:
 * MLC_STATUS_UNSUPPORTED, with a message naming the library and the
 * loader's reason, and *mh_out untouched; a failed load is not retried.
 * Thread-safe (pthread_once). The library stays loaded until the process
 * exits (no dlclose). */
mlc_status srv_mhd(const struct srv_mhd **mh_out, mlc_error *err);

#endif
