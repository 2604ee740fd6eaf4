/* bench_optim.c -- what the optimizer suite costs, on an MLP 784-256-256-10 (ReLU,
 * cross-entropy, float64) over batches of 128 of the first 1280 Fashion-MNIST samples:
 *   1. the time of one gradient (model_grad), the reference unit;
 *   2. time per step of SGD, SAM, GAM and GAM --gam-exact over SGD, in gradients
 *      (SAM should cost ~2, GAM ~4);
 *   3. forward gradient (K = 1 tangent, base SGD) time per step against the SGD step;
 *   4. peak autodiff workspace (ad_mem_peak after ad_mem_reset_peak, on a fresh model
 *      so the arenas are counted from zero) of one forward-gradient step and of one
 *      backprop step: the core's byte counter, not the process RSS.
 * Each time is the median over 5 rounds of 10 steps after one warm-up round.
 * Output: one `name value unit` line per figure. Usage: bench_optim [--threads N]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/ad.h"
#include "../core/pool.h"
#include "../models/data.h"
#include "../models/model.h"
#include "../optim/opt.h"

#define SAMPLES 1280
#define BATCH 128
#define ROUNDS 5
#define STEPS 10

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void check(int rc, const char *what, const err *e)
{
    if (rc) {
        fprintf(stderr, "bench_optim: %s: %s\n", what, e->msg);
        exit(rc);
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static model *mlp(const data *d)
{
    model_opts mo;
    model_opts_default(&mo);
    mo.in_dim = d->d;
    mo.out_dim = d->classes;
    model *m = NULL;
    err e = {0};
    check(model_new(&mo, &m, &e), "model", &e);
    return m;
}

static batch batch_of(const data *d, int k)
{
    size_t lo = (size_t)(k % (SAMPLES / BATCH)) * BATCH;
    return (batch){d->x + lo * (size_t)d->d, d->y + lo, NULL, BATCH};
}

/* Median seconds per step of optimizer `name` (NULL: plain model_grad). */
static double per_step(model *m, const data *d, const char *name, int exact)
{
    err e = {0};
    double *th = malloc(m->n * sizeof *th), *g = malloc(m->n * sizeof *g), t[ROUNDS];
    check(model_init(m, th, 1, &e), "init", &e);
    opt_hparams hp;
    opt_hparams_default(&hp);
    hp.lr = 1e-4;
    hp.gam_exact = exact;
    opt *o = NULL;
    if (name)
        check(opt_new(name, &hp, m->n, &o, &e), name, &e);
    for (int r = -1; r < ROUNDS; r++) {
        double t0 = now();
        for (int s = 0; s < STEPS; s++) {
            batch b = batch_of(d, s);
            check(name ? opt_step(o, m, th, b, NULL, &e) : model_grad(m, th, b, g, NULL, &e),
                  name ? name : "grad", &e);
        }
        if (r >= 0)
            t[r] = (now() - t0) / STEPS;
    }
    qsort(t, ROUNDS, sizeof *t, cmp);
    opt_free(o);
    free(th);
    free(g);
    return t[ROUNDS / 2];
}

/* Workspace bytes one step of `name` allocates on a fresh model. */
static size_t workspace(const data *d, const char *name)
{
    model *m = mlp(d);
    err e = {0};
    double *th = malloc(m->n * sizeof *th);
    check(model_init(m, th, 1, &e), "init", &e);
    opt_hparams hp;
    opt_hparams_default(&hp);
    opt *o = NULL;
    check(opt_new(name, &hp, m->n, &o, &e), name, &e);
    ad_mem_reset_peak();
    size_t base = ad_mem_current();
    check(opt_step(o, m, th, batch_of(d, 0), NULL, &e), name, &e);
    size_t peak = ad_mem_peak() - base;
    opt_free(o);
    free(th);
    model_free(m);
    return peak;
}

int main(int argc, char **argv)
{
    err e = {0};
    int threads = 1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
    check(pool_set_threads(threads, &e), "threads", &e);
    data_opts dopt;
    data_opts_default(&dopt);
    dopt.samples = SAMPLES;
    data *d = NULL;
    check(data_load(&dopt, &d, &e), "fashion-mnist", &e);
    model *m = mlp(d);
    printf("# MLP 784-256-256-10 (%zu parameters), batch %d, %d thread(s), float64\n", m->n,
           BATCH, threads);
    double grad = per_step(m, d, NULL, 0);
    double sgd = per_step(m, d, "sgd", 0), sam = per_step(m, d, "sam", 0);
    double gam = per_step(m, d, "gam", 0), gamx = per_step(m, d, "gam", 1);
    double fg = per_step(m, d, "forward-grad", 0);
    printf("grad_time %.3f ms\n", 1e3 * grad);
    printf("sgd_step %.3f ms %.2f gradients\n", 1e3 * sgd, sgd / grad);
    printf("sam_step %.3f ms %.2f gradients\n", 1e3 * sam, sam / grad);
    printf("gam_step %.3f ms %.2f gradients\n", 1e3 * gam, gam / grad);
    printf("gam_exact_step %.3f ms %.2f gradients\n", 1e3 * gamx, gamx / grad);
    printf("forward_grad_step %.3f ms %.2f x the sgd step\n", 1e3 * fg, fg / sgd);
    size_t wf = workspace(d, "forward-grad"), wb = workspace(d, "sgd");
    printf("forward_grad_workspace %zu bytes\n", wf);
    printf("backprop_workspace %zu bytes\n", wb);
    printf("workspace_ratio %.3f forward/backprop\n", (double)wf / (double)wb);
    model_free(m);
    data_free(d);
    return 0;
}
