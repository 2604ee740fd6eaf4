/* exec.c -- the executor of every graph-backed model (impl.h's model_exec): dense
 * networks (net.c), the convolutional models (cnn.c).
 *
 * One graph per pool thread, built once by the model's `build` with the chunk size as
 * its row capacity. A batch is cut into near-equal contiguous chunks (at least one per
 * thread, at most `chunk` rows each); thread t runs a fixed, contiguous range of
 * chunks and accumulates into its own buffers, which are summed in thread order: the
 * partition, and so every bit of the result, depends only on (batch size, chunk size,
 * thread count). On several threads a `wide` model (a dense net) runs a batch that
 * fits one chunk (a training step's) as that one chunk instead, on the caller, with
 * each large matrix product split over the threads (ad_bind.split): no duplicate
 * packing of the weights, no gradient sum. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/pool.h"
#include "impl.h"

/* What one thread owns: its graph, private accumulators, and its share's results. */
struct model_exec_worker {
    ad_graph *graph;
    double *acc;                /* (2n) gradient and H v accumulators; NULL for thread 0 */
    ad_sums sums;
    int rc;
    err e;
};
typedef struct model_exec_worker worker;


/* Make sure there are workers for the pool's thread count. */
static int exec_threads(model *m, err *e)
{
    model_exec *x = m->impl;
    int rc = pool_reserve(e);   /* a buffer for each thread's BLAS calls */
    if (rc)
        return rc;
    int T = pool_threads();
    if (T <= x->nthreads)
        return 0;
    worker *w = realloc(x->w, (size_t)T * sizeof *w);
    if (!w)
        return err_set(e, ERR_SYS, "%s: out of memory", m->kind);
    x->w = w;
    for (int t = x->nthreads; t < T; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t].graph = x->build(m, e);
        w[t].acc = t ? err_malloc(e, 2 * m->n * sizeof(double)) : NULL;
        if (!w[t].graph || (t && !w[t].acc)) {
            ad_graph_free(w[t].graph);
            free(w[t].acc);
            return err_wrap(e, "%s: thread %d of %d's graph and gradient sums", m->kind, t + 1, T);
        }
        x->nthreads = t + 1;
    }
    return 0;
}

/* Chunks a batch of n rows is cut into on T threads: near-equal, at most `chunk` rows
 * each, at least one per thread; chunk k holds rows [n k / nchunks, n (k+1) / nchunks)
 * and thread t runs chunks [nchunks t / T, nchunks (t+1) / T). */
static size_t exec_nchunks(const model_exec *x, size_t n, int T)
{
    size_t nchunks = (n + x->chunk - 1) / x->chunk;
    if (nchunks < (size_t)T)
        nchunks = n < (size_t)T ? n : (size_t)T;
    return nchunks;
}

/* model_lin's primal state: thread t's primal stores of its chunks, back to back in
 * buf[t], for the thread count and chunking it was recorded with. */
typedef struct exec_lin {
    int T, recorded;
    size_t nchunks;
    double *buf[];              /* (T) */
} exec_lin;

/* One evaluation spread over the pool. */
typedef struct job {
    model *m;
    enum ad_mode mode;
    const double *theta, *v;
    batch b;
    double *g, *hv, *feat;      /* thread 0's accumulators / the feature rows */
    size_t nchunks;
    const exec_lin *lin;         /* HVP mode: primal stores to fill or replay, or NULL */
    int split;                  /* one chunk on the caller, its products split (ad_bind) */
} job;

static void job_thread(void *arg, int tid, int T)
{
    const job *j = arg;
    model_exec *x = j->m->impl;
    worker *w = &x->w[tid];
    size_t n = j->b.n, d = (size_t)j->m->in_dim, tdim = (size_t)j->m->out_dim;
    size_t lo = j->nchunks * (size_t)tid / (size_t)T, hi = j->nchunks * (size_t)(tid + 1) / (size_t)T;
    ad_bind bd = {.theta = j->theta, .v = j->v, .g = j->g, .hv = j->hv, .scale = 1.0 / (double)n,
                  .split = j->split};
    w->sums = (ad_sums){0};
    w->rc = 0;
    if (tid) {  /* other threads accumulate privately */
        bd.g = j->g ? w->acc : NULL;
        bd.hv = j->hv ? w->acc + j->m->n : NULL;
        if (bd.g)
            memset(bd.g, 0, j->m->n * sizeof(double));
        if (bd.hv)
            memset(bd.hv, 0, j->m->n * sizeof(double));
    }
    double *store = j->lin ? j->lin->buf[tid] : NULL;
    bd.replay = j->lin && j->lin->recorded;
    for (size_t k = lo; k < hi && !w->rc; k++) {
        size_t r0 = n * k / j->nchunks, r1 = n * (k + 1) / j->nchunks;
        bd.x = j->b.x + r0 * d;
        bd.y = j->b.y ? j->b.y + r0 : NULL;
        bd.t = j->b.t ? j->b.t + r0 * tdim : NULL;
        bd.rows = r1 - r0;
        bd.feat = j->feat ? j->feat + r0 * (size_t)j->m->feat_dim : NULL;
        bd.primal = store;
        w->rc = ad_run(w->graph, j->mode, &bd, &w->sums, &w->e);
        store = store ? store + ad_primal_size(w->graph, bd.rows) : NULL;
    }
}

/* g and hv = 0, each thread a slice (a serial 2 MB memset was ~4 % of a 2-thread
 * training step). */
static void zero_thread(void *arg, int tid, int T)
{
    const job *j = arg;
    size_t n = j->m->n, lo = n * (size_t)tid / (size_t)T, hi = n * (size_t)(tid + 1) / (size_t)T;
    if (j->g)
        memset(j->g + lo, 0, (hi - lo) * sizeof(double));
    if (j->hv)
        memset(j->hv + lo, 0, (hi - lo) * sizeof(double));
}

/* Add threads 1..T-1's private accumulators into g and hv, in thread order for every
 * element; the elements are split over the pool, so the sum costs 1/T of a pass. */
static void reduce_thread(void *arg, int tid, int T)
{
    const job *j = arg;
    const model_exec *x = j->m->impl;
    size_t n = j->m->n, lo = n * (size_t)tid / (size_t)T, hi = n * (size_t)(tid + 1) / (size_t)T;
    for (int t = 1; t < T; t++) {
        const double *acc = x->w[t].acc;
        if (j->g)
            for (size_t i = lo; i < hi; i++)
                j->g[i] += acc[i];
        if (j->hv)
            for (size_t i = lo; i < hi; i++)
                j->hv[i] += acc[n + i];
    }
}

/* Run `mode` over the whole batch; g/hv (n) are overwritten (not accumulated). */
static int exec_run(model *m, enum ad_mode mode, const double *theta, const double *v,
                   batch b, double *g, double *hv, double *feat, const exec_lin *lin,
                   model_stats *st, err *e)
{
    model_exec *x = m->impl;
    int rc = exec_threads(m, e);
    if (rc)
        return rc;
    int T = pool_threads();
    int wide = x->wide && !lin && T > 1 && b.n <= x->chunk;
    job j = {.m = m, .mode = mode, .theta = theta, .v = v, .b = b, .g = g, .hv = hv,
             .feat = feat, .nchunks = wide ? 1 : exec_nchunks(x, b.n, T), .lin = lin,
             .split = wide};
    if (g || hv)
        pool_run(zero_thread, &j);
    if (wide) {
        job_thread(&j, 0, 1);
        T = 1;   /* only thread 0's sums and accumulators hold anything */
    } else
        pool_run(job_thread, &j);
    if (T > 1 && (g || hv))
        pool_run(reduce_thread, &j);
    ad_sums s = {0};
    for (int t = 0; t < T; t++) {
        const worker *w = &x->w[t];
        if (w->rc && !rc) {
            rc = w->rc;
            if (e)
                *e = w->e;
        }
        s.loss += w->sums.loss;
        s.jvp += w->sums.jvp;
        s.correct += w->sums.correct;
    }
    if (st)
        *st = (model_stats){.loss = s.loss, .correct = s.correct, .jvp = s.jvp, .n = b.n};
    return rc;
}

static int exec_loss(model *m, const double *theta, batch b, model_stats *st, err *e)
{
    return exec_run(m, AD_MODE_LOSS, theta, NULL, b, NULL, NULL, NULL, NULL, st, e);
}

static int exec_grad(model *m, const double *theta, batch b, double *g, model_stats *st, err *e)
{
    return exec_run(m, AD_MODE_GRAD, theta, NULL, b, g, NULL, NULL, NULL, st, e);
}

static int exec_jvp(model *m, const double *theta, const double *v, batch b, model_stats *st,
                   err *e)
{
    return exec_run(m, AD_MODE_JVP, theta, v, b, NULL, NULL, NULL, NULL, st, e);
}

static int exec_hvp(model *m, const double *theta, const double *v, batch b, double *g,
                   double *hv, model_stats *st, err *e)
{
    return exec_run(m, AD_MODE_HVP, theta, v, b, g, hv, NULL, NULL, st, e);
}

/* Doubles of thread t's primal stores for batch size n on T threads in nchunks. */
static size_t lin_doubles(const model *m, size_t n, size_t nchunks, int t, int T)
{
    const model_exec *x = m->impl;
    size_t s = 0, lo = nchunks * (size_t)t / (size_t)T, hi = nchunks * (size_t)(t + 1) / (size_t)T;
    for (size_t k = lo; k < hi; k++)
        s += ad_primal_size(x->w[0].graph, n * (k + 1) / nchunks - n * k / nchunks);
    return s;
}

static size_t exec_lin_bytes(model *m, batch b)
{
    if (exec_threads(m, NULL))
        return 0;
    int T = pool_threads();
    size_t nchunks = exec_nchunks(m->impl, b.n, T), s = 0;
    for (int t = 0; t < T; t++)
        s += lin_doubles(m, b.n, nchunks, t, T);
    return s * sizeof(double);
}

static void exec_lin_free(void *state)
{
    exec_lin *l = state;
    if (!l)
        return;
    for (int t = 0; t < l->T; t++)
        free(l->buf[t]);
    free(l);
}

static exec_lin *exec_lin_alloc(model *m, size_t n, int T, err *e)
{
    exec_lin *l = err_calloc(e, 1, sizeof *l + (size_t)T * sizeof l->buf[0]);
    if (!l)
        return NULL;
    l->T = T;
    l->nchunks = exec_nchunks(m->impl, n, T);
    for (int t = 0; t < T; t++) {
        l->buf[t] = err_malloc_big(e, lin_doubles(m, n, l->nchunks, t, T) * sizeof(double));
        if (!l->buf[t]) {
            exec_lin_free(l);
            err_wrap(e, "%s: the forward pass over %zu samples kept for Hessian-vector "
                     "products (thread %d of %d)", m->kind, n, t + 1, T);
            return NULL;
        }
    }
    return l;
}

/* H v, recording the primal pass into *state on first use (or after the pool's thread
 * count changed) and replaying it after. */
static int exec_lin_hvp(model *m, const double *theta, const double *v, batch b, double *hv,
                       void **state, model_stats *st, err *e)
{
    int rc = exec_threads(m, e);
    if (rc)
        return rc;
    int T = pool_threads();
    exec_lin *l = *state;
    if (l && (l->T != T || l->nchunks != exec_nchunks(m->impl, b.n, T))) {
        exec_lin_free(l);
        *state = l = NULL;
    }
    if (!l && !(*state = l = exec_lin_alloc(m, b.n, T, e)))
        return ERR_SYS;
    rc = exec_run(m, AD_MODE_HVP, theta, v, b, NULL, hv, NULL, l, st, e);
    l->recorded = !rc;
    return rc;
}

static int exec_features(model *m, const double *theta, batch b, double *f, err *e)
{
    return exec_run(m, AD_MODE_LOSS, theta, NULL, b, NULL, NULL, f, NULL, NULL, e);
}

static int exec_init(model *m, double *theta, uint64_t seed, err *e)
{
    const model_exec *x = m->impl;
    return x->init(m, theta, seed, e);
}

static void exec_free(model *m)
{
    model_exec *x = m->impl;
    if (!x)
        return;
    for (int t = 0; t < x->nthreads; t++) {
        ad_graph_free(x->w[t].graph);
        free(x->w[t].acc);
    }
    free(x->w);
    free(x);
}

static int exec_plane(model *m, const double *theta0, const double *d1, const double *d2,
                      const double *xs, const double *ys, size_t npts, batch b, model_stats *st,
                      err *e)
{
    const model_exec *x = m->impl;
    return x->plane(m, theta0, d1, d2, xs, ys, npts, b, st, e);
}

static const model_vt exec_vt = {
    .loss = exec_loss, .grad = exec_grad, .jvp = exec_jvp, .hvp = exec_hvp,
    .features = exec_features, .init = exec_init, .free = exec_free,
    .lin_bytes = exec_lin_bytes, .lin_hvp = exec_lin_hvp, .lin_free = exec_lin_free,
};

/* The same with the model's plane hook. */
static const model_vt exec_plane_vt = {
    .loss = exec_loss, .grad = exec_grad, .jvp = exec_jvp, .hvp = exec_hvp,
    .features = exec_features, .init = exec_init, .free = exec_free, .plane = exec_plane,
    .lin_bytes = exec_lin_bytes, .lin_hvp = exec_lin_hvp, .lin_free = exec_lin_free,
};

int model_exec_start(model *m, err *e)
{
    const model_exec *x = m->impl;
    m->vt = x->plane ? &exec_plane_vt : &exec_vt;
    return exec_threads(m, e);
}

