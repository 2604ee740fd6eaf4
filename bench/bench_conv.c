/* bench_conv.c -- basin's convolutional figures for the comparison with PyTorch
 * (bench/torch_models.py --bench); bench/run_conv.sh runs both and prints the ratios.
 *
 * Work, float64, one thread, on the `cnn` LeNet-5 (channels 6,16, dense 120,84, ReLU,
 * max-pool, cross-entropy, PyTorch init) and the first 10,000 Fashion-MNIST training
 * images scaled to [0,1]:
 *   1. training step, batch 128: gradient plus the SGD heavy-ball update (lr 0.05,
 *      momentum 0.9, as torch.optim.SGD), time per step over an epoch of the 78
 *      sequential full batches, median of 5 epochs after a warm-up epoch;
 *   2. full-batch gradient over the first 2,000 images, median of 5 (PyTorch's double
 *      backward over 10,000 takes over 7 GB and many minutes, so both sides use 2,000);
 *   3. one exact Hessian-vector product over the same 2,000 images, median of 5, and
 *      its ratio to the gradient (goal: at most 2.5).
 * Also the resnet (width 16, 9 blocks) full-batch gradient and HVP on 1,000 images,
 * for information. Output: `name value unit` lines. Usage: bench_conv [--quick]
 * (--quick: 2,000 images and 2 repetitions, for a smoke run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/pool.h"
#include "../models/data.h"
#include "../models/model.h"

static err E;

/* Only main's helpers exit: a failed call ends the benchmark with its message. */
static void check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "bench_conv: %s: %s\n", what, E.msg);
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

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return t[n / 2];
}

static model *make(const char *kind, int in_dim, err *e)
{
    model_opts o;
    model_opts_default(&o);
    o.kind = kind;
    o.in_dim = in_dim;
    o.out_dim = 10;
    o.hidden[0] = 120;
    o.hidden[1] = 84;
    model *m = NULL;
    check(model_new(&o, &m, e), kind);
    return m;
}

/* Median seconds of full-batch gradient and HVP of m on b, `reps` each. */
static void full_batch(model *m, const double *th, batch b, int reps, double *tg, double *th_)
{
    size_t n = m->n;
    double *g = xmalloc(n * sizeof *g), *v = xmalloc(n * sizeof *v), *hv = xmalloc(n * sizeof *hv);
    double t[16];
    for (size_t i = 0; i < n; i++)
        v[i] = (double)((i * 2654435761u) % 1000) / 500.0 - 1;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        check(model_grad(m, th, b, g, NULL, &E), "grad");
        t[r] = now() - t0;
    }
    *tg = median(t, reps);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        check(model_hvp(m, th, v, b, NULL, hv, NULL, &E), "hvp");
        t[r] = now() - t0;
    }
    *th_ = median(t, reps);
    free(g);
    free(v);
    free(hv);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    size_t samples = quick ? 2000 : 10000, B = 128;
    int reps = quick ? 2 : 5;
    check(pool_set_threads(1, &E), "threads");
    data_opts d;
    data_opts_default(&d);
    d.samples = samples;
    data *ds = NULL;
    check(data_load(&d, &ds, &E), "fashion-mnist");
    model *m = make("cnn", ds->d, &E);
    size_t n = m->n, steps = samples / B;
    double *th = xmalloc(n * sizeof *th), *g = xmalloc(n * sizeof *g), *mom = xmalloc(n * sizeof *mom);
    check(model_init(m, th, 0, &E), "init");
    memset(mom, 0, n * sizeof *mom);
    double t[16];
    for (int ep = -1; ep < reps; ep++) {
        double t0 = now();
        for (size_t s = 0; s < steps; s++) {
            batch b = {ds->x + s * B * (size_t)ds->d, ds->y + s * B, NULL, B};
            check(model_grad(m, th, b, g, NULL, &E), "grad");
            for (size_t i = 0; i < n; i++) {
                mom[i] = 0.9 * mom[i] + g[i];
                th[i] -= 0.05 * mom[i];
            }
        }
        if (ep >= 0)
            t[ep] = (now() - t0) / (double)steps;
    }
    printf("cnn_train_step_us %.1f us (batch %zu, %zu params)\n", 1e6 * median(t, reps), B, n);
    batch all = {ds->x, ds->y, NULL, 2000};
    double tg, thv;
    full_batch(m, th, all, reps, &tg, &thv);
    printf("cnn_grad_full_ms %.2f ms (%zu samples)\n", 1e3 * tg, all.n);
    printf("cnn_hvp_full_ms %.2f ms (%.2f gradients)\n", 1e3 * thv, thv / tg);
    printf("cnn_workspace_hvp %zu bytes (peak, all arenas)\n", ad_mem_peak());
    model_free(m);

    model *r = make("resnet", ds->d, &E);
    double *tr = xmalloc(r->n * sizeof *tr);
    check(model_init(r, tr, 0, &E), "init");
    batch part = {ds->x, ds->y, NULL, quick ? 200 : 1000};
    full_batch(r, tr, part, reps, &tg, &thv);
    printf("resnet_grad_ms %.2f ms (%zu samples, %zu params)\n", 1e3 * tg, part.n, r->n);
    printf("resnet_hvp_ms %.2f ms (%.2f gradients)\n", 1e3 * thv, thv / tg);
    model_free(r);
    free(tr);
    free(th);
    free(g);
    free(mom);
    data_free(ds);
    return 0;
}
