/*
 * net.c - the public "Raw ONNX networks" API (mlc.h): loading (onnx_load +
 * eng_optimise + backend partition), introspection, sessions, planning and
 * running.
 *
 * Plans: a session keeps up to PLAN_CACHE plans, one per distinct set of
 * input shapes. Building a plan infers every concrete shape, evaluates small
 * value computations that depend only on shapes and constants (the
 * Shape/Gather/Concat/Reshape chains of dynamic-batch exports) into the plan's
 * arena, and assigns every remaining activation an offset in one workspace by
 * lifetime (first fit over live blocks; views - Reshape, Flatten, Squeeze,
 * Unsqueeze, Identity - share their input's block). Running a planned shape
 * allocates nothing. The net is read-only after load; all mutable state lives
 * in the session, so sessions on one net may run concurrently.
 *
 * Threads: each session owns a small pool (net->threads - 1 workers);
 * kernels split their work by ith/nth (kernels.h) with one barrier per node.
 */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/adapt.h"
#include "engine/engine.h"
#include "engine/fit.h"
#include "engine/pcache.h"
#include "onnx/onnx.h"

#define PLAN_CACHE    4
#define ALIGN         64
#define PLAN_FOLD_MAX 65536 /* bytes: larger values are computed at run time */

/* ---- loading --------------------------------------------------------------- */

static mlc_status net_finish(struct mlc_net *net, mlc_error *err)
{
    mlc_status st = eng_optimise(net, err);
    if (st) return st;
    if (net->bo.backend != MLC_BACKEND_REFERENCE) {
        int before = net->g.n_nodes;
        st = eng_dnnl_partition(&net->g, &net->bo, err);
        if (st) return st;
        for (int i = before; i < net->g.n_nodes; i++)
            if (net->g.nodes[i].op == IR_OP_Region) net->n_regions++;
        st = ir_graph_compact(&net->g, err);
        if (st) return st;
    }
    return eng_fuse_late(net, err);
}

/* pc (may be NULL) passes to the net, which frees it even on failure.
 * fd >= 0: bytes is a (not populated) private mapping of that file. */
static mlc_status net_load(const void *bytes, size_t n, const char *dir,
                           const mlc_model_options *opt, mlc_net **net_out, mlc_error *err, int fd,
                           struct eng_pcache *pc)
{
    mlc_status st = MLC_OK;
    struct onnx_span *lazy = NULL;
    struct mlc_net *net = mlc_calloc(1, sizeof *net);
    if (!net) {
        eng_pcache_free(pc);
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    }
    net->pc = pc;
    net->bo.pcache = pc;
    mlc_limits_default(&net->limits);
    if (opt) {
        if (opt->limits.max_input_bytes) net->limits.max_input_bytes = opt->limits.max_input_bytes;
        net->bo.threads = opt->threads;
        net->bo.precision = opt->precision;
        net->bo.backend = opt->backend;
    }
    int th = net->bo.threads;
    if (th <= 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        th = nc > 0 ? (int)nc : 1;
    }
    net->threads = th > 64 ? 64 : th;
    net->max_ws =
        net->limits.max_input_bytes > SIZE_MAX / 16 ? SIZE_MAX : net->limits.max_input_bytes * 16;
    struct onnx_load_opts lo = {
        .base_dir = dir,
        .max_bytes = net->limits.max_input_bytes > ((size_t)2 << 30) ? net->limits.max_input_bytes
                                                                     : ((size_t)2 << 30),
        .release_input = fd >= 0,
        .read_fd = fd >= 0,
        .fd = fd,
        .threads = net->threads,
        .want_spans = pc != NULL,
    };
    /* With a packed-weights cache, the weights it holds stay in the file. */
    if (pc) lo.n_lazy = eng_pcache_lazy(pc, &lazy), lo.lazy = lazy;
    st = onnx_load(bytes, n, &lo, &net->g, err);
    if (st) goto fail;
    net->g.src = bytes;
    net->g.src_n = n;
    st = net_finish(net, err);
    /* What the backend did not take of them is read now, while the file's
     * bytes are at hand (a lazy tensor's data is an inaccessible placeholder). */
    for (int t = 0; !st && t < net->g.n_tensors; t++)
        if (net->g.tensors[t].flags & IR_TENSOR_LAZY) st = ir_tensor_materialize(&net->g, t, err);
    net->g.src = NULL;
    net->g.src_n = 0;
    if (st) goto fail;
    mlc_free(lazy);
    *net_out = net;
    return MLC_OK;
fail:
    mlc_free(lazy);
    mlc_net_free(net);
    return st;
}

/* The packed-weights cache directory for opt: its pack_cache, else
 * $MLC_PACK_CACHE; NULL for none (also for the reference backend, which
 * packs nothing). */
static const char *pack_cache_dir(const mlc_model_options *opt)
{
    if (opt && opt->backend == MLC_BACKEND_REFERENCE) return NULL;
    const char *d = opt && opt->pack_cache ? opt->pack_cache : getenv("MLC_PACK_CACHE");
    return d && *d ? d : NULL;
}

mlc_status mlc_net_load(const char *onnx_path, const mlc_model_options *opt, mlc_net **net_out,
                        mlc_error *err)
{
    char *data = NULL, *dir = NULL;
    size_t n = 0;
    mlc_limits lim;
    mlc_limits_default(&lim);
    if (!onnx_path || !net_out)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "mlc_net_load: NULL argument");
    size_t max =
        opt && opt->limits.max_input_bytes ? opt->limits.max_input_bytes : lim.max_input_bytes;
    /* A regular file is mapped read-only rather than read: the parser copies
     * what it keeps, so a read() copy would only add a third copy of the
     * weights (time and peak RSS). Anything else (FIFO, /proc, a failed map)
     * goes through core_read_file, which bounds and reports it. */
    void *map = NULL;
    mlc_status st = MLC_OK;
    /* A packed-weights cache first: when it has entries, most of the file
     * is never read, so it is not populated either. */
    struct eng_pcache *pc = NULL;
    const char *pdir = pack_cache_dir(opt);
    if (pdir) {
        char variant[128];
        struct eng_backend_opts bo = {.precision = opt ? opt->precision : MLC_PRECISION_F32};
        eng_dnnl_variant(&bo, variant, sizeof variant);
        st = eng_pcache_open(pdir, onnx_path, variant, &pc, err);
        if (st) return st;
    }
    int fd = pc ? fcntl(eng_pcache_model_fd(pc), F_DUPFD_CLOEXEC, 0)
                : open(onnx_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        struct stat sb;
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
            (uint64_t)sb.st_size <= max) {
            /* Not populated: the parser reads the weights from fd into
             * their own buffers (onnx_load_opts.read_fd), so only the
             * pages holding the rest of the model are ever mapped. */
            map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (map == MAP_FAILED) map = NULL;
            if (map) n = (size_t)sb.st_size;
        }
        if (!map) close(fd), fd = -1;
    }
    if (!map) {
        /* Only for a file mapped here: the cache's spans are the file's. */
        eng_pcache_free(pc);
        pc = NULL;
        st = core_read_file(onnx_path, max, &data, &n, err);
        if (st) return st;
    }
    const char *slash = strrchr(onnx_path, '/');
    dir = slash ? core_strndup(onnx_path, (size_t)(slash - onnx_path)) : core_strdup(".");
    if (!dir) {
        if (fd >= 0) close(fd);
        if (map) munmap(map, n);
        mlc_free(data);
        eng_pcache_free(pc);
        return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    }
    st = net_load(map ? map : data, n, dir, opt, net_out, err, map ? fd : -1, pc);
    if (st) core_err_prefix(err, "%s", onnx_path);
    if (fd >= 0) close(fd);
    if (map) munmap(map, n);
    mlc_free(data);
    mlc_free(dir);
    return st;
}

mlc_status mlc_net_load_mem(const void *bytes, size_t n, const mlc_model_options *opt,
                            mlc_net **net_out, mlc_error *err)
{
    if (!bytes || !net_out)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "mlc_net_load_mem: NULL argument");
    return net_load(bytes, n, NULL, opt, net_out, err, -1, NULL);
}

void mlc_net_free(mlc_net *net)
{
    if (!net) return;
    eng_pcache_wait(net->pc); /* its writer reads the packed weights the graph owns */
    ir_graph_free(&net->g);
    eng_pcache_free(net->pc);
    mlc_free(net);
}

int mlc_net_n_inputs(const mlc_net *net)
{
    return net ? net->g.n_inputs : 0;
}
int mlc_net_n_outputs(const mlc_net *net)
{
    return net ? net->g.n_outputs : 0;
}

const char *mlc_net_input(const mlc_net *net, int i, mlc_tensor *desc_out)
{
    if (!net || i < 0 || i >= net->g.n_inputs) return NULL;
    int t = net->g.inputs[i];
    if (desc_out) {
        eng_tensor_desc(&net->g, t, desc_out);
        desc_out->data = NULL;
    }
    return net->g.tensors[t].name;
}

const char *mlc_net_output(const mlc_net *net, int i, mlc_tensor *desc_out)
{
    if (!net || i < 0 || i >= net->g.n_outputs) return NULL;
    int t = net->g.outputs[i];
    if (desc_out) {
        eng_tensor_desc(&net->g, t, desc_out);
        desc_out->data = NULL;
    }
    return net->g.tensors[t].name;
}

/* ---- thread pool --------------------------------------------------------------- */

struct pool {
    int nth;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    uint64_t gen;
    int pending, stop, started;
    const struct eng_kctx *c;
    eng_kernel_fn fn;
    /* Instead of fn: task(arg, ith) on every thread (pool_run_task). */
    mlc_status (*task)(void *arg, int ith);
    void *arg;
    mlc_status st;
};

struct worker_arg {
    struct pool *p;
    int ith;
};

static void *worker(void *arg)
{
    struct pool *p = ((struct worker_arg *)arg)->p;
    int ith = ((struct worker_arg *)arg)->ith;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->gen == seen) pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->stop) break;
        seen = p->gen;
        const struct eng_kctx *c = p->c;
        eng_kernel_fn fn = p->fn;
        mlc_status (*task)(void *, int) = p->task;
        void *targ = p->arg;
        pthread_mutex_unlock(&p->mu);
        mlc_status st = task ? task(targ, ith) : fn(c, ith, p->nth);
        pthread_mutex_lock(&p->mu);
        if (st && !p->st) p->st = st;
        if (--p->pending == 0) pthread_cond_signal(&p->cv_done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- sessions and plans -------------------------------------------------------- */

struct plan {
    int valid;
    uint64_t used;
    int64_t (*key)[MLC_MAX_RANK]; /* input dims */
    mlc_tensor *t;                /* per graph tensor: concrete desc + data */
    int *steps;                   /* node indices run per request */
    int n_steps;
    size_t *scratch_off; /* per step, in ws; (size_t)-1 = none */
    void **rstate;       /* per step: region state or NULL */
    char *ws_raw;
    char *ws;
    size_t ws_size;
    char *rpool_raw; /* scratch shared by the plan's regions */
    size_t rpool_size;
    struct core_arena arena; /* plan-time values */
};

#define MAX_LANES 8

/* A batch run one image at a time (see run_chunked). */
struct chunking {
    int64_t n;             /* the batch the chooser below is for (0: none yet) */
    struct eng_adapt pick; /* level 0 the whole batch, 1 one image at a time */
    int forced;            /* MLC_NET_CHUNK=1 when the chooser was set up */
    int checked, bad;      /* one-image results compared with the whole batch's */
    void *buf[8];          /* the batch's outputs, gathered */
    size_t cap[8];
    /* Sessions of fewer threads that run the images side by side, one per
     * pool thread (run_lanes); made on first use. */
    struct mlc_net_session *lane[MAX_LANES];
    int n_lanes;      /* made */
    int lane_threads; /* each lane's */
    int split;        /* mlc_net_session_split of the last run */
};

struct mlc_net_session {
    const struct mlc_net *net;
    struct plan plans[PLAN_CACHE];
    uint64_t tick;
    size_t last_ws;
    struct pool pool;
    struct worker_arg *wargs;
    struct chunking ch;
};

static void plan_free(const struct mlc_net *net, struct plan *p)
{
    if (!p->valid && !p->t) return;
    for (int s = 0; p->rstate && s < p->n_steps; s++) {
        if (!p->rstate[s]) continue;
        const struct ir_node *n = &net->g.nodes[p->steps[s]];
        if (n->vt->unbind) n->vt->unbind(n->model_ctx, p->rstate[s]);
        mlc_free(p->rstate[s]);
    }
    mlc_free(p->rstate);
    mlc_free(p->key);
    mlc_free(p->t);
    mlc_free(p->steps);
    mlc_free(p->scratch_off);
    mlc_free(p->ws_raw);
    mlc_free(p->rpool_raw);
    core_arena_free(&p->arena);
    memset(p, 0, sizeof *p);
}

/* A session computing on nth threads (the net's, or fewer for a lane). */
static mlc_status session_new(const mlc_net *net, int nth, mlc_net_session **ns_out, mlc_error *err)
{
    struct mlc_net_session *s = mlc_calloc(1, sizeof *s);
    if (!s) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    s->net = net;
    s->pool.nth = nth;
    pthread_mutex_init(&s->pool.mu, NULL);
    pthread_cond_init(&s->pool.cv_work, NULL);
    pthread_cond_init(&s->pool.cv_done, NULL);
    if (s->pool.nth > 1) {
        s->pool.th = mlc_calloc((size_t)s->pool.nth, sizeof(pthread_t));
        s->wargs = mlc_calloc((size_t)s->pool.nth, sizeof *s->wargs);
        if (!s->pool.th || !s->wargs) {
            mlc_net_session_free(s);
            return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
        }
        for (int i = 1; i < s->pool.nth; i++) {
            s->wargs[i].p = &s->pool;
            s->wargs[i].ith = i;
            if (pthread_create(&s->pool.th[i], NULL, worker, &s->wargs[i]) != 0) {
                s->pool.nth = i; /* run with the threads we got */
                break;
            }
            s->pool.started++;
        }
    }
    *ns_out = s;
    return MLC_OK;
}

mlc_status mlc_net_session_create(const mlc_net *net, mlc_net_session **ns_out, mlc_error *err)
{
    if (!net || !ns_out)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "mlc_net_session_create: NULL argument");
    return session_new(net, net->threads, ns_out, err);
}

void mlc_net_session_free(mlc_net_session *s)
{
    if (!s) return;
    for (int i = 0; i < s->ch.n_lanes; i++) mlc_net_session_free(s->ch.lane[i]);
    pthread_mutex_lock(&s->pool.mu);
    s->pool.stop = 1;
    pthread_cond_broadcast(&s->pool.cv_work);
    pthread_mutex_unlock(&s->pool.mu);
    for (int i = 1; i <= s->pool.started; i++) pthread_join(s->pool.th[i], NULL);
    pthread_mutex_destroy(&s->pool.mu);
    pthread_cond_destroy(&s->pool.cv_work);
    pthread_cond_destroy(&s->pool.cv_done);
    for (int i = 0; i < PLAN_CACHE; i++) plan_free(s->net, &s->plans[i]);
    for (int i = 0; i < 8; i++) mlc_free(s->ch.buf[i]);
    mlc_free(s->pool.th);
    mlc_free(s->wargs);
    mlc_free(s);
}

size_t mlc_net_session_workspace(const mlc_net_session *ns)
{
    return ns ? ns->last_ws : 0;
}

int mlc_net_session_split(const mlc_net_session *ns)
{
    return ns ? ns->ch.split : 0;
}

static int value_keyed(const mlc_tensor *x)
{
    return (x->dtype == MLC_DTYPE_I64 || x->dtype == MLC_DTYPE_I32) && eng_numel(x) <= 64;
}

static int is_view(enum ir_op op)
{
    return op == IR_OP_Reshape || op == IR_OP_Flatten || op == IR_OP_Squeeze ||
           op == IR_OP_Unsqueeze || op == IR_OP_Identity;
}

/* First-fit placement among live blocks (sorted by offset; tag: the step
 * of last use), inserted there. */
static size_t place(struct eng_span *live, int *n_live, size_t size, int last, size_t *peak)
{
    int pos;
    size_t off = eng_first_fit(live, *n_live, size, ALIGN, &pos);
    memmove(&live[pos + 1], &live[pos], (size_t)(*n_live - pos) * sizeof *live);
    live[pos].off = off;
    live[pos].size = size;
    live[pos].tag = last;
    (*n_live)++;
    if (off + size > *peak) *peak = off + size;
    return off;
}

static mlc_status plan_build(struct mlc_net_session *s, struct plan *p, const mlc_tensor *inputs,
                             mlc_error *err)
{
    const struct mlc_net *net = s->net;
    const struct ir_graph *g = &net->g;
    mlc_status st = MLC_OK;
    int nt = g->n_tensors, nn = g->n_nodes;
    int *known = NULL, *root = NULL, *def = NULL, *last = NULL, *scr_last = NULL;
    size_t *off = NULL, *bytes = NULL, *scr_size = NULL;
    struct eng_span *live = NULL;
    int n_live = 0;
    mlc_tensor in[64], out[64];
    memset(p, 0, sizeof *p);
    core_arena_init(&p->arena, 0);
    p->key = mlc_calloc((size_t)g->n_inputs + 1, sizeof *p->key);
    p->t = mlc_calloc((size_t)nt + 1, sizeof *p->t);
    p->steps = mlc_calloc((size_t)nn + 1, sizeof(int));
    p->scratch_off = mlc_calloc((size_t)nn + 1, sizeof(size_t));
    p->rstate = mlc_calloc((size_t)nn + 1, sizeof(void *));
    known = mlc_calloc((size_t)nt + 1, sizeof(int));
    root = mlc_calloc((size_t)nt + 1, sizeof(int));
    def = mlc_calloc((size_t)nt + 1, sizeof(int));
    last = mlc_calloc((size_t)nt + 1, sizeof(int));
    off = mlc_calloc((size_t)nt + 1, sizeof(size_t));
    bytes = mlc_calloc((size_t)nt + 1, sizeof(size_t));
    scr_size = mlc_calloc((size_t)nn + 1, sizeof(size_t));
    scr_last = mlc_calloc((size_t)nn + 1, sizeof(int));
    live = mlc_calloc((size_t)nt + (size_t)nn + 1, sizeof *live);
    if (!p->key || !p->t || !p->steps || !p->scratch_off || !p->rstate || !known || !root || !def ||
        !last || !off || !bytes || !scr_size || !scr_last || !live) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory planning the network");
        goto fail;
    }
    for (int t = 0; t < nt; t++) {
        eng_tensor_desc(g, t, &p->t[t]);
        known[t] = p->t[t].data != NULL;
        root[t] = t;
        def[t] = -1;
        last[t] = -1;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        int t = g->inputs[i];
        p->t[t].rank = inputs[i].rank;
        memcpy(p->t[t].dims, inputs[i].dims, sizeof p->t[t].dims);
        memcpy(p->key[i], inputs[i].dims, sizeof p->key[i]);
        p->t[t].data = NULL;
        if (value_keyed(&inputs[i])) {
            /* Small integer inputs (axes, shapes fed at run time) are part of
             * the plan key so that shapes depending on them are planned. */
            size_t nb = (size_t)eng_numel(&inputs[i]) * mlc_dtype_size(inputs[i].dtype);
            p->t[t].data = core_arena_alloc(&p->arena, nb + 8);
            if (!p->t[t].data) {
                st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory planning");
                goto fail;
            }
            if (nb) memcpy(p->t[t].data, inputs[i].data, nb);
            known[t] = 1;
        }
    }
    /* Shapes, plan-time folding, steps. */
    for (int i = 0; i < nn; i++) {
        const struct ir_node *n = &g->nodes[i];
        int all_known = n->op != IR_OP_Region;
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] < 0) {
                memset(&in[k], 0, sizeof in[k]);
                continue;
            }
            in[k] = p->t[n->in[k]];
            if (!known[n->in[k]]) {
                in[k].data = NULL;
                all_known = 0;
            }
        }
        /* Shape and Size read only dims, which every plan knows. */
        if (n->op == IR_OP_Shape || n->op == IR_OP_Size) all_known = 1;
        st = eng_infer(n, in, n->n_in, out, n->n_out, err);
        if (st) goto fail;
        size_t tot = 0;
        for (int k = 0; k < n->n_out; k++) {
            int64_t ne = eng_numel(&out[k]);
            if (ne < 0) {
                st = core_err(err, MLC_STATUS_UNSUPPORTED,
                              "node '%s' (%s): output shape depends on values known only at run "
                              "time",
                              n->name, ir_op_name(n->op));
                goto fail;
            }
            tot += (size_t)ne * mlc_dtype_size(out[k].dtype);
            if (n->out[k] >= 0) {
                void *d = p->t[n->out[k]].data;
                p->t[n->out[k]] = out[k];
                p->t[n->out[k]].data = d;
            }
        }
        if (all_known && tot <= PLAN_FOLD_MAX) {
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0) in[k].data = p->t[n->in[k]].data;
            for (int k = 0; k < n->n_out; k++) {
                int64_t ne = eng_numel(&out[k]);
                out[k].data =
                    core_arena_alloc(&p->arena, (size_t)ne * mlc_dtype_size(out[k].dtype) + 8);
                if (!out[k].data) {
                    st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory planning");
                    goto fail;
                }
            }
            st = eng_run_kernel_1(n, in, n->n_in, out, n->n_out, err);
            if (st) goto fail;
            for (int k = 0; k < n->n_out; k++)
                if (n->out[k] >= 0) {
                    p->t[n->out[k]].data = out[k].data;
                    known[n->out[k]] = 1;
                }
            continue;
        }
        int s_idx = p->n_steps++;
        p->steps[s_idx] = i;
        for (int k = 0; k < n->n_out; k++) {
            int t = n->out[k];
            if (t < 0) continue;
            def[t] = s_idx;
            bytes[t] = (size_t)eng_numel(&p->t[t]) * mlc_dtype_size(p->t[t].dtype);
            if (bytes[t] > net->max_ws) {
                st = core_err(err, MLC_STATUS_LIMIT,
                              "node '%s': output of %zu bytes exceeds the workspace limit %zu",
                              n->name, bytes[t], net->max_ws);
                goto fail;
            }
            if (k == 0 && is_view(n->op) && n->in[0] >= 0 && !known[n->in[0]] &&
                !(g->tensors[n->in[0]].flags & IR_TENSOR_INPUT))
                root[t] = root[n->in[0]];
        }
        for (int k = 0; k < n->n_in; k++) {
            int t = n->in[k];
            if (t >= 0 && !known[t]) last[root[t]] = s_idx > last[root[t]] ? s_idx : last[root[t]];
        }
        if (n->op != IR_OP_Region) {
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k] >= 0) in[k].data = p->t[n->in[k]].data;
            scr_size[s_idx] = eng_kscratch(n, s->pool.nth, in, n->n_in, out, n->n_out);
            if (scr_size[s_idx] > net->max_ws) {
                st = core_err(err, MLC_STATUS_LIMIT, "node '%s': scratch exceeds the limit",
                              n->name);
                goto fail;
            }
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int t = g->outputs[i];
        if (!known[t]) last[root[t]] = nn + 1; /* outputs live to the end */
    }
    /* Views keep their root alive as long as they are used. */
    for (int t = 0; t < nt; t++)
        if (root[t] != t && last[t] > last[root[t]]) last[root[t]] = last[t];
    /* Assign offsets step by step. */
    size_t peak = 0;
    for (int sidx = 0; sidx < p->n_steps; sidx++) {
        /* Free blocks whose last use is before this step. */
        int w = 0;
        for (int b = 0; b < n_live; b++)
            if (live[b].tag >= sidx) live[w++] = live[b];
        n_live = w;
        const struct ir_node *n = &g->nodes[p->steps[sidx]];
        for (int k = 0; k < n->n_out; k++) {
            int t = n->out[k];
            if (t < 0 || root[t] != t || def[t] != sidx) continue;
            int l = last[t] < sidx ? sidx : last[t];
            off[t] = place(live, &n_live, bytes[t] ? bytes[t] : 1, l, &peak);
        }
        p->scratch_off[sidx] = (size_t)-1;
        if (scr_size[sidx])
            p->scratch_off[sidx] = place(live, &n_live, scr_size[sidx], sidx, &peak);
    }
    if (peak > net->max_ws) {
        st = core_err(err, MLC_STATUS_LIMIT, "workspace of %zu bytes exceeds the limit %zu", peak,
                      net->max_ws);
        goto fail;
    }
    p->ws_size = peak;
    p->ws_raw = mlc_alloc(peak + ALIGN);
    if (!p->ws_raw) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory: workspace of %zu bytes", peak);
        goto fail;
    }
    core_prefault(p->ws_raw, peak + ALIGN, net->threads); /* every run writes it */
    p->ws = (char *)(((uintptr_t)p->ws_raw + ALIGN - 1) / ALIGN * ALIGN);
    for (int t = 0; t < nt; t++)
        if (!known[t] && def[t] >= 0) p->t[t].data = p->ws + off[root[t]];
    /* Bind regions. */
    for (int sidx = 0; sidx < p->n_steps; sidx++) {
        const struct ir_node *n = &g->nodes[p->steps[sidx]];
        if (n->op != IR_OP_Region) continue;
        size_t ss = n->vt->session_size(n->model_ctx);
        p->rstate[sidx] = mlc_calloc(1, ss ? ss : 1);
        if (!p->rstate[sidx]) {
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory binding region");
            goto fail;
        }
        for (int k = 0; k < n->n_in; k++) in[k] = p->t[n->in[k]];
        st = n->vt->bind(n->model_ctx, in, n->n_in, p->rstate[sidx], s->pool.nth, err);
        if (st) goto fail;
    }
    /* One scratch block shared by the regions (backend.h). */
    size_t rpool = 0;
    for (int sidx = 0; sidx < p->n_steps; sidx++) {
        const struct ir_node *n = &g->nodes[p->steps[sidx]];
        if (n->op != IR_OP_Region || !n->vt->pool_size || !n->vt->set_pool) continue;
        size_t z = n->vt->pool_size(n->model_ctx, p->rstate[sidx]);
        if (z > rpool) rpool = z;
    }
    if (rpool) {
        if (rpool > net->max_ws) {
            st = core_err(err, MLC_STATUS_LIMIT,
                          "region scratch of %zu bytes exceeds the limit %zu", rpool, net->max_ws);
            goto fail;
        }
        p->rpool_raw = mlc_alloc(rpool + ALIGN);
        if (!p->rpool_raw) {
            st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory: region scratch of %zu bytes",
                          rpool);
            goto fail;
        }
        core_prefault(p->rpool_raw, rpool + ALIGN, net->threads);
        p->rpool_size = rpool;
        char *rp = (char *)(((uintptr_t)p->rpool_raw + ALIGN - 1) / ALIGN * ALIGN);
        for (int sidx = 0; sidx < p->n_steps; sidx++) {
            const struct ir_node *n = &g->nodes[p->steps[sidx]];
            if (n->op != IR_OP_Region || !n->vt->pool_size || !n->vt->set_pool) continue;
            if ((st = n->vt->set_pool(n->model_ctx, p->rstate[sidx], rp, err))) goto fail;
        }
    }
    p->valid = 1;
fail:
    mlc_free(known);
    mlc_free(root);
    mlc_free(def);
    mlc_free(last);
    mlc_free(off);
    mlc_free(bytes);
    mlc_free(scr_size);
    mlc_free(scr_last);
    mlc_free(live);
    if (st) {
        p->valid = 1; /* so plan_free releases everything */
        plan_free(net, p);
    }
    return st;
}

/* fn(c, ith, nth), or task(arg, ith), on every thread of the pool (nth > 1),
 * this one as thread 0; the first failure. */
static mlc_status pool_run(struct pool *p, const struct eng_kctx *c, eng_kernel_fn fn,
                           mlc_status (*task)(void *, int), void *arg)
{
    pthread_mutex_lock(&p->mu);
    p->c = c;
    p->fn = fn;
    p->task = task;
    p->arg = arg;
    p->st = MLC_OK;
    p->pending = p->nth - 1;
    p->gen++;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    mlc_status st = task ? task(arg, 0) : fn(c, 0, p->nth);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->cv_done, &p->mu);
    if (!st) st = p->st;
    p->task = NULL;
    pthread_mutex_unlock(&p->mu);
    return st;
}

static mlc_status run_kernel(struct mlc_net_session *s, const struct eng_kctx *c, int parallel)
{
    eng_kernel_fn fn = eng_kernels[c->node->op];
    struct pool *p = &s->pool;
    if (!parallel || p->nth <= 1) {
        for (int i = 0; i < (parallel ? p->nth : 1); i++) {
            mlc_status st = fn(c, i, parallel ? p->nth : 1);
            if (st) return st;
        }
        return MLC_OK;
    }
    return pool_run(p, c, fn, NULL, NULL);
}

/* task(arg, ith) on each of the pool's threads, this one as thread 0. */
static mlc_status pool_run_task(struct pool *p, mlc_status (*task)(void *, int), void *arg)
{
    return p->nth <= 1 ? task(arg, 0) : pool_run(p, NULL, NULL, task, arg);
}

static mlc_status run_plan(mlc_net_session *s, const mlc_tensor *inputs, int n_in,
                           mlc_tensor *outputs, int n_out, mlc_error *err);

/* ---- a batch one image at a time ------------------------------------------
 *
 * Why: at batch 8 oneDNN's channels-last kernels ran efficientnet_b0 at 111
 * images/s here against 128 at batch 1 (the activations of the early layers,
 * 38 MB for one 112x112x96 tensor, no longer fit in cache), so for some nets
 * and machines running the images of a batch one after the other through the
 * batch-1 plan is faster. Whether it is, a session finds out by timing both
 * (adapt.h: level 0 the whole batch, 1 one image at a time). It is only tried
 * on nets whose inputs and outputs all have a dynamic leading (batch)
 * dimension, and its first use compares its outputs with the whole batch's on
 * the same input: a net whose images are not independent (a batch statistic)
 * then keeps running whole. On a session of several threads the images run
 * side by side (run_lanes, below), which beat the whole batch on five of six
 * models here, and the timing is on by default; on one thread, where the
 * split only runs the images one after another (faster on some runs here,
 * slower on others, docs/PERFORMANCE.md), MLC_NET_CHUNK=auto opts in to it.
 * MLC_NET_CHUNK=1 always splits, =0 never.
 *
 * int8 nets on the oneDNN backend split always (MLC_NET_CHUNK=0 keeps them
 * whole, =auto times both): their activations are quantized per tensor,
 * so each image gets scales of its own and the same scores alone as in any
 * batch, and a batch's float32 activations between int8 layers no longer
 * leave the cache (resnet50 on the Zen 4: 65 images/s at batch 8 whole
 * against 86 at batch 1). Their comparison with the whole batch allows for
 * the scales (same_outputs). */

/* An int8 net, as chunkable and run_chunked treat it. */
static int q8_net(const mlc_net_session *s)
{
    return s->net->bo.precision == MLC_PRECISION_INT8 &&
           s->net->bo.backend != MLC_BACKEND_REFERENCE;
}

static int chunkable(const mlc_net_session *s, const mlc_tensor *inputs, int n_in, int n_out)
{
    const struct ir_graph *g = &s->net->g;
    const char *e = getenv("MLC_NET_CHUNK");
    int on = e ? !strcmp(e, "1") || !strcmp(e, "auto") : q8_net(s) || s->pool.nth > 1;
    if (!on || s->ch.bad || n_in < 1 || n_in > 8 || n_out < 1 || n_out > 8 || inputs[0].rank < 1 ||
        inputs[0].dims[0] < 2)
        return 0;
    for (int k = 0; k < n_in; k++) {
        const struct ir_tensor *t = &g->tensors[g->inputs[k]];
        if (t->rank < 1 || t->dims[0] >= 0 || t->dtype != MLC_DTYPE_F32 ||
            inputs[k].dims[0] != inputs[0].dims[0])
            return 0;
    }
    for (int k = 0; k < n_out; k++) {
        const struct ir_tensor *t = &g->tensors[g->outputs[k]];
        if (t->rank < 1 || t->dims[0] >= 0) return 0;
    }
    return 1;
}

/* One image's outputs o1 into the gathered outputs (image i of n), the
 * buffers made on the first image: 1 when an output does not have one
 * image's leading dimension (the batch must run whole). */
static int gather(struct chunking *ch, const mlc_tensor *o1, int n_out, int64_t i, int64_t n,
                  int first, mlc_tensor *outputs, mlc_error *err, mlc_status *st)
{
    for (int k = 0; k < n_out; k++) {
        if (o1[k].rank < 1 || o1[k].dims[0] != 1) return 1;
        size_t per = (size_t)eng_numel(&o1[k]) * mlc_dtype_size(o1[k].dtype);
        if (first) {
            if (ch->cap[k] < per * (size_t)n) {
                void *b = mlc_realloc(ch->buf[k], per * (size_t)n);
                if (!b) {
                    *st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
                    return 0;
                }
                ch->buf[k] = b;
                ch->cap[k] = per * (size_t)n;
            }
            outputs[k] = o1[k];
            outputs[k].dims[0] = n;
            outputs[k].data = ch->buf[k];
        } else if (o1[k].dtype != outputs[k].dtype ||
                   per * (size_t)n !=
                       (size_t)eng_numel(&outputs[k]) * mlc_dtype_size(outputs[k].dtype)) {
            return 1;
        }
        memcpy((char *)ch->buf[k] + (size_t)i * per, o1[k].data, per);
    }
    return 0;
}

/* Image i of inputs as a batch of one. */
static void image_of(const mlc_tensor *inputs, int n_in, int64_t i, mlc_tensor *in1)
{
    for (int k = 0; k < n_in; k++) {
        in1[k] = inputs[k];
        in1[k].dims[0] = 1;
        size_t per = (size_t)eng_numel(&in1[k]) * mlc_dtype_size(in1[k].dtype);
        in1[k].data = (char *)inputs[k].data + (size_t)i * per;
    }
}

/* ---- a batch's images side by side ------------------------------------------
 *
 * Why: on two threads one image at a time splits every layer between them
 * and meets at a barrier after each; the late layers of small nets (7x7,
 * 14x14) split badly. Two sessions of one thread each, one image apiece,
 * share nothing but the packed weights (the same layouts either way) and
 * the L3: measured here as two processes of one thread each against one of
 * two threads at batch 1 (docs/PERFORMANCE.md), mobilenet_v3_large ran 2.0x
 * the images per second, efficientnet_b0 1.09x, resnet50, convnext_tiny and
 * vit_b_16 1.02-1.03x. Lane l takes images l, l + L, ...; its outputs are
 * gathered under a lock, the first image done making the buffers. */
struct lanes {
    mlc_net_session *s;
    const mlc_tensor *inputs;
    mlc_tensor *outputs;
    int n_in, n_out, n_lanes;
    int64_t n;
    pthread_mutex_t mu;
    int made, whole_needed;
    mlc_status st;
    mlc_error err;
};

static mlc_status lane_task(void *arg, int ith)
{
    struct lanes *ln = arg;
    if (ith >= ln->n_lanes) return MLC_OK;
    mlc_net_session *ls = ln->s->ch.lane[ith];
    mlc_tensor in1[8], o1[8];
    mlc_error err;
    for (int64_t i = ith; i < ln->n; i += ln->n_lanes) {
        image_of(ln->inputs, ln->n_in, i, in1);
        mlc_status st = run_plan(ls, in1, ln->n_in, o1, ln->n_out, &err);
        pthread_mutex_lock(&ln->mu);
        int stop = ln->st || ln->whole_needed;
        if (!stop && st) {
            ln->st = st;
            ln->err = err;
        } else if (!stop) {
            ln->whole_needed = gather(&ln->s->ch, o1, ln->n_out, i, ln->n, !ln->made, ln->outputs,
                                      &ln->err, &ln->st);
            ln->made = 1;
        }
        stop = ln->st || ln->whole_needed;
        pthread_mutex_unlock(&ln->mu);
        if (stop) break;
    }
    return MLC_OK;
}

/* Images a batch of n runs at once on session s's threads. */
static int lanes_for(const mlc_net_session *s, int64_t n)
{
    int want = s->pool.nth < MAX_LANES ? s->pool.nth : MAX_LANES;
    return n < want ? (int)n : want;
}

static mlc_status run_lanes(mlc_net_session *s, const mlc_tensor *inputs, int n_in,
                            mlc_tensor *outputs, int n_out, int *whole_needed, mlc_error *err)
{
    struct chunking *ch = &s->ch;
    int64_t n = inputs[0].dims[0];
    int want = lanes_for(s, n);
    /* Lanes of another thread count (a smaller batch before, on more than
     * two threads) are remade, so that they never ask for more threads in
     * all than the session has. */
    if (ch->n_lanes && ch->lane_threads != s->pool.nth / want) {
        for (int i = 0; i < ch->n_lanes; i++) mlc_net_session_free(ch->lane[i]);
        ch->n_lanes = 0;
    }
    ch->lane_threads = s->pool.nth / want;
    for (; ch->n_lanes < want; ch->n_lanes++) {
        mlc_status st = session_new(s->net, ch->lane_threads, &ch->lane[ch->n_lanes], err);
        if (st) return st;
    }
    struct lanes ln = {.s = s,
                       .inputs = inputs,
                       .outputs = outputs,
                       .n_in = n_in,
                       .n_out = n_out,
                       .n_lanes = want,
                       .n = n};
    pthread_mutex_init(&ln.mu, NULL);
    pool_run_task(&s->pool, lane_task, &ln);
    pthread_mutex_destroy(&ln.mu);
    if (ln.st && err) *err = ln.err;
    *whole_needed = ln.whole_needed;
    return ln.st;
}

/* The batch through the one-image plan, outputs gathered into s->ch.buf
 * (side by side on a session of several threads).
 * *whole_needed: an output did not have one image's leading dimension. */
static mlc_status run_images(mlc_net_session *s, const mlc_tensor *inputs, int n_in,
                             mlc_tensor *outputs, int n_out, int *whole_needed, mlc_error *err)
{
    const int64_t n = inputs[0].dims[0];
    if (s->pool.nth > 1) return run_lanes(s, inputs, n_in, outputs, n_out, whole_needed, err);
    mlc_tensor in1[8], o1[8];
    for (int64_t i = 0; i < n; i++) {
        image_of(inputs, n_in, i, in1);
        mlc_status st = run_plan(s, in1, n_in, o1, n_out, err);
        if (st) return st;
        if ((*whole_needed = gather(&s->ch, o1, n_out, i, n, i == 0, outputs, err, &st)) || st)
            return st;
    }
    return MLC_OK;
}

/* Whether one-image outputs a equal the whole batch's b (float32 within
 * 1e-4 + 1e-3 |b|: kernels block a batch of one differently; int8 nets
 * (q8) within 0.1 + 0.1 |b|, what per-image scales move: a net that mixes
 * its images moves outputs by their own size). */
static int same_outputs(const mlc_tensor *a, const mlc_tensor *b, int n, int q8)
{
    double abs_tol = q8 ? 0.1 : 1e-4, rel_tol = q8 ? 0.1 : 1e-3;
    for (int k = 0; k < n; k++) {
        int64_t m = eng_numel(&b[k]);
        if (a[k].dtype != b[k].dtype || eng_numel(&a[k]) != m) return 0;
        if (b[k].dtype != MLC_DTYPE_F32) {
            if (memcmp(a[k].data, b[k].data, (size_t)m * mlc_dtype_size(b[k].dtype))) return 0;
            continue;
        }
        const float *x = a[k].data, *y = b[k].data;
        for (int64_t i = 0; i < m; i++)
            if (!(fabs((double)x[i] - y[i]) <= abs_tol + rel_tol * fabs((double)y[i]))) return 0;
    }
    return 1;
}

static mlc_status run_chunked(mlc_net_session *s, const mlc_tensor *inputs, int n_in,
                              mlc_tensor *outputs, int n_out, mlc_error *err)
{
    struct chunking *ch = &s->ch;
    const char *e = getenv("MLC_NET_CHUNK");
    int forced = e ? !strcmp(e, "1") : q8_net(s);
    if (ch->n != inputs[0].dims[0] || ch->forced != forced) {
        ch->n = inputs[0].dims[0];
        ch->forced = forced;
        eng_adapt_init(&ch->pick, 2, forced ? 1 : -1);
    }
    int level = eng_adapt_pick(&ch->pick), made = 0, whole_needed = 0;
    double t0 = core_now();
    mlc_status st = MLC_OK;
    if (level == 1) {
        made = !ch->checked;
        st = run_images(s, inputs, n_in, outputs, n_out, &whole_needed, err);
        if (!st && !whole_needed) ch->split = s->pool.nth > 1 ? lanes_for(s, ch->n) : 1;
        if (!st && !whole_needed && !ch->checked) {
            mlc_tensor whole[8];
            ch->checked = 1;
            st = run_plan(s, inputs, n_in, whole, n_out, err);
            if (!st && !same_outputs(outputs, whole, n_out, q8_net(s))) {
                /* The whole batch's result (in its plan's workspace) is the answer. */
                ch->bad = 1;
                ch->split = 0;
                memcpy(outputs, whole, (size_t)n_out * sizeof *outputs);
                return MLC_OK;
            }
        }
        if (whole_needed) ch->bad = 1;
    }
    if (!st && (level == 0 || whole_needed)) st = run_plan(s, inputs, n_in, outputs, n_out, err);
    if (!st) eng_adapt_record(&ch->pick, level, made || whole_needed ? -1 : core_now() - t0);
    return st;
}

mlc_status mlc_net_run(mlc_net_session *s, const mlc_tensor *inputs, int n_in, mlc_tensor *outputs,
                       int n_out, mlc_error *err)
{
    if (!s || (n_in && !inputs) || (n_out && !outputs))
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "mlc_net_run: NULL argument");
    const struct mlc_net *net = s->net;
    const struct ir_graph *g = &net->g;
    if (n_in != g->n_inputs)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "network takes %d inputs, got %d",
                        g->n_inputs, n_in);
    if (n_out > g->n_outputs)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "network has %d outputs, %d requested",
                        g->n_outputs, n_out);
    for (int i = 0; i < n_in; i++) {
        const struct ir_tensor *t = &g->tensors[g->inputs[i]];
        const mlc_tensor *x = &inputs[i];
        if (x->dtype != t->dtype || x->rank != t->rank ||
            (!x->data && ir_numel(x->rank, x->dims) != 0))
            return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                            "input '%s': dtype %d rank %d given, network wants dtype %d rank %d",
                            t->name, (int)x->dtype, x->rank, (int)t->dtype, t->rank);
        for (int d = 0; d < t->rank; d++)
            if (x->dims[d] < 0 || (t->dims[d] >= 0 && x->dims[d] != t->dims[d]))
                return core_err(err, MLC_STATUS_INVALID_ARGUMENT,
                                "input '%s': dimension %d is %lld, network wants %lld", t->name, d,
                                (long long)x->dims[d], (long long)t->dims[d]);
        if (ir_numel(x->rank, x->dims) < 0)
            return core_err(err, MLC_STATUS_LIMIT, "input '%s': too many elements", t->name);
    }
    s->ch.split = 0;
    mlc_status st = chunkable(s, inputs, n_in, n_out)
                        ? run_chunked(s, inputs, n_in, outputs, n_out, err)
                        : run_plan(s, inputs, n_in, outputs, n_out, err);
    /* Weights packed by this run's first bind go to the cache file, on a
     * thread of the cache's own (writing 100 MB took 0.3-0.4 s of system
     * time here); a file that cannot be written only costs the next start
     * its speed. */
    if (!st && net->pc) eng_pcache_flush_async(net->pc);
    return st;
}

void mlc_net_pack_cache_counts(const mlc_net *net, int *loaded, int *added, int *hits)
{
    *loaded = *added = *hits = 0;
    if (net && net->pc) eng_pcache_counts(net->pc, loaded, added, hits);
}

/* Runs inputs (validated) through the plan for their shapes, built on first
 * use (up to PLAN_CACHE kept). */
static mlc_status run_plan(mlc_net_session *s, const mlc_tensor *inputs, int n_in,
                           mlc_tensor *outputs, int n_out, mlc_error *err)
{
    const struct mlc_net *net = s->net;
    const struct ir_graph *g = &net->g;
    struct plan *p = NULL;
    for (int i = 0; i < PLAN_CACHE && !p; i++) {
        struct plan *q = &s->plans[i];
        if (!q->valid) continue;
        int same = 1;
        for (int k = 0; k < n_in && same; k++) {
            if (memcmp(q->key[k], inputs[k].dims, sizeof(int64_t) * (size_t)inputs[k].rank))
                same = 0;
            else if (value_keyed(&inputs[k]) &&
                     memcmp(q->t[g->inputs[k]].data, inputs[k].data,
                            (size_t)eng_numel(&inputs[k]) * mlc_dtype_size(inputs[k].dtype)))
                same = 0;
        }
        if (same) p = q;
    }
    if (!p) {
        struct plan *victim = &s->plans[0];
        for (int i = 0; i < PLAN_CACHE; i++) {
            if (!s->plans[i].valid) {
                victim = &s->plans[i];
                break;
            }
            if (s->plans[i].used < victim->used) victim = &s->plans[i];
        }
        plan_free(net, victim);
        mlc_status st = plan_build(s, victim, inputs, err);
        if (st) return st;
        p = victim;
    }
    p->used = ++s->tick;
    s->last_ws = p->ws_size + p->rpool_size;
    for (int i = 0; i < n_in; i++)
        if (!value_keyed(&inputs[i])) p->t[g->inputs[i]].data = inputs[i].data;
    mlc_tensor in[64], out[64];
    for (int sidx = 0; sidx < p->n_steps; sidx++) {
        const struct ir_node *n = &g->nodes[p->steps[sidx]];
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] >= 0)
                in[k] = p->t[n->in[k]];
            else
                memset(&in[k], 0, sizeof in[k]);
        }
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] >= 0)
                out[k] = p->t[n->out[k]];
            else
                memset(&out[k], 0, sizeof out[k]);
        }
        mlc_status st;
        if (n->op == IR_OP_Region) {
            st = n->vt->run(n->model_ctx, p->rstate[sidx], in, n->n_in, out, n->n_out, err);
        } else {
            void *scr = p->scratch_off[sidx] == (size_t)-1 ? NULL : p->ws + p->scratch_off[sidx];
            struct eng_kctx c = {n, in, n->n_in, out, n->n_out, scr, err};
            st = run_kernel(s, &c, eng_kernel_parallel(n->op));
        }
        if (st) return st;
    }
    for (int i = 0; i < n_out; i++) outputs[i] = p->t[g->outputs[i]];
    return MLC_OK;
}

/* ---- describe ------------------------------------------------------------------- */

mlc_status mlc_net_describe(const mlc_net *net, char **text_out, mlc_error *err)
{
    struct core_buf b;
    mlc_status st;
    int counts[IR_OP_COUNT] = {0};
    if (!net || !text_out)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "mlc_net_describe: NULL argument");
    core_buf_init(&b, (size_t)64 << 20);
    const struct ir_graph *g = &net->g;
    st = core_buf_printf(&b,
                         "graph '%s' (producer %s, opset %lld): %d nodes after optimisation "
                         "(%d folded, %d fused, %d backend regions), threads %d\n",
                         g->name, g->producer, (long long)g->opset, g->n_nodes, net->n_folded,
                         net->n_fused, net->n_regions, net->threads);
    for (int i = 0; !st && i < g->n_inputs; i++) {
        mlc_tensor d;
        const char *nm = mlc_net_input(net, i, &d);
        st = core_buf_printf(&b, "input  %s dtype %d [", nm, (int)d.dtype);
        for (int k = 0; !st && k < d.rank; k++)
            st = d.dims[k] < 0 ? core_buf_printf(&b, "%s?", k ? "," : "")
                               : core_buf_printf(&b, "%s%lld", k ? "," : "", (long long)d.dims[k]);
        if (!st) st = core_buf_printf(&b, "]\n");
    }
    for (int i = 0; !st && i < g->n_outputs; i++) {
        mlc_tensor d;
        const char *nm = mlc_net_output(net, i, &d);
        st = core_buf_printf(&b, "output %s dtype %d [", nm, (int)d.dtype);
        for (int k = 0; !st && k < d.rank; k++)
            st = d.dims[k] < 0 ? core_buf_printf(&b, "%s?", k ? "," : "")
                               : core_buf_printf(&b, "%s%lld", k ? "," : "", (long long)d.dims[k]);
        if (!st) st = core_buf_printf(&b, "]\n");
    }
    for (int i = 0; i < g->n_nodes; i++) counts[g->nodes[i].op]++;
    if (!st) st = core_buf_printf(&b, "op counts:");
    for (int i = 0; !st && i < IR_OP_COUNT; i++)
        if (counts[i]) st = core_buf_printf(&b, " %s=%d", ir_op_name((enum ir_op)i), counts[i]);
    size_t wbytes = 0;
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t].data) wbytes += ir_tensor_nbytes(&g->tensors[t]);
    if (!st) st = core_buf_printf(&b, "\nconstants: %zu bytes\nnodes:\n", wbytes);
    if (!st) st = ir_graph_dump(g, &b);
    /* Peak memory for batch 1 (symbolic dims = 1). */
    if (!st && g->n_inputs <= 64) {
        mlc_tensor ins[64];
        mlc_net_session *s = NULL;
        mlc_error e2;
        void *zero = NULL;
        size_t maxb = 0;
        for (int i = 0; i < g->n_inputs; i++) {
            eng_tensor_desc(g, g->inputs[i], &ins[i]);
            for (int k = 0; k < ins[i].rank; k++)
                if (ins[i].dims[k] < 0) ins[i].dims[k] = 1;
            int64_t ne = eng_numel(&ins[i]);
            size_t nb = ne > 0 ? (size_t)ne * mlc_dtype_size(ins[i].dtype) : 0;
            if (nb > maxb) maxb = nb;
        }
        zero = mlc_calloc(1, maxb + 8);
        for (int i = 0; i < g->n_inputs; i++) ins[i].data = zero;
        if (zero && mlc_net_session_create(net, &s, &e2) == MLC_OK) {
            struct plan pl;
            if (plan_build(s, &pl, ins, &e2) == MLC_OK) {
                st = core_buf_printf(
                    &b,
                    "plan (symbolic dims = 1): %d steps, peak workspace %zu bytes, oneDNN "
                    "region pool %zu bytes\n",
                    pl.n_steps, pl.ws_size, pl.rpool_size);
                plan_free(net, &pl);
            } else {
                st = core_buf_printf(&b, "plan (symbolic dims = 1): %s\n", e2.message);
            }
        }
        mlc_net_session_free(s);
        mlc_free(zero);
    }
    if (st) {
        core_buf_free(&b);
        return core_err(err, st, "describe: output too large");
    }
    *text_out = core_buf_take(&b);
    return MLC_OK;
}
