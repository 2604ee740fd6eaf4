/* net.c -- dense networks ("logreg", "mlp") on the core autodiff graph.
 *
 * The network is nn.Sequential(Linear, act, Linear, act, ..., Linear) with theta laid
 * out as its named_parameters(): "0.weight" (out, in), "0.bias" (out), "2.weight",
 * ... (activations take the odd indices). One graph per thread, built once with the
 * chunk size as its row capacity. A batch is cut into near-equal contiguous chunks
 * (at least one per thread, at most `chunk` rows each); thread t runs a fixed,
 * contiguous range of chunks and accumulates into its own buffers, which are summed
 * in thread order: the partition, and so every bit of the result, depends only on
 * (batch size, chunk size, thread count). This executor serves every graph-backed
 * model (impl.h's net_exec): the convolutional models (models/cnn.c) supply their
 * own graph builder and initialization and share everything else. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "../core/pool.h"
#include "../core/rng.h"
#include "impl.h"

#define MAX_LAYERS 17

/* What one thread owns: its graph, private accumulators, and its share's results. */
struct net_worker {
    ad_graph *graph;
    double *acc;                /* (2n) gradient and H v accumulators; NULL for thread 0 */
    ad_sums sums;
    int rc;
    err e;
};
typedef struct net_worker worker;

typedef struct net {
    net_exec x;                 /* first: the executor reads m->impl as a net_exec */
    model_opts o;
    int nlayers;
    int width[MAX_LAYERS + 1];  /* width[0] = inputs, width[nlayers] = outputs */
} net;

static const model_vt net_vt;

/* Build one thread's graph. */
static ad_graph *net_graph(const model *m, err *e)
{
    const net *nt = m->impl;
    ad_graph *g = ad_graph_new(nt->x.chunk, e);
    if (!g)
        return NULL;
    int h = ad_input(g, nt->width[0]), k = 0;
    for (int l = 0; l < nt->nlayers; l++) {
        if (l == nt->nlayers - 1)
            ad_set_features(g, h);
        const model_block *w = &m->blocks[k++];
        h = ad_matmul_t(g, h, ad_param(g, w->offset, w->shape[0], w->shape[1]));
        if (nt->o.bias) {
            const model_block *b = &m->blocks[k++];
            h = ad_bias(g, h, ad_param(g, b->offset, b->shape[0], 1));
        }
        if (l < nt->nlayers - 1)
            h = ad_act(g, h, nt->o.act, nt->o.leaky_slope);
    }
    int loss = nt->o.loss == LOSS_MSE ? ad_loss_mse(g, h) : ad_loss_ce(g, h);
    if (ad_graph_plan(g, loss, e)) {
        ad_graph_free(g);
        return NULL;
    }
    return g;
}

/* Make sure there are workers for the pool's thread count. */
static int net_threads(model *m, err *e)
{
    net_exec *x = m->impl;
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
            return ERR_SYS;
        }
        x->nthreads = t + 1;
    }
    return 0;
}

/* One evaluation spread over the pool. */
typedef struct job {
    model *m;
    enum ad_mode mode;
    const double *theta, *v;
    batch b;
    double *g, *hv, *feat;      /* thread 0's accumulators / the feature rows */
    size_t nchunks;
} job;

static void job_thread(void *arg, int tid, int T)
{
    const job *j = arg;
    net_exec *x = j->m->impl;
    worker *w = &x->w[tid];
    size_t n = j->b.n, d = (size_t)j->m->in_dim, tdim = (size_t)j->m->out_dim;
    size_t lo = j->nchunks * (size_t)tid / (size_t)T, hi = j->nchunks * (size_t)(tid + 1) / (size_t)T;
    ad_bind bd = {.theta = j->theta, .v = j->v, .g = j->g, .hv = j->hv, .scale = 1.0 / (double)n};
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
    for (size_t k = lo; k < hi && !w->rc; k++) {
        size_t r0 = n * k / j->nchunks, r1 = n * (k + 1) / j->nchunks;
        bd.x = j->b.x + r0 * d;
        bd.y = j->b.y ? j->b.y + r0 : NULL;
        bd.t = j->b.t ? j->b.t + r0 * tdim : NULL;
        bd.rows = r1 - r0;
        bd.feat = j->feat ? j->feat + r0 * (size_t)j->m->feat_dim : NULL;
        w->rc = ad_run(w->graph, j->mode, &bd, &w->sums, &w->e);
    }
}

/* Run `mode` over the whole batch; g/hv (n) are overwritten (not accumulated). */
static int net_run(model *m, enum ad_mode mode, const double *theta, const double *v,
                   batch b, double *g, double *hv, double *feat, model_stats *st, err *e)
{
    net_exec *x = m->impl;
    int rc = net_threads(m, e);
    if (rc)
        return rc;
    int T = pool_threads();
    size_t chunk = x->chunk, nchunks = (b.n + chunk - 1) / chunk;
    if (nchunks < (size_t)T)
        nchunks = b.n < (size_t)T ? b.n : (size_t)T;
    job j = {.m = m, .mode = mode, .theta = theta, .v = v, .b = b, .g = g, .hv = hv,
             .feat = feat, .nchunks = nchunks};
    if (g)
        memset(g, 0, m->n * sizeof(double));
    if (hv)
        memset(hv, 0, m->n * sizeof(double));
    pool_run(job_thread, &j);
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
        if (t && g)
            for (size_t i = 0; i < m->n; i++)
                g[i] += w->acc[i];
        if (t && hv)
            for (size_t i = 0; i < m->n; i++)
                hv[i] += w->acc[m->n + i];
    }
    if (st)
        *st = (model_stats){.loss = s.loss, .correct = s.correct, .jvp = s.jvp, .n = b.n};
    return rc;
}

static int net_loss(model *m, const double *theta, batch b, model_stats *st, err *e)
{
    return net_run(m, AD_MODE_LOSS, theta, NULL, b, NULL, NULL, NULL, st, e);
}

static int net_grad(model *m, const double *theta, batch b, double *g, model_stats *st, err *e)
{
    return net_run(m, AD_MODE_GRAD, theta, NULL, b, g, NULL, NULL, st, e);
}

static int net_jvp(model *m, const double *theta, const double *v, batch b, model_stats *st,
                   err *e)
{
    return net_run(m, AD_MODE_JVP, theta, v, b, NULL, NULL, NULL, st, e);
}

static int net_hvp(model *m, const double *theta, const double *v, batch b, double *g,
                   double *hv, model_stats *st, err *e)
{
    double *gs = g ? g : err_malloc(e, m->n * sizeof(double));
    if (!gs)
        return ERR_SYS;
    int rc = net_run(m, AD_MODE_HVP, theta, v, b, gs, hv, NULL, st, e);
    if (!g)
        free(gs);
    return rc;
}

static int net_features(model *m, const double *theta, batch b, double *f, err *e)
{
    return net_run(m, AD_MODE_LOSS, theta, NULL, b, NULL, NULL, f, NULL, e);
}

static int net_init(model *m, double *theta, uint64_t seed, err *e)
{
    const net_exec *x = m->impl;
    return x->init(m, theta, seed, e);
}

/* PyTorch's nn.Linear default: kaiming_uniform_(a=sqrt(5)) on the weight, which is
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from the same interval. Drawn
 * layer by layer, weight then bias, in theta order. */
static int mlp_init(const model *m, double *theta, uint64_t seed, err *e)
{
    gsl_rng *r = rng_stream(seed, RNG_INIT, 0);
    if (!r)
        return err_set(e, ERR_SYS, "init: out of memory");
    const net *nt = m->impl;
    for (int k = 0; k < m->nblocks; k++) {
        const model_block *bl = &m->blocks[k];
        int layer = nt->o.bias ? k / 2 : k;
        double bound = 1 / sqrt((double)nt->width[layer]);
        for (size_t i = 0; i < bl->size; i++)
            theta[bl->offset + i] = bound * (2 * gsl_rng_uniform(r) - 1);
    }
    rng_free(r);
    return 0;
}

static void net_free(model *m)
{
    net_exec *x = m->impl;
    if (!x)
        return;
    for (int t = 0; t < x->nthreads; t++) {
        ad_graph_free(x->w[t].graph);
        free(x->w[t].acc);
    }
    free(x->w);
    free(x);
}

static const model_vt net_vt = {
    .loss = net_loss, .grad = net_grad, .jvp = net_jvp, .hvp = net_hvp,
    .features = net_features, .init = net_init, .free = net_free,
};

int net_new(const model_opts *o, model **out, err *e)
{
    int logreg = strcmp(o->kind, "logreg") == 0;
    if (!logreg && strcmp(o->kind, "mlp") != 0)
        return err_set(e, ERR_USAGE, "model: unknown model '%s' (known: logreg, mlp, "
                       "rosenbrock, beale, himmelblau, rastrigin, quadratic:a,b)", o->kind);
    int nh = logreg ? 0 : o->nhidden;
    if (nh < 0 || nh > MAX_LAYERS - 1)
        return err_set(e, ERR_USAGE, "model: %d hidden layers (at most %d)", nh, MAX_LAYERS - 1);
    if (o->in_dim <= 0 || o->out_dim <= 0)
        return err_set(e, ERR_USAGE, "model: input width %d and output width %d must be "
                       "positive", o->in_dim, o->out_dim);
    if ((unsigned)o->act >= AD_ACT_COUNT)
        return err_set(e, ERR_USAGE, "model: unknown activation %d", (int)o->act);
    net *nt = err_calloc(e, 1, sizeof *nt);
    if (!nt)
        return ERR_SYS;
    nt->o = *o;
    nt->x.chunk = o->chunk ? o->chunk : 256;
    nt->x.build = net_graph;
    nt->x.init = mlp_init;
    nt->nlayers = nh + 1;
    nt->width[0] = o->in_dim;
    size_t n = 0;
    for (int l = 1; l <= nh; l++) {
        if (o->hidden[l - 1] <= 0 || o->hidden[l - 1] > 1 << 20) {
            free(nt);
            return err_set(e, ERR_USAGE, "model: hidden width %d is not in 1..%d",
                           o->hidden[l - 1], 1 << 20);
        }
        nt->width[l] = o->hidden[l - 1];
    }
    nt->width[nh + 1] = o->out_dim;
    model *m = model_alloc(nt->nlayers * (o->bias ? 2 : 1), e);
    if (!m) {
        free(nt);
        return ERR_SYS;
    }
    m->impl = nt;
    snprintf(m->kind, sizeof m->kind, "%s", logreg ? "logreg" : "mlp");
    for (int l = 0, k = 0; l < nt->nlayers; l++) {
        model_block *w = &m->blocks[k++];
        *w = (model_block){.offset = n, .size = (size_t)nt->width[l + 1] * (size_t)nt->width[l],
                           .ndim = 2, .shape = {nt->width[l + 1], nt->width[l]},
                           .role = ROLE_WEIGHT};
        snprintf(w->name, sizeof w->name, "%d.weight", 2 * l);
        n += w->size;
        if (o->bias) {
            model_block *b = &m->blocks[k++];
            *b = (model_block){.offset = n, .size = (size_t)nt->width[l + 1], .ndim = 1,
                               .shape = {nt->width[l + 1]}, .role = ROLE_BIAS};
            snprintf(b->name, sizeof b->name, "%d.bias", 2 * l);
            n += b->size;
        }
    }
    m->n = n;
    m->in_dim = o->in_dim;
    m->out_dim = o->out_dim;
    m->feat_dim = nt->width[nh];
    int rc = net_exec_start(m, e);
    if (rc) {
        model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int net_exec_start(model *m, err *e)
{
    m->vt = &net_vt;
    return net_threads(m, e);
}
