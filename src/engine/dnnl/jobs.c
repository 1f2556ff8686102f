/*
 * jobs.c - the work a first bind defers (struct job): packing each constant
 * into the layout its primitive asked for, and making the primitives (the JIT
 * compile), most of a first run and independent of one another. They run on
 * the binding thread and one helper thread. The helper starts with the bind
 * and takes the kernels and the small constants as bind posts them, while
 * the binding thread is still making primitive descs (serial work that left
 * the second core idle); once bind is done, both share what is left, as
 * take_packs and job_helper say.
 *
 * Not here: which jobs there are (region.c's bind), packing itself (pack.c).
 */
#include <pthread.h>
#include <stdlib.h>

#include "engine/dnnl/region.h"

/* The helper takes constants up to this size (packed) into fresh buffers. */
#define HELPER_PACK_MAX ((size_t)1 << 20)

/* A packing job and the size of its packed copy. */
struct pack_ref {
    size_t bytes;
    int job;
};

/* One first bind's jobs: s->jobs grows under lock while bind posts them
 * (the helper reads it then); bind's end sets closed, and ready once the
 * packing order (packs) is made for both threads. */
struct dn_jobs {
    struct dn_ctx *c;
    struct dn_state *s;
    int nt; /* the session's threads */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int closed, ready;
    pthread_t th;
    int helper;             /* th runs */
    atomic_int helper_busy; /* the helper thread is compiling or packing */
    struct pack_ref *packs; /* the packing jobs, smallest first */
    int n_packs;
};

static int pack_ref_cmp(const void *a, const void *b)
{
    const struct pack_ref *x = a, *y = b;
    return x->bytes < y->bytes ? -1 : x->bytes > y->bytes ? 1 : x->job - y->job;
}

/* 1 when this thread now owns j. */
static int claim(struct job *j)
{
    int free_ = 0;
    return atomic_compare_exchange_strong(&j->taken, &free_, 1);
}

/* The primitive goes to j, not to its step: bind may still be growing the
 * steps (dn_jobs_finish hands it over). */
static void do_job(struct dn_ctx *c, struct job *j, struct dn_spare *spare)
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
    j->r = dnnl_primitive_create(&j->prim, j->pd);
}

/* Primitive jobs, from the end (the big kernels of the last layers first). */
static void take_prims(struct dn_jobs *q)
{
    for (int i = q->s->n_jobs - 1; i >= 0; i--) {
        struct job *j = q->s->jobs[i];
        if (j->cid < 0 && claim(j)) do_job(q->c, j, NULL);
    }
}

/* The packing jobs this thread claims: the packer with a spare buffer takes
 * every one, largest first, so that each plain copy it frees is large enough
 * for the next packed one (struct dn_spare: one constant's worth of fresh
 * memory in all); the helper takes the smallest, up to max_bytes each, into
 * fresh buffers: the many small constants, whose reorders cost more to set
 * up than to run, while packing's peak stays the weights plus about one
 * constant. The helper's packing runs on one thread, and this thread's on
 * all the session's threads but the helper's while the helper works (three
 * runnable threads on two cores left the reorders' OpenMP barrier waiting
 * for a descheduled worker: first runs 5-17% longer, docs/PERFORMANCE.md),
 * on all of them once it is done. */
static void take_packs(struct dn_jobs *q, struct dn_spare *spare, size_t max_bytes)
{
    for (int k = 0; k < q->n_packs; k++) {
        const struct pack_ref *p = &q->packs[spare ? q->n_packs - 1 - k : k];
        if (p->bytes > max_bytes) break;
        struct job *j = q->s->jobs[p->job];
        if (!claim(j)) continue;
        int nt = !spare ? 1 : atomic_load(&q->helper_busy) ? q->nt - 1 : q->nt;
        dn_set_threads(nt > 0 ? nt : 1);
        do_job(q->c, j, spare);
    }
}

/* What the helper does while bind runs: the jobs in the order bind posts
 * them, kernels and small float32 constants (the large ones wait for the
 * binding thread's spare buffer; int8 ones for bind's scales). */
static int early(const struct job *j)
{
    return j->cid < 0 || (!j->q8 && dnnl_memory_desc_get_size(&j->md) <= HELPER_PACK_MAX);
}

static void *job_helper(void *arg)
{
    struct dn_jobs *q = arg;
    struct dn_state *s = q->s;
    pthread_mutex_lock(&q->lock);
    for (int seen = 0;;) {
        while (seen == s->n_jobs && !q->closed) pthread_cond_wait(&q->cond, &q->lock);
        if (q->closed) break;
        struct job *j = s->jobs[seen++];
        pthread_mutex_unlock(&q->lock);
        if (early(j) && claim(j)) {
            dn_set_threads(1);
            do_job(q->c, j, NULL);
        }
        pthread_mutex_lock(&q->lock);
    }
    int go = q->ready;
    pthread_mutex_unlock(&q->lock);
    if (go) {
        take_prims(q);
        take_packs(q, NULL, HELPER_PACK_MAX);
    }
    atomic_store(&q->helper_busy, 0);
    return NULL;
}

mlc_status dn_jobs_open(struct dn_ctx *c, struct dn_state *s, int nt, mlc_error *err)
{
    struct dn_jobs *q = mlc_calloc(1, sizeof *q);
    if (!q) return core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN region: out of memory");
    q->c = c;
    q->s = s;
    q->nt = nt;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    s->jq = q;
    /* A helper that cannot start leaves every job to this thread. */
    atomic_store(&q->helper_busy, 1);
    q->helper = nt > 1 && pthread_create(&q->th, NULL, job_helper, q) == 0;
    if (!q->helper) atomic_store(&q->helper_busy, 0);
    return MLC_OK;
}

struct job *dn_job_new(void)
{
    struct job *j = mlc_calloc(1, sizeof *j);
    if (j) atomic_init(&j->taken, 0);
    return j;
}

static void job_free(struct job *j)
{
    if (!j) return;
    if (j->prim) dnnl_primitive_destroy(j->prim);
    if (j->pd) dnnl_primitive_desc_destroy(j->pd);
    mlc_free(j);
}

dnnl_status_t dn_job_post(struct dn_state *s, struct job *j)
{
    struct dn_jobs *q = s->jq;
    pthread_mutex_lock(&q->lock);
    int bad = core_grow_array((void **)&s->jobs, &s->cap_jobs, s->n_jobs + 1, sizeof *s->jobs);
    if (!bad) s->jobs[s->n_jobs++] = j;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    if (bad) job_free(j);
    return bad ? dnnl_out_of_memory : dnnl_success;
}

/* Stops the helper (ready: to share the rest; else to stop) and waits. */
static void close_jobs(struct dn_jobs *q, int ready)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    q->ready = ready;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

static void jobs_free(struct dn_state *s)
{
    struct dn_jobs *q = s->jq;
    if (q->helper) pthread_join(q->th, NULL);
    q->helper = 0;
    for (int i = 0; i < s->n_jobs; i++) job_free(s->jobs[i]);
    mlc_free(s->jobs);
    s->jobs = NULL;
    s->n_jobs = s->cap_jobs = 0;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    mlc_free(q->packs);
    mlc_free(q);
    s->jq = NULL;
}

/* Bind is done: the packing here, largest first, then the kernels left,
 * while the helper takes kernels from the end, then small constants. */
mlc_status dn_jobs_finish(struct dn_ctx *c, struct dn_state *s, mlc_error *err)
{
    const char *opname = "region";
    mlc_status st = MLC_OK;
    struct dn_jobs *q = s->jq;
    (void)c;
    q->packs = mlc_alloc(sizeof *q->packs * (size_t)(s->n_jobs + 1));
    if (!q->packs) {
        close_jobs(q, 0);
        st = core_err(err, MLC_STATUS_NO_MEMORY, "oneDNN region: out of memory");
        goto fail;
    }
    for (int i = 0; i < s->n_jobs; i++)
        if (s->jobs[i]->cid >= 0)
            q->packs[q->n_packs++] =
                (struct pack_ref){dnnl_memory_desc_get_size(&s->jobs[i]->md), i};
    qsort(q->packs, (size_t)q->n_packs, sizeof *q->packs, pack_ref_cmp);
    close_jobs(q, 1);
    struct dn_spare spare = {0};
    take_packs(q, &spare, SIZE_MAX);
    dn_spare_free(&spare);
    take_prims(q);
    if (q->helper) pthread_join(q->th, NULL);
    q->helper = 0;
    dn_set_threads(q->nt);
    int bad = -1;
    for (int i = 0; i < s->n_jobs; i++) {
        struct job *j = s->jobs[i];
        if (j->r != dnnl_success && bad < 0) bad = i;
        if (j->cid >= 0 || j->r != dnnl_success) continue;
        struct step *t = &s->steps[j->step];
        t->prim = j->prim;
        j->prim = NULL;
        if (j->keep_pd) {
            t->pd = j->pd;
            j->pd = NULL;
        }
    }
    if (bad >= 0) {
        opname = s->jobs[bad]->op->name;
        DNCHK(s->jobs[bad]->r, s->jobs[bad]->cid >= 0 ? "weights" : "primitive");
    }
fail:
    jobs_free(s);
    return st;
}

void dn_jobs_close(struct dn_state *s)
{
    if (!s->jq) return;
    close_jobs(s->jq, 0);
    jobs_free(s);
}
