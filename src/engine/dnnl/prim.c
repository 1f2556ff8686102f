/*
 * prim.c - how the oneDNN region makes its primitive descs: the attributes
 * every one starts from, and which of oneDNN's implementations a desc takes
 * (no reference kernels where a caller has a fallback; jit_dw over
 * brdgmm_dw for float32 depthwise convolutions), the dense layout a
 * transposed matmul operand is copied into so that brgemm takes it, and
 * oneDNN's status names for error messages.
 *
 * Not here: the descs themselves (region.c) and creating the primitives
 * (run_jobs in region.c, on two threads).
 */
#include <string.h>

#include "engine/dnnl/dn.h"

/* The attributes every region primitive starts from. Scratchpads are the
 * region's (user mode): oneDNN's own (library mode) is a per-thread buffer
 * sized when a primitive is made, so a primitive made on one thread (bind's
 * job helper; a server session bound by one request thread) and run on
 * another would write through the other thread's buffer, or through NULL. */
dnnl_status_t dn_region_attr(dnnl_primitive_attr_t *attr)
{
    dnnl_status_t r = dnnl_primitive_attr_create(attr);
    if (r == dnnl_success)
        r = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    return r;
}

dnnl_status_t dn_make_prim(const_dnnl_op_desc_t d, const_dnnl_primitive_attr_t attr,
                           dnnl_engine_t eng, dnnl_primitive_desc_t *pd, int reject_ref)
{
    dnnl_status_t r = dnnl_primitive_desc_create(pd, d, attr, eng, NULL);
    if (r != dnnl_success || !reject_ref) return r;
    const char *impl = NULL;
    dnnl_primitive_desc_query(*pd, dnnl_query_impl_info_str, 0, &impl);
    if (impl && strstr(impl, "ref")) {
        dnnl_primitive_desc_destroy(*pd);
        *pd = NULL;
        return dnnl_unimplemented;
    }
    return dnnl_success;
}

/* The desc's first implementation, unless its name starts with avoid and a
 * later one (before the reference kernels) starts with prefer: then that one.
 * For float32 depthwise convolutions oneDNN 2.6.3 lists brdgmm_dw first;
 * jit_dw ran 5-32% faster at batch 1 on the mobilenet_v3 and efficientnet
 * shapes measured and within 2% or faster at batch 8 (mlc_micro_dnnl section
 * 5; docs/PERFORMANCE.md). */
dnnl_status_t dn_make_prim_prefer(const_dnnl_op_desc_t d, const_dnnl_primitive_attr_t attr,
                                  dnnl_engine_t eng, dnnl_primitive_desc_t *pd, const char *avoid,
                                  const char *prefer)
{
    dnnl_primitive_desc_iterator_t it = NULL;
    dnnl_status_t r = dnnl_primitive_desc_iterator_create(&it, d, attr, eng, NULL);
    if (r != dnnl_success) return r;
    dnnl_primitive_desc_t first = dnnl_primitive_desc_iterator_fetch(it), pick = NULL;
    const char *impl = NULL;
    if (!first) {
        r = dnnl_out_of_memory;
        goto done;
    }
    dnnl_primitive_desc_query(first, dnnl_query_impl_info_str, 0, &impl);
    if (impl && !strncmp(impl, avoid, strlen(avoid))) {
        while (!pick && dnnl_primitive_desc_iterator_next(it) == dnnl_success) {
            dnnl_primitive_desc_t q = dnnl_primitive_desc_iterator_fetch(it);
            impl = NULL;
            if (q) dnnl_primitive_desc_query(q, dnnl_query_impl_info_str, 0, &impl);
            if (impl && !strncmp(impl, prefer, strlen(prefer)))
                pick = q;
            else if (q)
                dnnl_primitive_desc_destroy(q);
            if (impl && strstr(impl, "ref")) break;
        }
    }
    if (pick) {
        dnnl_primitive_desc_destroy(first);
        first = pick;
    }
    *pd = first;
done:
    dnnl_primitive_desc_iterator_destroy(it);
    return r;
}

/* A dense layout for the view v that keeps the order of its last two axes'
 * strides: copying into it moves whole rows of v's innermost axis, and a
 * transposed matrix stays transposed, which brgemm matmul takes. */
void dn_md_dense_like(dnnl_memory_desc_t *md, const dnnl_memory_desc_t *v, dnnl_data_type_t dt)
{
    int r = v->ndims;
    const dnnl_dim_t *vs = v->format_desc.blocking.strides;
    dnnl_dims_t st;
    if (r < 2) {
        dnnl_memory_desc_init_by_tag(md, r, v->dims, dt, dn_plain_tag(r));
        return;
    }
    if (vs[r - 2] < vs[r - 1])
        st[r - 2] = 1, st[r - 1] = v->dims[r - 2];
    else
        st[r - 1] = 1, st[r - 2] = v->dims[r - 1];
    dnnl_dim_t n = v->dims[r - 1] * v->dims[r - 2];
    for (int i = r - 3; i >= 0; i--) st[i] = n, n *= v->dims[i];
    dnnl_memory_desc_init_by_strides(md, r, v->dims, dt, st);
}

const char *dn_status_str(dnnl_status_t s)
{
    switch (s) {
    case dnnl_success:
        return "success";
    case dnnl_out_of_memory:
        return "out of memory";
    case dnnl_invalid_arguments:
        return "invalid arguments";
    case dnnl_unimplemented:
        return "unimplemented";
    case dnnl_iterator_ends:
        return "iterator ends";
    case dnnl_runtime_error:
        return "runtime error";
    case dnnl_not_required:
        return "not required";
    default:
        return "unknown error";
    }
}
