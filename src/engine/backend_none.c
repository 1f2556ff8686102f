/*
 * backend_none.c - the default eng_dnnl_partition(): partitions nothing, so
 * every node runs on the reference kernels. Compiled to nothing when
 * src/engine/dnnl/ holds sources (CMake defines MLC_HAVE_DNNL_PARTITION), and
 * weak besides, so the real partitioner always wins at link time.
 */
#include "engine/backend.h"

#ifndef MLC_HAVE_DNNL_PARTITION
__attribute__((weak)) mlc_status
eng_dnnl_partition(struct ir_graph *g, const struct eng_backend_opts *o, mlc_error *err)
{
    (void)g;
    (void)o;
    (void)err;
    return MLC_OK;
}

__attribute__((weak)) void eng_dnnl_variant(const struct eng_backend_opts *o, char *buf, size_t n)
{
    (void)o;
    if (n) buf[0] = 0;
}
#endif
