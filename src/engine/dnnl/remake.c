/*
 * remake.c - a step's primitive made again after its session's bind, from
 * the desc bind kept: for the other thread count of the threading levels
 * (dn_step_alt, adapt.c picks the level), and for a one-row matmul that
 * bind put on its weights as the file stores them for a fast first run,
 * on packed weights from its second run on (dn_step_repack).
 *
 * Not here: the first primitives (bind, region.c; made by jobs.c) and
 * which step runs which one (dn_run, region.c).
 */
#include <pthread.h>

#include "engine/dnnl/region.h"

/* Makes step t's primitive again for `threads` threads (t->alt), from its
 * kept primitive desc, with exactly the memory layouts of the first (the
 * buffers around it are planned for those). Returns 1 when it tried: that
 * run is then not timed. On any failure the step keeps its one primitive. */
int dn_step_alt(struct dn_state *s, struct step *t, int threads, int nt)
{
    const_dnnl_op_desc_t od = NULL;
    const_dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    t->alt_failed = 1;
    if (!t->pd || dnnl_primitive_desc_query(t->pd, dnnl_query_op_d, 0, &od) != dnnl_success ||
        dnnl_primitive_desc_get_attr(t->pd, &attr) != dnnl_success)
        return 1;
    /* The thread count matters twice: the desc sizes the kernel's work split
     * and the primitive cache keys on the count at primitive creation (the
     * other count would hand back t->prim itself). */
    dn_set_threads(threads);
    dnnl_status_t r = dn_make_prim(od, attr, s->eng, &pd, 1);
    if (r != dnnl_success) goto out;
    if (dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)) >
        s->scratch_size)
        goto done;
    for (int k = 0; k < t->n_args; k++) {
        if (t->args[k].arg == DNNL_ARG_SCRATCHPAD) continue; /* the region's block, checked above */
        const dnnl_memory_desc_t *a =
            dnnl_primitive_desc_query_md(t->pd, dnnl_query_exec_arg_md, t->args[k].arg);
        const dnnl_memory_desc_t *b =
            dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, t->args[k].arg);
        if (!a || !b || !dnnl_memory_desc_equal(a, b)) goto done;
    }
    if (dnnl_primitive_create(&t->alt, pd) == dnnl_success) t->alt_failed = 0;
done:
    dnnl_primitive_desc_destroy(pd);
out:
    dn_set_threads(nt);
    return 1;
}

/* Step t, a one-row matmul bound on its weights as stored (plain_row), on
 * packed ones from now on: the kept desc again with weights "any", the
 * weights packed (pack.c, shared with the other sessions), the primitive
 * made. Its plain copy is freed once no session binds it. Returns 1 when
 * it tried (that run is then not timed); on any failure the step keeps
 * its plain weights. */
int dn_step_repack(struct dn_ctx *c, struct dn_state *s, struct step *t, int nt)
{
    const struct dn_op *op = t->row_op;
    const_dnnl_op_desc_t od = NULL;
    const_dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    dnnl_memory_t m = NULL;
    void *data = NULL;
    int wi = -1;
    t->row_op = NULL;
    for (int k = 0; k < t->n_args; k++)
        if (t->args[k].arg == DNNL_ARG_WEIGHTS) wi = k;
    if (wi < 0 || !t->pd || dnnl_primitive_desc_query(t->pd, dnnl_query_op_d, 0, &od) ||
        dnnl_primitive_desc_get_attr(t->pd, &attr))
        return 1;
    dnnl_matmul_desc_t d = *(const dnnl_matmul_desc_t *)od;
    dnnl_memory_desc_init_by_tag(&d.weights_desc, 2, d.weights_desc.dims, dnnl_f32,
                                 dnnl_format_tag_any);
    dn_set_threads(t->single ? 1 : nt);
    if (dn_make_prim(&d, attr, s->eng, &pd, 1) != dnnl_success) goto out;
    size_t scratch =
        dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
    if (scratch > s->scratch_size || (scratch && !t->scratch)) goto out;
    static const int same[3] = {DNNL_ARG_SRC, DNNL_ARG_BIAS, DNNL_ARG_DST};
    for (int k = 0; k < 3; k++) {
        const dnnl_memory_desc_t *a =
            dnnl_primitive_desc_query_md(t->pd, dnnl_query_exec_arg_md, same[k]);
        const dnnl_memory_desc_t *b =
            dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, same[k]);
        if (!a != !b || (a && !dnnl_memory_desc_equal(a, b))) goto out;
    }
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (dn_mem_new(s, want, -1, NULL, &m) != dnnl_success ||
        dn_const_get(c, op, op->w, want, NULL, &data) != dnnl_success ||
        dnnl_memory_set_data_handle(m, data) != dnnl_success ||
        dnnl_primitive_create(&p, pd) != dnnl_success)
        goto out;
    dnnl_primitive_destroy(t->prim);
    t->prim = p;
    if (t->alt) dnnl_primitive_destroy(t->alt);
    t->alt = NULL;
    t->alt_failed = 0;
    dnnl_primitive_desc_destroy(t->pd);
    t->pd = pd;
    pd = NULL;
    t->args[wi].memory = m; /* the plain one stays in s->mems until unbind */
    struct dn_const *k = &c->consts[op->w];
    pthread_mutex_lock(&c->lock);
    while (k->busy) pthread_cond_wait(&c->cond, &c->lock);
    if (k->n_pk_plain_users > 0 && --k->n_pk_plain_users == 0 && k->n_pk > 0 && k->data) {
        mlc_free(k->data);
        k->data = NULL;
    }
    pthread_mutex_unlock(&c->lock);
out:
    if (pd) dnnl_primitive_desc_destroy(pd);
    dn_set_threads(nt);
    return 1;
}
