/*
 * jobs.c - the work a first bind defers (struct job): packing each constant
 * into the layout its primitive asked for, and making the primitives (the JIT
 * compile), both most of a first run and independent of one another once
 * every primitive desc is made. They run on the binding thread and one
 * helper thread, split as take_packs and job_helper say.
 *
 * Not here: which jobs there are (region.c's bind), packing itself (pack.c).
 */
#include <pthread.h>
#include <stdlib.h>

#include "engine/dnnl/region.h"

/* A packing job and the size of its packed copy. */
struct pack_ref {
    size_t bytes;
    int job;
};

struct job_run {
    struct dn_ctx *c;
    struct dn_state *s;
    int nt;                 /* the session's threads */
    atomic_int next;        /* primitive jobs taken (from the end) */
    atomic_int helper_busy; /* the helper thread is compiling or packing */
    struct pack_ref *packs; /* the packing jobs, smallest first */
    int n_packs;
};

static int pack_ref_cmp(const void *a, const void *b)
{
    const struct pack_ref *x = a, *y = b;
    return x->bytes < y->bytes ? -1 : x->bytes > y->bytes ? 1 : x->job - y->job;
}

static void do_job(struct dn_ctx *c, struct dn_state *s, struct job *j, struct dn_spare *spare)
{
    if (j->cid >= 0) {
        void *data = NULL;
        j->r = j->q8 ? dn_const_get_q8(c, j->op, j->cid, &j->md, &data)
                     : dn_const_get(c, j->op, j->cid, &j->md, spare, &data);
        if (j->r == dnnl_success) j->r = dnnl_memory_set_data_handle(j->mem, data);
        return;
    }
    /* The count the desc was made for: the primitive cache keys on it. */
    dn_set_threads(j->threads);
    j->r = dnnl_primitive_create(&s->steps[j->step].prim, j->pd);
    if (j->r == dnnl_success && j->keep_pd) {
        s->steps[j->step].pd = j->pd;
        j->pd = NULL;
    }
}

/* Primitive jobs (from the end: the big kernels of the last layers first). */
static void take_prims(struct job_run *jr)
{
    for (int i; (i = atomic_fetch_add(&jr->next, 1)) < jr->s->n_jobs;) {
        struct job *j = &jr->s->jobs[jr->s->n_jobs - 1 - i];
        if (j->cid < 0) do_job(jr->c, jr->s, j, NULL);
    }
}

/* The packing jobs this thread claims: the packer with a spare buffer takes
 * every one, largest first, so that each plain copy it frees is large enough
 * for the next packed one (struct dn_spare: one constant's worth of fresh
 * memory in all); the helper takes the smallest, up to max_bytes each, into
 * fresh buffers: the many small constants, whose reorders cost more to set
 * up than to run, while packing's peak stays the weights plus about one
 * constant. The helper's reorders run on one thread, and this thread's on
 * all the session's threads but the helper's while the helper works (three
 * runnable threads on two cores left the reorders' OpenMP barrier waiting
 * for a descheduled worker: first runs 5-17% longer, docs/PERFORMANCE.md),
 * on all of them once it is done. */
static void take_packs(struct job_run *jr, struct dn_spare *spare, size_t max_bytes)
{
    for (int k = 0; k < jr->n_packs; k++) {
        const struct pack_ref *p = &jr->packs[spare ? jr->n_packs - 1 - k : k];
        if (p->bytes > max_bytes) break;
        struct job *j = &jr->s->jobs[p->job];
        int free_ = 0;
        if (!atomic_compare_exchange_strong(&j->taken, &free_, 1)) continue;
        int nt = !spare ? 1 : atomic_load(&jr->helper_busy) ? jr->nt - 1 : jr->nt;
        dn_set_threads(nt > 0 ? nt : 1);
        do_job(jr->c, jr->s, j, spare);
    }
}

/* The helper: kernels first, then small packing jobs. */
static void *job_helper(void *arg)
{
    struct job_run *jr = arg;
    take_prims(jr);
    take_packs(jr, NULL, (size_t)1 << 20);
    atomic_store(&jr->helper_busy, 0);
    return NULL;
}

/* Runs the deferred jobs: the packing on this thread and the primitives on a
 * helper thread when the session has more than one (a failed pthread_create
 * just leaves them all here). Packing is the longer part (reorders are bound
 * by memory traffic), so the helper then packs the small constants from the
 * other end, and this thread compiles what kernels are left. */
mlc_status dn_run_jobs(struct dn_ctx *c, struct dn_state *s, int nt, mlc_error *err)
{
    const char *opname = "region";
    mlc_status st = MLC_OK;
    struct job_run jr = {c, s, nt, 0, 0, NULL, 0};
    jr.packs = mlc_alloc(sizeof *jr.packs * (size_t)(s->n_jobs + 1));
    if (!jr.packs) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN region: out of memory");
        goto fail;
    }
    for (int i = 0; i < s->n_jobs; i++)
        if (s->jobs[i].cid >= 0)
            jr.packs[jr.n_packs++] =
                (struct pack_ref){dnnl_memory_desc_get_size(&s->jobs[i].md), i};
    qsort(jr.packs, (size_t)jr.n_packs, sizeof *jr.packs, pack_ref_cmp);
    pthread_t th;
    atomic_store(&jr.helper_busy, 1);
    int helper = nt > 1 && s->n_jobs > 1 && pthread_create(&th, NULL, job_helper, &jr) == 0;
    if (!helper) atomic_store(&jr.helper_busy, 0);
    struct dn_spare spare = {0};
    take_packs(&jr, &spare, SIZE_MAX);
    dn_spare_free(&spare);
    take_prims(&jr);
    if (helper) pthread_join(th, NULL);
    dn_set_threads(nt);
    int bad = -1;
    for (int i = 0; i < s->n_jobs; i++) {
        struct job *j = &s->jobs[i];
        if (j->pd) dnnl_primitive_desc_destroy(j->pd);
        j->pd = NULL;
        if (j->r != dnnl_success && bad < 0) bad = i;
    }
    if (bad >= 0) {
        opname = s->jobs[bad].op->name;
        DNCHK(s->jobs[bad].r, s->jobs[bad].cid >= 0 ? "weights" : "primitive");
    }
fail:
    mlc_free(jr.packs);
    s->n_jobs = 0;
    return st;
}
