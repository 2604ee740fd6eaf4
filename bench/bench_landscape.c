/* bench_landscape.c -- a 2-D loss landscape beside the PyTorch peer
 * (../shared/peers/torch_bench.py, its landscape_2d_21x21_10k line).
 *
 * Work, as the peer's: float64 MLP 784-256-256-10 (ReLU, cross-entropy, PyTorch
 * default init), the first 10,000 Fashion-MNIST training samples, two random normal
 * directions filter-normalized with biases zeroed, a 21 x 21 grid on [-1, 1]^2, the
 * mean loss over all 10,000 samples at each of the 441 points. basin's grid goes
 * through land_grid, so the dense network's plane hook computes the first layer once
 * per grid (A + xB + yC) and only the rest of the network per point. Timed at 1 thread
 * and then at 2 (the pool's threads; OpenBLAS single-threaded in each), wall and
 * process CPU time (on a busy machine the CPU time at 1 thread is the cleaner figure
 * of the work; the ratios use wall time, as the peer's). A few points
 * are also evaluated directly (model_loss at theta0 + x d1 + y d2) for the per-point
 * cost without the fast path and the largest relative difference from it.
 *
 * Output: `name value unit` lines; '#' lines are notes. Usage:
 *   bench_landscape [--reps R] [--peer-1 SECONDS] [--peer-2 SECONDS]
 * --peer-1/--peer-2 are the peer's times at 1 and 2 threads (default: the figures
 * measured on the reference machine, 50.2 s and 35.6 s, issue 7). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/pool.h"
#include "../models/data.h"
#include "../models/model.h"
#include "../probes/landscape.h"

#define N_SAMPLES 10000
#define DIRECT_POINTS 5

static err E;

/* Only main's helpers exit: a failed call ends the benchmark with its message. */
static void check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "bench_landscape: %s: %s\n", what, E.msg);
        exit(rc);
    }
}

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static double arg(int argc, char **argv, const char *name, double dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return atof(argv[i + 1]);
    return dflt;
}

int main(int argc, char **argv)
{
    int reps = (int)arg(argc, argv, "--reps", 1);
    double peer[2] = {arg(argc, argv, "--peer-1", 50.2), arg(argc, argv, "--peer-2", 35.6)};
    check(pool_set_threads(1, &E), "threads");   /* before any pool_run: resized once */
    data_opts d;
    data_opts_default(&d);
    d.samples = N_SAMPLES;
    data *ds = NULL;
    check(data_load(&d, &ds, &E), "data");
    model_opts o;
    model_opts_default(&o);
    o.in_dim = ds->d;
    o.out_dim = ds->classes;
    model *m = NULL;
    check(model_new(&o, &m, &E), "model");
    double *th = malloc(m->n * sizeof *th), *d1 = malloc(m->n * sizeof *d1);
    double *d2 = malloc(m->n * sizeof *d2), *t = malloc(m->n * sizeof *t);
    double *loss = malloc(441 * sizeof *loss), *acc = malloc(441 * sizeof *acc);
    check(th && d1 && d2 && t && loss && acc ? 0 : err_set(&E, ERR_SYS, "out of memory"), "alloc");
    check(model_init(m, th, 0, &E), "init");
    check(land_directions(m, th, 0, LAND_NORM_FILTER, 1, d1, d2, &E), "directions");
    land_axis ax = {-1, 1, 21};
    batch b = {.x = ds->x, .y = ds->y, .n = ds->n};
    printf("# mlp 784-256-256-10, %zu samples, 21 x 21 grid, filter-normalized, biases ignored\n",
           ds->n);
    double best[2], cpu[2];
    for (int T = 1; T <= 2; T++) {
        check(pool_set_threads(T, &E), "threads");
        best[T - 1] = cpu[T - 1] = INFINITY;
        for (int r = 0; r < reps; r++) {
            double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
            check(land_grid(m, th, d1, d2, ax, ax, b, loss, acc, &E), "grid");
            best[T - 1] = fmin(best[T - 1], now() - t0);
            cpu[T - 1] = fmin(cpu[T - 1], clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0);
        }
        printf("landscape_2d_21x21_10k_threads%d %.2f s (%.1f ms/point; cpu %.2f s)\n", T,
               best[T - 1], best[T - 1] / 441 * 1e3, cpu[T - 1]);
        printf("ratio_to_peer_threads%d %.3f (peer %.1f s)\n", T, best[T - 1] / peer[T - 1], peer[T - 1]);
    }
    printf("speedup_2_threads %.2f x\n", best[0] / best[1]);
    /* direct evaluation of a few points (2 threads over chunks, as model_loss does) */
    double t0 = now(), worst = 0;
    for (int k = 0; k < DIRECT_POINTS; k++) {
        int p = k * 97 % 441;
        double x = land_axis_at(ax, p / 21), y = land_axis_at(ax, p % 21);
        for (size_t i = 0; i < m->n; i++)
            t[i] = th[i] + x * d1[i] + y * d2[i];
        model_stats st;
        check(model_loss(m, t, b, &st, &E), "direct");
        worst = fmax(worst, fabs(st.loss - loss[p]) / st.loss);
    }
    double per = (now() - t0) / DIRECT_POINTS;
    printf("direct_point_threads2 %.1f ms (fast path %.1f ms/point)\n", per * 1e3, best[1] / 441 * 1e3);
    printf("fast_vs_direct_max_rel_diff %.3g\n", worst);
    free(th);
    free(d1);
    free(d2);
    free(t);
    free(loss);
    free(acc);
    model_free(m);
    data_free(ds);
    return 0;
}
