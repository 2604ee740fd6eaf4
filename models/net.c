/* net.c -- dense networks ("logreg", "mlp") on the core autodiff graph: the graph, the
 * initialization and the plane hook of landscapes; the executor (exec.c) runs them.
 *
 * The network is nn.Sequential(Linear, act, Linear, act, ..., Linear) with theta laid
 * out as its named_parameters(): "0.weight" (out, in), "0.bias" (out), "2.weight",
 * ... (activations take the odd indices). It is `wide` (exec.c): a batch that fits one
 * chunk runs as that chunk, its matrix products split over the threads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_rng.h>

#include "../core/pool.h"
#include "../core/rng.h"
#include "impl.h"

#define MAX_LAYERS 17

typedef struct net {
    model_exec x;                 /* first: the executor reads m->impl as a model_exec */
    model_opts o;
    int nlayers;
    int width[MAX_LAYERS + 1];  /* width[0] = inputs, width[nlayers] = outputs */
} net;


/* Build one thread's graph of layers `from`..nlayers-1, its input the output of layer
 * from-1: before the activation when act_first, after it otherwise (from = 0: the
 * whole network on the samples). Its theta is theta[offset of layer from's weight ..):
 * from > 0 binds the tail's parameters alone. */
static ad_graph *net_graph_from(const model *m, int from, int act_first, err *e)
{
    const net *nt = m->impl;
    ad_graph *g = ad_graph_new(nt->x.chunk, e);
    if (!g)
        return NULL;
    int h = ad_input(g, nt->width[from]), k = from * (nt->o.bias ? 2 : 1);
    size_t base = from < nt->nlayers ? m->blocks[k].offset : 0;
    for (int l = from; l < nt->nlayers; l++) {
        if (l > from || (l > 0 && act_first))
            h = ad_act(g, h, nt->o.act, nt->o.leaky_slope);
        if (l == nt->nlayers - 1)
            ad_set_features(g, h);
        const model_block *w = &m->blocks[k++];
        h = ad_matmul_t(g, h, ad_param(g, w->offset - base, w->shape[0], w->shape[1]));
        if (nt->o.bias) {
            const model_block *b = &m->blocks[k++];
            h = ad_bias(g, h, ad_param(g, b->offset - base, b->shape[0], 1));
        }
    }
    int loss = nt->o.loss == LOSS_MSE ? ad_loss_mse(g, h) : ad_loss_ce(g, h);
    if (ad_graph_plan(g, loss, e)) {
        ad_graph_free(g);
        return NULL;
    }
    return g;
}

static ad_graph *net_graph(const model *m, err *e)
{
    return net_graph_from(m, 0, 1, e);
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

/* --- the plane hook of dense networks (model.h; probes/landscape.h) ---
 * The first layer is linear in its parameters: on a chunk X of samples
 *   X (W0 + x D1 + y D2)^T + (b0 + x e1 + y e2) = A + x B + y C,
 * A = X W0^T + b0, B = X D1^T + e1, C = X D2^T + e2 (D, e: the directions' first-layer
 * blocks), one GEMM per chunk against the stacked [W0; D1; D2], once per grid. Each
 * point then makes its first activations act(A + xB + yC) row by row (each row in L1
 * between the two) and runs only the tail graph (net_graph_from layer 1 on
 * activations: the second layer onwards) on them. Samples go in blocks of whole chunks
 * (at most PLANE_BYTES of [A|B|C] at once); in a block, first the chunks' GEMMs and
 * then the points are split over the pool's threads in fixed ranges. A thread takes
 * its points in groups (their tails' parameters made once) and runs the group chunk
 * by chunk, so each chunk's rows of [A|B|C] are read from cache, not memory. One
 * thread adds each point's chunk sums in chunk order, so no bit depends on the thread
 * count. */
#define PLANE_BYTES ((size_t)128 << 20)
#define PLANE_GROUP_BYTES ((size_t)16 << 20)

typedef struct plane_job {
    model *m;
    const double *theta0, *d1, *d2, *xs, *ys;
    size_t npts, nd;            /* points; directions (1 or 2) */
    batch b;
    size_t r0, rows;            /* this block of samples */
    const double *w3, *b3;      /* ((1+nd) h, in) stacked weights, ((1+nd) h) biases */
    double *abc;                /* (rows, (1+nd) h): [A | B | C] of each sample */
    ad_sums *sums;              /* (npts) */
    int phase;                  /* 0: the block's first layer; 1: its points */
    ad_graph **tail;            /* (T) */
    double **theta, **pre;      /* (T) x (group, n - tail0): the tails; (T) x (chunk, h) */
    int *rc;                    /* (T) */
    err *e;                     /* (T) */
} plane_job;

/* Where the tail's parameters start in theta (after the first layer's). */
static size_t plane_tail0(const model *m)
{
    const net *nt = m->impl;
    return nt->nlayers > 1 ? m->blocks[nt->o.bias ? 2 : 1].offset : m->n;
}

/* Points evaluated together, chunk by chunk: as many tails' parameters as fit in
 * PLANE_GROUP_BYTES (at least one). */
static size_t plane_group(const model *m)
{
    size_t g = PLANE_GROUP_BYTES / ((m->n - plane_tail0(m) + 1) * sizeof(double));
    return g ? g : 1;
}

/* o = A + x B (+ y C) for one sample's row [A | B | C] of h each. */
AD_VECTOR static void plane_row(const double *a, size_t h, double x, double y, size_t nd,
                                double *o)
{
    if (nd > 1) {
        AD_IVDEP for (size_t k = 0; k < h; k++)
            o[k] = a[k] + x * a[h + k] + y * a[2 * h + k];
    } else {
        AD_IVDEP for (size_t k = 0; k < h; k++)
            o[k] = a[k] + x * a[h + k];
    }
}

static void plane_thread(void *arg, int tid, int T)
{
    const plane_job *j = arg;
    const net *nt = j->m->impl;
    size_t chunk = nt->x.chunk, in = (size_t)nt->width[0], h = (size_t)nt->width[1];
    size_t w3 = (1 + j->nd) * h, nchunks = (j->rows + chunk - 1) / chunk;
    if (j->rc[tid])
        return;
    if (j->phase == 0) {
        for (size_t c = nchunks * (size_t)tid / (size_t)T; c < nchunks * (size_t)(tid + 1) / (size_t)T; c++) {
            size_t r = c * chunk, rows = j->rows - r < chunk ? j->rows - r : chunk;
            double *out = j->abc + r * w3;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)w3, (int)in, 1.0,
                        j->b.x + (j->r0 + r) * in, (int)in, j->w3, (int)in, 0.0, out, (int)w3);
            for (size_t i = 0; i < rows && j->b3; i++)
                for (size_t k = 0; k < w3; k++)
                    out[i * w3 + k] += j->b3[k];
        }
        return;
    }
    size_t tdim = (size_t)j->m->out_dim, n = j->m->n;  /* the tail's parameters: theta[tail0..n) */
    size_t tail0 = plane_tail0(j->m), g = plane_group(j->m), p1 = j->npts * (size_t)(tid + 1) / (size_t)T;
    double *pre = j->pre[tid];
    for (size_t p0 = j->npts * (size_t)tid / (size_t)T; p0 < p1; p0 += g) {
        size_t np = p1 - p0 < g ? p1 - p0 : g;
        for (size_t q = 0; q < np; q++) {  /* the group's tail parameters */
            double x = j->xs[p0 + q], y = j->nd > 1 ? j->ys[p0 + q] : 0;
            double *th = j->theta[tid] + q * (n - tail0);
            for (size_t i = tail0; i < n; i++)
                th[i - tail0] = j->theta0[i] + x * j->d1[i] + (j->nd > 1 ? y * j->d2[i] : 0);
        }
        /* chunk-major, so a chunk's [A|B|C] stays in cache for the whole group; each
         * point still adds its chunks in chunk order */
        for (size_t r = 0; r < j->rows && !j->rc[tid]; r += chunk) {
            size_t rows = j->rows - r < chunk ? j->rows - r : chunk, s = j->r0 + r;
            for (size_t q = 0; q < np && !j->rc[tid]; q++) {
                double x = j->xs[p0 + q], y = j->nd > 1 ? j->ys[p0 + q] : 0;
                for (size_t i = 0; i < rows; i++) {
                    plane_row(j->abc + (r + i) * w3, h, x, y, j->nd, pre + i * h);
                    if (nt->nlayers > 1)   /* else these are the outputs */
                        ad_act_apply(nt->o.act, nt->o.leaky_slope, pre + i * h, pre + i * h, h);
                }
                ad_bind bd = {.theta = j->theta[tid] + q * (n - tail0), .x = pre,
                              .y = j->b.y ? j->b.y + s : NULL,
                              .t = j->b.t ? j->b.t + s * tdim : NULL, .rows = rows,
                              .scale = 1.0 / (double)j->b.n};
                j->rc[tid] = ad_run(j->tail[tid], AD_MODE_LOSS, &bd, &j->sums[p0 + q], &j->e[tid]);
            }
        }
    }
}

static int dense_plane(model *m, const double *theta0, const double *d1, const double *d2,
                       const double *xs, const double *ys, size_t npts, batch b, model_stats *st,
                       err *e)
{
    const net *nt = m->impl;
    int T = pool_threads(), rc = 0;
    size_t nd = d2 ? 2 : 1, in = (size_t)nt->width[0], h = (size_t)nt->width[1];
    size_t chunk = nt->x.chunk, w3 = (1 + nd) * h;
    size_t block = PLANE_BYTES / (w3 * sizeof(double)) / chunk * chunk;
    block = block < chunk ? chunk : block < b.n ? block : b.n;
    const model_block *W = &m->blocks[0], *B = nt->o.bias ? &m->blocks[1] : NULL;
    plane_job j = {.m = m, .theta0 = theta0, .d1 = d1, .d2 = d2, .xs = xs, .ys = ys,
                   .npts = npts, .nd = nd, .b = b};
    double *ws = err_malloc(e, (w3 * in + w3) * sizeof *ws);
    j.abc = err_malloc(e, block * w3 * sizeof *j.abc);
    j.sums = err_calloc(e, npts, sizeof *j.sums);
    j.tail = err_calloc(e, (size_t)T, sizeof *j.tail);
    j.theta = err_calloc(e, (size_t)T, sizeof *j.theta);
    j.pre = err_calloc(e, (size_t)T, sizeof *j.pre);
    j.rc = err_calloc(e, (size_t)T, sizeof *j.rc);
    j.e = err_calloc(e, (size_t)T, sizeof *j.e);
    if (!ws || !j.abc || !j.sums || !j.tail || !j.theta || !j.pre || !j.rc || !j.e)
        rc = err_wrap(e, "landscape: first-layer activations of %zu-sample blocks at %zu points",
                      block, npts);
    for (int t = 0; t < T && !rc; t++) {
        j.tail[t] = net_graph_from(m, 1, 0, e);
        j.theta[t] = err_calloc(e, plane_group(m) * (m->n - plane_tail0(m)) + 1, sizeof(double));
        j.pre[t] = err_malloc(e, chunk * h * sizeof(double));
        if (!j.tail[t] || !j.theta[t] || !j.pre[t])
            rc = err_wrap(e, "landscape: thread %d of %d's graph and weights", t + 1, T);
    }
    if (!rc) {  /* stacked [W0; D1; D2] and [b0; e1; e2] */
        for (size_t k = 0; k <= nd; k++) {
            const double *src = k == 0 ? theta0 : k == 1 ? d1 : d2;
            memcpy(ws + k * h * in, src + W->offset, h * in * sizeof *ws);
            for (size_t i = 0; i < h; i++)
                ws[w3 * in + k * h + i] = B ? src[B->offset + i] : 0;
        }
        j.w3 = ws;
        j.b3 = B ? ws + w3 * in : NULL;
    }
    for (size_t r0 = 0; r0 < b.n && !rc; r0 += block) {
        j.r0 = r0;
        j.rows = b.n - r0 < block ? b.n - r0 : block;
        for (j.phase = 0; j.phase < 2; j.phase++)
            pool_run(plane_thread, &j);
        for (int t = 0; t < T && !rc; t++)
            if ((rc = j.rc[t]) && e)
                *e = j.e[t];
    }
    for (size_t p = 0; p < npts && !rc; p++)
        st[p] = (model_stats){.loss = j.sums[p].loss, .correct = j.sums[p].correct, .n = b.n};
    for (int t = 0; t < T && j.tail; t++) {
        ad_graph_free(j.tail[t]);
        free(j.theta[t]);
        free(j.pre[t]);
    }
    free(ws);
    free(j.abc);
    free(j.sums);
    free(j.tail);
    free(j.theta);
    free(j.pre);
    free(j.rc);
    free(j.e);
    return rc;
}

int net_new(const model_kind *k, const model_opts *o, model **out, err *e)
{
    int logreg = strcmp(k->name, "logreg") == 0;
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
    nt->x.wide = 1;
    nt->x.build = net_graph;
    nt->x.init = mlp_init;
    nt->x.plane = dense_plane;
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
    int rc = model_exec_start(m, e);
    if (rc) {
        model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
