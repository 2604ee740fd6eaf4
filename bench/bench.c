/* bench.c -- basin's figures for the comparison with the PyTorch peer
 * (../shared/peers/torch_bench.py); bench/run.sh joins both and prints the table.
 *
 * Work, all in float64 on an MLP 784-256-256-10 (ReLU, cross-entropy, PyTorch default
 * init) and the first 10,000 Fashion-MNIST training samples scaled to [0,1]:
 *   1. SGD training step (batch 128, lr 0.05, momentum 0.9) through opt_step: time per
 *      step over one epoch of the 78 sequential full batches, median of 5 epochs
 *      (after one warm-up epoch).
 *   2. full-batch gradient over the 10,000 samples (model_grad), median of 7.
 *   3. one exact Hessian-vector product over the 10,000 samples (model_hvp, g = NULL),
 *      median of 7, and its ratio to the gradient; then the same through a model_lin
 *      (the probes' path): its first H v, which keeps the primal pass, and the median
 *      of 7 replays.
 *   4. informational: PyHessian power iteration to the top Hessian eigenvalue through
 *      the model_lin, and a 21x21 loss landscape on filter-normalized random directions.
 *   5. the DGEMM floor: cblas_dgemm GFLOP/s on the forward shape of one batch and on
 *      1024^3, and for 1-3 the time their matrix products alone would take at the
 *      better of the two rates (FLOPs counted per layer in the printed table).
 * Workloads 2-4 run at the theta the training epochs reached, as the peer's do.
 *
 * Output: one `name value unit` line per figure; lines starting with '#' are notes
 * for people. Usage: bench [--threads N] [--seed S]. Threads go to the core's pool
 * (pool_set_threads, as BASIN_THREADS would); DGEMM is timed first with OpenBLAS raised
 * to N threads, then set back to the one it runs on under the pool (core/pool.c starts it
 * on one, before its library constructor). The OpenBLAS
 * kernel in use is printed (openblas_core) so that run.sh can check that the peer ran on
 * the same one (OpenBLAS picks it at load time, or OPENBLAS_CORETYPE does). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>

#include "../core/ad.h"
#include "../core/pool.h"
#include "../core/rng.h"
#include "../models/data.h"
#include "../models/model.h"
#include "../optim/opt.h"

void openblas_set_num_threads(int num_threads);   /* libopenblas */
char *openblas_get_corename(void);                 /* libopenblas */

#define SAMPLES 10000
#define BATCH 128
#define REPS 7
#define EPOCHS 5

static err E;

/* Only main's helpers exit: a failed call ends the benchmark with its message. */
static void check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "bench: %s: %s\n", what, E.msg);
        exit(rc);
    }
}

static void *xmalloc(size_t bytes)
{
    void *p = err_malloc(&E, bytes);
    check(p ? 0 : ERR_SYS, "allocation");
    return p;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of t[0..n), which it sorts. */
static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* The core's workspace counter (arena bytes, core/ad.h): the peak since the last
 * call, and how much of it the last workload added to the arenas already held
 * (each execution mode keeps its arena once planned). Resets the peak. */
static void print_workspace(const char *what)
{
    static size_t held;
    size_t peak = ad_mem_peak();
    printf("ws_peak_%s %zu bytes\n", what, peak);
    printf("ws_added_%s %zu bytes\n", what, peak - held);
    held = ad_mem_current();
    ad_mem_reset_peak();
}

/* GFLOP/s of C = A B with A (m, k), B (k, n): median over REPS of `inner` products. */
static double gemm_gflops(int m, int n, int k, int inner)
{
    double *a = xmalloc(sizeof(double) * (size_t)m * (size_t)k);
    double *b = xmalloc(sizeof(double) * (size_t)k * (size_t)n);
    double *c = xmalloc(sizeof(double) * (size_t)m * (size_t)n);
    for (size_t i = 0; i < (size_t)m * (size_t)k; i++)
        a[i] = (double)(i % 17) / 17.0 - 0.5;
    for (size_t i = 0; i < (size_t)k * (size_t)n; i++)
        b[i] = (double)(i % 13) / 13.0 - 0.5;
    double t[REPS + 1];
    for (int r = 0; r <= REPS; r++) {   /* r = 0 warms up */
        double t0 = now();
        for (int i = 0; i < inner; i++)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k,
                        1.0, a, k, b, n, 0.0, c, n);
        t[r] = now() - t0;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * m * n * k * inner / median(t + 1, REPS) / 1e9;
}

/* Matrix products per dense layer, each one B x in x out GEMM (2*B*in*out FLOPs).
 * Layer 0 takes the data, whose gradient and tangent are never needed. The HVP is
 * forward-over-reverse with g = NULL: primal forward, tangent forward x' W^T + x V^T,
 * primal backward input gradient only (the weight gradient is not asked for), then
 * the tangents of the weight gradient d'^T x + d^T x' and of the input gradient
 * d' W + d V. Bias, activation, softmax and optimizer work is not counted. */
enum { STEP, HVP };
static const struct { int kind; const char *name; int first, other; } PHASES[] = {
    {STEP, "fwd", 1, 1}, {STEP, "wgrad", 1, 1}, {STEP, "igrad", 0, 1},
    {HVP, "fwd", 1, 1}, {HVP, "fwd'", 1, 2}, {HVP, "igrad", 0, 1},
    {HVP, "wgrad'", 1, 2}, {HVP, "igrad'", 0, 2},
};
#define NPHASES (int)(sizeof PHASES / sizeof PHASES[0])

/* FLOPs of the GEMMs of `kind` on a batch of b samples; `print` prints the table. */
static double gemm_flops(const model *m, int kind, double b, int print)
{
    double f = 0;
    int layer = 0;
    if (print) {
        printf("# GEMMs per layer (each 2*B*in*out FLOPs)\n#  layer   in  out |");
        for (int p = 0; p < NPHASES; p++)
            printf(" %s%s", PHASES[p].kind == STEP ? "step:" : "hvp:", PHASES[p].name);
        printf("\n");
    }
    for (int k = 0; k < m->nblocks; k++) {
        const model_block *bl = &m->blocks[k];
        if (bl->role != ROLE_WEIGHT || bl->ndim != 2)
            continue;
        int out = bl->shape[0], in = bl->shape[1], cnt = 0;
        if (print)
            printf("#  %5d %4d %4d |", layer, in, out);
        for (int p = 0; p < NPHASES; p++) {
            int c = layer == 0 ? PHASES[p].first : PHASES[p].other;
            if (print)
                printf(" %*d", (int)strlen(PHASES[p].name) + (PHASES[p].kind == STEP ? 5 : 4), c);
            cnt += PHASES[p].kind == kind ? c : 0;
        }
        if (print)
            printf("\n");
        f += cnt * 2.0 * b * in * out;
        layer++;
    }
    return f;
}

/* Scale each output row of every 2-D weight block of d to the norm of theta's row
 * (Li et al. 2018, filter normalization); zero the directions of all other blocks. */
static void filter_normalize(const model *m, const double *theta, double *d)
{
    for (int k = 0; k < m->nblocks; k++) {
        const model_block *bl = &m->blocks[k];
        if (bl->ndim != 2) {
            memset(d + bl->offset, 0, bl->size * sizeof *d);
            continue;
        }
        size_t rows = (size_t)bl->shape[0], cols = bl->size / rows;
        for (size_t r = 0; r < rows; r++) {
            double *dr = d + bl->offset + r * cols;
            const double *wr = theta + bl->offset + r * cols;
            double s = sqrt(dot(wr, wr, cols)) / (sqrt(dot(dr, dr, cols)) + 1e-10);
            for (size_t i = 0; i < cols; i++)
                dr[i] *= s;
        }
    }
}

/* Seconds for the 441 points (xs, ys) of theta + x d1 + y d2 over batch b, through the
 * model's plane hook when it has one, else model_loss per point (w: n doubles of
 * scratch). */
static double landscape_s(model *m, const double *theta, const double *d1, const double *d2,
                          const double *xs, const double *ys, batch b, model_stats *st,
                          double *w)
{
    double t0 = now();
    if (m->vt->plane)
        check(m->vt->plane(m, theta, d1, d2, xs, ys, 441, b, st, &E), "landscape");
    else
        for (int k = 0; k < 441; k++) {
            for (size_t i = 0; i < m->n; i++)
                w[i] = theta[i] + xs[k] * d1[i] + ys[k] * d2[i];
            check(model_loss(m, w, b, &st[k], &E), "landscape");
        }
    return now() - t0;
}

int main(int argc, char **argv)
{
    int threads = 1;
    unsigned long seed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = pool_parse_threads(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoul(argv[++i], NULL, 10);
        else
            threads = -1;
        if (threads < 1) {
            fprintf(stderr, "usage: bench [--threads N] [--seed S]\n");
            return ERR_USAGE;
        }
    }

    /* 5a. DGEMM rates, OpenBLAS on all N threads. */
    openblas_set_num_threads(threads);
    double g_fwd = gemm_gflops(BATCH, 256, 784, 100);
    double g_big = gemm_gflops(1024, 1024, 1024, 1);
    double g_floor = g_fwd > g_big ? g_fwd : g_big;
    if (threads > 1) {   /* scaling check: does this run have its cores to itself? */
        openblas_set_num_threads(1);
        printf("gemm_1024_1t %.1f GFLOP/s\n", gemm_gflops(1024, 1024, 1024, 1));
    }
    check(pool_set_threads(threads, &E), "threads");
    printf("threads %d count\n", pool_threads());
    printf("openblas_core %s name\n", openblas_get_corename());
    printf("gemm_128x784x256 %.1f GFLOP/s\n", g_fwd);
    printf("gemm_1024 %.1f GFLOP/s\n", g_big);

    data_opts dop;
    data_opts_default(&dop);
    dop.samples = SAMPLES;
    data *d = NULL;
    check(data_load(&dop, &d, &E), "data");

    model_opts mop;
    model_opts_default(&mop);
    mop.in_dim = d->d;
    mop.out_dim = d->classes;
    model *m = NULL;
    check(model_new(&mop, &m, &E), "model");
    size_t n = m->n;
    double *theta = xmalloc(n * sizeof *theta);
    double *g = xmalloc(n * sizeof *g);
    double *v = xmalloc(n * sizeof *v);
    double *hv = xmalloc(n * sizeof *hv);
    check(model_init(m, theta, seed, &E), "init");
    printf("params %zu count\n", n);
    batch all = {d->x, d->y, NULL, d->n};
    model_stats st;
    double t[REPS + 1];
    print_workspace("setup");

    /* 1. SGD training step. */
    opt_hparams hp;
    opt_hparams_default(&hp);
    hp.lr = 0.05;
    hp.momentum = 0.9;
    opt *o = NULL;
    check(opt_new("sgd", &hp, n, &o, &E), "optimizer");
    size_t steps = d->n / BATCH;
    for (int r = 0; r <= EPOCHS; r++) {   /* r = 0 warms up */
        double t0 = now();
        for (size_t s = 0; s < steps; s++) {
            batch b = {d->x + s * BATCH * (size_t)d->d, d->y + s * BATCH, NULL, BATCH};
            check(opt_step(o, m, theta, b, &st, &E), "training step");
        }
        t[r] = (now() - t0) / (double)steps;
    }
    double t_step = median(t + 1, EPOCHS);
    printf("train_step_us %.1f us\n", t_step * 1e6);
    printf("train_loss_last %.4f 1\n", st.loss);
    print_workspace("train");

    /* 2. full-batch gradient. */
    for (int r = 0; r <= REPS; r++) {
        double t0 = now();
        check(model_grad(m, theta, all, g, &st, &E), "gradient");
        t[r] = now() - t0;
    }
    double t_grad = median(t + 1, REPS);
    printf("grad_10k_ms %.1f ms\n", t_grad * 1e3);
    print_workspace("grad");

    /* 3. exact HVP, no gradient by-product. */
    gsl_rng *rp = rng_stream(seed, RNG_PROBE, 0);
    check(rp ? 0 : ERR_SYS, "rng");
    for (size_t i = 0; i < n; i++)
        v[i] = gsl_ran_gaussian(rp, 1.0);
    for (int r = 0; r <= REPS; r++) {
        double t0 = now();
        check(model_hvp(m, theta, v, all, NULL, hv, &st, &E), "hvp");
        t[r] = now() - t0;
    }
    double t_hvp = median(t + 1, REPS);
    printf("hvp_10k_ms %.1f ms\n", t_hvp * 1e3);
    printf("hvp_over_grad %.2f x\n", t_hvp / t_grad);
    print_workspace("hvp");
    model_lin *lin = NULL;
    check(model_lin_new(m, theta, all, SIZE_MAX, &lin, &E), "linearization");
    for (int r = 0; r <= REPS; r++) {
        double t0 = now();
        check(model_lin_hvp(lin, v, hv, &st, &E), "hvp replay");
        t[r] = now() - t0;
        if (r == 0)
            printf("hvp_lin_first_ms %.1f ms\n", t[0] * 1e3);
    }
    double t_rep = median(t + 1, REPS);
    printf("hvp_lin_replay_ms %.1f ms\nhvp_lin_replay_over_grad %.2f x\nlin_bytes %zu bytes\n",
           t_rep * 1e3, t_rep / t_grad, model_lin_bytes(lin));

    /* 4a. power iteration as PyHessian: v <- Hv/||Hv||, relative change < 1e-3. */
    for (size_t i = 0; i < n; i++)
        v[i] = gsl_ran_gaussian(rp, 1.0);
    double nv = sqrt(dot(v, v, n)), eig = 0;
    for (size_t i = 0; i < n; i++)
        v[i] /= nv;
    int its = 0;
    double t0 = now();
    for (its = 1; its <= 100; its++) {
        check(model_lin_hvp(lin, v, hv, &st, &E), "power iteration");
        double e = dot(hv, v, n), nh = sqrt(dot(hv, hv, n));
        for (size_t i = 0; i < n; i++)
            v[i] = hv[i] / nh;
        int done = its > 1 && fabs(eig - e) / (fabs(eig) + 1e-6) < 1e-3;
        eig = e;
        if (done)
            break;
    }
    printf("power_s %.2f s\n", now() - t0);
    printf("power_hvps %d count\n", its > 100 ? 100 : its);
    printf("lambda_max %.4f 1\n", eig);
    rng_free(rp);
    model_lin_free(lin);

    /* 4b. 21x21 landscape on filter-normalized directions, x and y in [-1, 1]. */
    gsl_rng *rd = rng_stream(seed, RNG_DIRECTIONS, 0);
    check(rd ? 0 : ERR_SYS, "rng");
    double *d1 = g, *d2 = v, *w = hv;   /* the buffers are free now */
    for (size_t i = 0; i < n; i++)
        d1[i] = gsl_ran_gaussian(rd, 1.0);
    for (size_t i = 0; i < n; i++)
        d2[i] = gsl_ran_gaussian(rd, 1.0);
    rng_free(rd);
    filter_normalize(m, theta, d1);
    filter_normalize(m, theta, d2);
    /* Through the model's plane hook (all points in one call) when it has one. */
    double xs[441], ys[441];
    model_stats pst[441];
    for (int k = 0; k < 441; k++) {
        xs[k] = -1.0 + (k / 21) / 10.0;
        ys[k] = -1.0 + (k % 21) / 10.0;
    }
    printf("# landscape through %s\n", m->vt->plane ? "the model's plane hook"
                                                    : "model_loss per point");
    double t_land = landscape_s(m, theta, d1, d2, xs, ys, all, pst, w);
    printf("landscape_s %.2f s\n", t_land);
    printf("landscape_ms_per_point %.1f ms\n", t_land / 441 * 1e3);
    if (threads > 1) {
        /* The speedup over one thread from two pairs, each timing 1 thread right after
         * the T (the first pair's T-thread time is t_land): each side's best time, as a
         * VM's other load only ever adds time. */
        double best[2] = {t_land, INFINITY};
        for (int r = 0; r < 2; r++) {
            double tt = r ? landscape_s(m, theta, d1, d2, xs, ys, all, pst, w) : t_land;
            check(pool_set_threads(1, &E), "threads");
            double t1 = landscape_s(m, theta, d1, d2, xs, ys, all, pst, w);
            check(pool_set_threads(threads, &E), "threads");
            printf("landscape_pair%d %.1f ms at %d threads, %.1f ms at 1 (per point): %.3f x\n",
                   r + 1, tt / 441 * 1e3, threads, t1 / 441 * 1e3, t1 / tt);
            best[0] = fmin(best[0], tt);
            best[1] = fmin(best[1], t1);
        }
        printf("landscape_1t_adjacent_ms_per_point %.1f ms\n", best[1] / 441 * 1e3);
        printf("landscape_speedup %.3f x\n", best[1] / best[0]);
    }
    print_workspace("loss");

    /* 5b. floors: the GEMMs alone at the best measured DGEMM rate. */
    double f_step = gemm_flops(m, STEP, BATCH, 1);
    double f_grad = gemm_flops(m, STEP, (double)d->n, 0);
    double f_hvp = gemm_flops(m, HVP, (double)d->n, 0);
    printf("# floor = GEMM FLOPs / %.1f GFLOP/s; frac = floor / measured\n", g_floor);
    printf("floor_gflops %.1f GFLOP/s\n", g_floor);
    printf("train_step_floor_us %.1f us\n", f_step / g_floor / 1e3);
    printf("train_step_floor_frac %.2f 1\n", f_step / g_floor / 1e9 / t_step);
    printf("grad_10k_floor_ms %.1f ms\n", f_grad / g_floor / 1e6);
    printf("grad_10k_floor_frac %.2f 1\n", f_grad / g_floor / 1e9 / t_grad);
    printf("hvp_10k_floor_ms %.1f ms\n", f_hvp / g_floor / 1e6);
    printf("hvp_10k_floor_frac %.2f 1\n", f_hvp / g_floor / 1e9 / t_hvp);
    printf("ws_current %zu bytes\n", ad_mem_current());

    opt_free(o);
    free(theta);
    free(g);
    free(v);
    free(hv);
    model_free(m);
    data_free(d);
    return 0;
}
