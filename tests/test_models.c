/* test_models.c -- the model interface on dense networks.
 *
 * For every activation and both losses, on a tiny MLP with chunking (chunk 4 < 11
 * samples) and one or two threads: a random-direction directional-derivative check,
 * jvp = grad.v, HVP symmetry, the dense Hessian built from HVP columns against a
 * finite-difference Hessian, chunk- and thread-invariance, bit-identical reruns, the
 * PyTorch parameter layout and initialization, features, and bad input; and the pool
 * under it: OpenBLAS on one thread from the start, a work buffer per thread mapped
 * before BLAS runs, an error (not a hang) where there is no room for one. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/wait.h>

#include "../core/pool.h"
#include "../models/model.h"
#include "check.h"
#include "check_hvp.h"

#define NS 11
#define DIN 6
#define NOUT 3

static double xs[NS * DIN], ts[NS * NOUT];
static int ys[NS];

static double frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffff) / 65536.0;
}

/* --- OpenBLAS under the pool (core/pool.c) --- */

int openblas_get_num_threads(void);   /* libopenblas */

/* Threads of this process, from /proc/self/task; -1 when it cannot be read. */
static int task_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *t; (t = readdir(d));)
        n += t->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Address space of this process in bytes (/proc/self/statm); 0 when unknown. */
static size_t vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* This program run afresh (no OpenBLAS buffer mapped yet) as `test_models MODE`, with
 * the environment variable name set to value (name NULL: none); its exit status,
 * 128 + signal when killed. */
static int rerun(const char *mode, const char *name, const char *value)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (name)
            setenv(name, value, 1);
        execl("/proc/self/exe", "test_models", mode, (char *)NULL);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* test_models --threads-at-start: OpenBLAS started no thread before main() (one
 * task), and counts one thread. */
static int child_threads(void)
{
    int tasks = task_count(), ob = openblas_get_num_threads();
    printf("at main(): %d thread(s), openblas_get_num_threads() %d, OPENBLAS_NUM_THREADS=%s\n",
           tasks, ob, getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "(unset)");
    return tasks == 1 && ob == 1 ? 0 : 1;
}

/* test_models --oom: a model evaluation whose address space leaves 64 MiB, less than
 * OpenBLAS's work buffer: ERR_SYS naming it, where OpenBLAS alone retries its map
 * forever (the alarm turns that hang into SIGALRM). */
static int child_oom(void)
{
    size_t vm = vm_bytes();
    struct rlimit r = {vm + ((size_t)64 << 20), vm + ((size_t)64 << 20)};
    if (!vm || setrlimit(RLIMIT_AS, &r) != 0)
        return 2;
    alarm(10);
    enum { D = 64, ROWS = 256 };   /* matrices too big for OpenBLAS's small-matrix path */
    model_opts o;
    model_opts_default(&o);
    o.in_dim = D;
    o.out_dim = NOUT;
    o.hidden[0] = o.hidden[1] = 256;
    o.chunk = ROWS;
    model *m = NULL;
    err e = {0};
    int rc = pool_set_threads(1, &e);
    rc = rc ? rc : model_new(&o, &m, &e);
    double *x = calloc(ROWS * D, sizeof *x), *th = m ? calloc(m->n, sizeof *th) : NULL,
           *g = m ? calloc(m->n, sizeof *g) : NULL;
    int *y = calloc(ROWS, sizeof *y);
    if (!rc && (!x || !th || !g || !y))
        rc = err_set(&e, ERR_SYS, "test: out of memory before the evaluation");
    if (!rc) {
        for (size_t i = 0; i < ROWS * D; i++)
            x[i] = (double)(i % 7) / 7;
        batch b = {x, y, NULL, ROWS};
        rc = model_grad(m, th, b, g, NULL, &e);
    }
    printf("model_new + model_grad under a limit: rc %d: %s\n", rc, e.msg);
    model_free(m);
    free(x);
    free(th);
    free(g);
    free(y);
    return rc == ERR_SYS && strstr(e.msg, "out of memory for OpenBLAS's work buffer") ? 0 : 1;
}

static void check_openblas(void)
{
    /* before anything here calls BLAS: the one buffer a thread gets is what pool.c
     * probes for, 128 MiB (+ 2 MiB of slack) */
    int tasks = task_count(), ob = openblas_get_num_threads();
    size_t vm0 = vm_bytes();
    err e = {0};
    int rc = pool_set_threads(1, &e);
    rc = rc ? rc : pool_reserve(&e);
    size_t mapped = vm_bytes() - vm0;
    CHECK(tasks == 1 && ob == 1, "pool: OpenBLAS started no thread of its own before main()",
          "%d threads at main(), openblas_get_num_threads() %d", tasks, ob);
    int st = rerun("--threads-at-start", "OPENBLAS_NUM_THREADS", "4");
    CHECK(st == 0, "pool: ... nor with OPENBLAS_NUM_THREADS=4", "the child says no (exit %d)", st);
    CHECK(!rc && mapped >= ((size_t)128 << 20) && mapped <= ((size_t)130 << 20),
          "pool: pool_reserve maps one 128 MiB OpenBLAS buffer for one thread",
          "rc %d (%s), %zu bytes mapped", rc, e.msg, mapped);
#ifndef __SANITIZE_ADDRESS__   /* ASan cannot start under an address-space limit */
    st = rerun("--oom", NULL, NULL);
    CHECK(st == 0, "pool: an evaluation without room for OpenBLAS's buffer is ERR_SYS, not a hang",
          "%s (exit %d)", st == 128 + SIGALRM ? "hung: killed after 10 s" : "no such error", st);
#endif
}

/* pool regression: a worker started after earlier jobs must not rerun a finished one */
static int *pool_counts;

static void pool_count(void *arg, int tid, int nthreads)
{
    (void)arg;
    (void)nthreads;
    pool_counts[tid]++;
}

static void check_pool_restart(void)
{
    int ok = 1;
    for (int r = 0; r < 30 && ok; r++) {
        int T = 1 + (r % 3 == 0);
        pool_set_threads(T, NULL);
        struct timespec pause = {0, 1000000};   /* let a new worker start first */
        nanosleep(&pause, NULL);
        int counts[2] = {0, 0};
        pool_counts = counts;
        pool_run(pool_count, NULL);
        for (int t = 0; t < T; t++)
            ok = ok && counts[t] == 1;
    }
    CHECK(ok, "pool: each thread runs each job exactly once across thread-count changes",
          "a job ran twice or not at all");
}

/* pool hand-offs (core/pool.c): lock-free while both sides spin, through the condition
 * variables after a pause longer than the spin. Each job writes its round into a slot
 * per thread; the caller must see every slot written once pool_run returns. */
static struct { int round; int seen[2]; int runs[2]; } handoff;

static void pool_handoff(void *arg, int tid, int nthreads)
{
    (void)arg;
    (void)nthreads;
    handoff.seen[tid] = handoff.round;
    handoff.runs[tid]++;
    for (volatile int i = 0; i < (handoff.round * 7919) % 3000; i++)   /* uneven work */
        ;
}

static void check_pool_handoffs(void)
{
    pool_set_threads(2, NULL);
    int bad = 0, rounds = 4000;
    handoff.runs[0] = handoff.runs[1] = 0;
    for (int r = 1; r <= rounds; r++) {
        handoff.round = r;
        if (r % 500 == 0) {   /* let both sides fall asleep */
            struct timespec pause = {0, 2000000};
            nanosleep(&pause, NULL);
        }
        pool_run(pool_handoff, NULL);
        bad += handoff.seen[0] != r || handoff.seen[1] != r;
    }
    CHECK(!bad && handoff.runs[0] == rounds && handoff.runs[1] == rounds,
          "pool: 4000 back-to-back and sleeping hand-offs, each job once on each thread",
          "%d rounds with a stale slot; runs %d and %d", bad, handoff.runs[0], handoff.runs[1]);
    pool_set_threads(1, NULL);
}

static model *make(const char *kind, int act, int loss, size_t chunk, int hidden)
{
    model_opts o;
    model_opts_default(&o);
    o.kind = kind;
    o.act = act;
    o.loss = loss;
    o.chunk = chunk;
    o.in_dim = DIN;
    o.out_dim = NOUT;
    o.hidden[0] = hidden;
    o.hidden[1] = 4;
    o.leaky_slope = 0.05;
    model *m = NULL;
    err e = {0};
    if (model_new(&o, &m, &e))
        printf("model_new: %s\n", e.msg);
    return m;
}

static double loss_of(model *m, const double *th, batch b)
{
    model_stats st;
    model_loss(m, th, b, &st, NULL);
    return st.loss;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double maxdiff(const double *a, const double *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

static void derivative_checks(const char *name, model *m, batch b, unsigned seed)
{
    size_t n = m->n;
    double *th = malloc(n * sizeof *th), *v = malloc(n * sizeof *v), *u = malloc(n * sizeof *u);
    double *g = malloc(n * sizeof *g), *hv = malloc(n * sizeof *hv), *hu = malloc(n * sizeof *hu);
    double *tp = malloc(n * sizeof *tp), *tm = malloc(n * sizeof *tm);
    double *gp = malloc(n * sizeof *gp), *gm = malloc(n * sizeof *gm);
    double *H = malloc(n * n * sizeof *H), *F = malloc(n * n * sizeof *F), *ei = calloc(n, sizeof *ei);
    char label[160];
    unsigned s = seed;
    model_init(m, th, seed, NULL);
    for (size_t i = 0; i < n; i++) {
        th[i] += 0.1 * (frand(&s) - 0.5);
        v[i] = frand(&s) - 0.47;
        u[i] = frand(&s) - 0.53;
    }
    model_stats st;
    model_grad(m, th, b, g, &st, NULL);
    const double h = 1e-5;
    for (size_t i = 0; i < n; i++) {
        tp[i] = th[i] + h * v[i];
        tm[i] = th[i] - h * v[i];
    }
    double fd = (loss_of(m, tp, b) - loss_of(m, tm, b)) / (2 * h);
    snprintf(label, sizeof label, "%s directional derivative", name);
    check_close(label, dot(g, v, n), fd, 1e-7, 1e-10);
    model_jvp(m, th, v, b, &st, NULL);
    snprintf(label, sizeof label, "%s jvp = grad.v", name);
    check_close(label, st.jvp, dot(g, v, n), 1e-12, 1e-15);
    model_hvp(m, th, v, b, NULL, hv, NULL, NULL);
    model_hvp(m, th, u, b, NULL, hu, NULL, NULL);
    snprintf(label, sizeof label, "%s hvp symmetry", name);
    check_close(label, dot(u, hv, n), dot(v, hu, n), 1e-10, 1e-13);
    check_hvp_variants(name, m, th, v, u, b, g, hv);
    /* dense Hessian from HVP columns vs finite differences of the gradient */
    double worst = 0, asym = 0, scale = 0;
    for (size_t j = 0; j < n; j++) {
        ei[j] = 1;
        model_hvp(m, th, ei, b, NULL, H + j * n, NULL, NULL);
        ei[j] = 0;
        memcpy(tp, th, n * sizeof *tp);
        memcpy(tm, th, n * sizeof *tm);
        tp[j] += h;
        tm[j] -= h;
        model_grad(m, tp, b, gp, NULL, NULL);
        model_grad(m, tm, b, gm, NULL, NULL);
        for (size_t i = 0; i < n; i++)
            F[j * n + i] = (gp[i] - gm[i]) / (2 * h);
    }
    for (size_t i = 0; i < n * n; i++)
        scale = fmax(scale, fabs(H[i]));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            worst = fmax(worst, fabs(H[i * n + j] - F[i * n + j]));
            asym = fmax(asym, fabs(H[i * n + j] - H[j * n + i]));
        }
    snprintf(label, sizeof label, "%s dense Hessian = finite-difference Hessian", name);
    CHECK(worst <= 1e-6 * scale + 1e-9, label, "max abs diff %.3g (max |H| %.3g)", worst, scale);
    snprintf(label, sizeof label, "%s Hessian symmetric", name);
    CHECK(asym <= 1e-12 * scale, label, "max asymmetry %.3g", asym);
    free(th); free(v); free(u); free(g); free(hv); free(hu);
    free(tp); free(tm); free(gp); free(gm); free(H); free(F); free(ei);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--threads-at-start"))
        return child_threads();
    if (argc > 1 && !strcmp(argv[1], "--oom"))
        return child_oom();
    check_openblas();
    unsigned s = 12345;
    for (int i = 0; i < NS * DIN; i++)
        xs[i] = 2 * frand(&s) - 0.93;
    for (int i = 0; i < NS * NOUT; i++)
        ts[i] = frand(&s) - 0.41;
    for (int i = 0; i < NS; i++)
        ys[i] = i % NOUT;
    batch bc = {xs, ys, NULL, NS}, br = {xs, NULL, ts, NS};
    check_pool_restart();
    check_pool_handoffs();
    char name[128];
    err e = {0};

    for (int T = 1; T <= 2; T++) {
        pool_set_threads(T, NULL);
        for (int a = 0; a < AD_ACT_COUNT; a++)
            for (int loss = 0; loss < 2; loss++) {
                model *m = make("mlp", a, loss, 4, 5);
                snprintf(name, sizeof name, "mlp %s %s T=%d", ad_act_name(a), loss ? "mse" : "ce", T);
                derivative_checks(name, m, loss ? br : bc, 7u + (unsigned)(a * 3 + loss));
                model_free(m);
            }
        model *m = make("logreg", AD_ACT_RELU, LOSS_CE, 4, 5);
        snprintf(name, sizeof name, "logreg T=%d", T);
        derivative_checks(name, m, bc, 99);
        model_free(m);
    }

    /* chunking and threads change rounding only; reruns are bit-identical */
    {
        pool_set_threads(1, NULL);
        model *m1 = make("mlp", AD_ACT_TANH, LOSS_CE, 256, 5), *m4 = make("mlp", AD_ACT_TANH, LOSS_CE, 3, 5);
        size_t n = m1->n;
        double *th = malloc(n * sizeof *th), *g1 = malloc(n * sizeof *g1), *g4 = malloc(n * sizeof *g4),
               *g2 = malloc(n * sizeof *g2), *g2b = malloc(n * sizeof *g2b);
        model_init(m1, th, 3, NULL);
        model_stats a, b4;
        model_grad(m1, th, bc, g1, &a, NULL);
        model_grad(m4, th, bc, g4, &b4, NULL);
        check_close("chunked loss equals one-chunk loss", b4.loss, a.loss, 1e-14, 0);
        CHECK(maxdiff(g1, g4, n) < 1e-15, "chunked gradient equals one-chunk gradient",
              "max diff %.3g", maxdiff(g1, g4, n));
        CHECK(a.correct == b4.correct, "chunked accuracy count", "%g vs %g", a.correct, b4.correct);
        pool_set_threads(2, NULL);
        model_grad(m4, th, bc, g2, NULL, NULL);
        model_grad(m4, th, bc, g2b, NULL, NULL);
        CHECK(memcmp(g2, g2b, n * sizeof *g2) == 0, "two threads: bit-identical reruns", "differs");
        CHECK(maxdiff(g1, g2, n) < 1e-15, "two threads agree with one", "max diff %.3g", maxdiff(g1, g2, n));
        pool_set_threads(1, NULL);
        /* forward mode never runs a backward pass */
        long before = ad_runs(AD_MODE_GRAD) + ad_runs(AD_MODE_HVP);
        model_stats st;
        model_jvp(m4, th, g1, bc, &st, NULL);
        CHECK(ad_runs(AD_MODE_GRAD) + ad_runs(AD_MODE_HVP) == before && ad_runs(AD_MODE_JVP) > 0,
              "jvp runs no backward pass", "backward runs went from %ld", before);
        free(th); free(g1); free(g4); free(g2); free(g2b);
        model_free(m1);
        model_free(m4);
    }

    /* a batch of one chunk on two threads: one chunk on the caller, its matrix products
     * split over the pool by columns and, where narrow, by rows (widths 96-64-20-40-5
     * reach all four slicings: B transposed or not, A transposed or not). The values
     * must be one thread's up to the products' rounding. */
    {
        enum { R = 200, IN = 96, OUT = 5 };
        model_opts o;
        model_opts_default(&o);
        o.in_dim = IN;
        o.out_dim = OUT;
        o.nhidden = 3;
        o.hidden[0] = 64;
        o.hidden[1] = 20;
        o.hidden[2] = 40;
        o.act = AD_ACT_TANH;
        model *m = NULL;
        model_new(&o, &m, &e);
        size_t n = m->n;
        double *x = malloc(R * IN * sizeof *x), *th = malloc(n * sizeof *th), *v = malloc(n * sizeof *v);
        double *g[2], *hv[2], *g2 = malloc(n * sizeof *g2);
        int y[R];
        unsigned s2 = 77;
        for (int i = 0; i < R * IN; i++)
            x[i] = frand(&s2) - 0.3;
        for (int i = 0; i < R; i++)
            y[i] = i % OUT;
        model_init(m, th, 5, NULL);
        for (size_t i = 0; i < n; i++)
            v[i] = frand(&s2) - 0.5;
        batch bb = {x, y, NULL, R};
        model_stats st[2], sj[2];
        long splits = 0;
        for (int T = 1; T <= 2; T++) {
            pool_set_threads(T, NULL);
            g[T - 1] = malloc(n * sizeof *g[0]);
            hv[T - 1] = malloc(n * sizeof *hv[0]);
            long s0 = ad_splits();
            model_grad(m, th, bb, g[T - 1], &st[T - 1], NULL);
            model_hvp(m, th, v, bb, NULL, hv[T - 1], NULL, NULL);
            model_jvp(m, th, v, bb, &sj[T - 1], NULL);
            splits = ad_splits() - s0;
        }
        model_grad(m, th, bb, g2, NULL, NULL);
        double gs = 0, hs = 0;
        for (size_t i = 0; i < n; i++) {
            gs = fmax(gs, fabs(g[0][i]));
            hs = fmax(hs, fabs(hv[0][i]));
        }
        CHECK(splits >= 3 * 8, "one chunk on two threads: the products were split",
              "%ld split products in a gradient, an HVP and a JVP", splits);
        check_close("split products: loss", st[1].loss, st[0].loss, 1e-14, 0);
        CHECK(maxdiff(g[0], g[1], n) <= 1e-13 * gs, "split products: gradient equals one thread's",
              "max diff %.3g (max |g| %.3g)", maxdiff(g[0], g[1], n), gs);
        CHECK(maxdiff(hv[0], hv[1], n) <= 1e-13 * hs, "split products: H v equals one thread's",
              "max diff %.3g (max |Hv| %.3g)", maxdiff(hv[0], hv[1], n), hs);
        check_close("split products: jvp", sj[1].jvp, sj[0].jvp, 1e-13, 1e-16);
        CHECK(memcmp(g[1], g2, n * sizeof *g2) == 0, "split products: bit-identical reruns", "differs");
        pool_set_threads(1, NULL);
        for (int T = 0; T < 2; T++) {
            free(g[T]);
            free(hv[T]);
        }
        free(x); free(th); free(v); free(g2);
        model_free(m);
    }

    /* layout, initialization, features */
    {
        model_opts o;
        model_opts_default(&o);
        o.in_dim = 784;
        o.out_dim = 10;
        model *m = NULL;
        model_new(&o, &m, &e);
        const char *names[] = {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"};
        int ok = m->nblocks == 6 && m->n == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10;
        size_t off = 0;
        for (int k = 0; ok && k < 6; k++) {
            ok = strcmp(m->blocks[k].name, names[k]) == 0 && m->blocks[k].offset == off;
            off += m->blocks[k].size;
        }
        CHECK(ok && m->blocks[0].shape[0] == 256 && m->blocks[0].shape[1] == 784
                 && m->blocks[1].role == ROLE_BIAS && m->blocks[4].shape[0] == 10,
              "mlp 784-256-256-10 layout is nn.Sequential's named_parameters()", "n=%zu", m->n);
        double *a = malloc(m->n * sizeof *a), *b = malloc(m->n * sizeof *b);
        model_init(m, a, 42, NULL);
        model_init(m, b, 42, NULL);
        CHECK(memcmp(a, b, m->n * sizeof *a) == 0, "init: same seed, same theta", "differs");
        model_init(m, b, 43, NULL);
        CHECK(memcmp(a, b, m->n * sizeof *a) != 0, "init: another seed, another theta", "equal");
        double bound = 1 / sqrt(784.0), mx = 0, s2 = 0;
        for (size_t i = 0; i < m->blocks[0].size; i++) {
            mx = fmax(mx, fabs(a[i]));
            s2 += a[i] * a[i];
        }
        CHECK(mx <= bound && mx > 0.99 * bound, "init: 0.weight within 1/sqrt(fan_in)", "max %g bound %g", mx, bound);
        check_close("init: 0.weight variance = bound^2/3", s2 / (double)m->blocks[0].size, bound * bound / 3, 0.01, 0);
        double bb = 1 / sqrt(256.0), bm = 0;
        for (size_t i = 0; i < 10; i++)
            bm = fmax(bm, fabs(a[m->blocks[5].offset + i]));
        CHECK(bm <= bb, "init: 4.bias within 1/sqrt(fan_in of its layer)", "max %g", bm);
        free(a);
        free(b);
        model_free(m);
    }
    {
        /* features are the input of the last linear layer: logits = f W^T + b */
        pool_set_threads(2, NULL);
        model *m = make("mlp", AD_ACT_GELU, LOSS_CE, 4, 5);
        size_t n = m->n;
        double *th = malloc(n * sizeof *th), f[NS * 4];
        model_init(m, th, 8, NULL);
        int rc = model_features(m, th, bc, f, &e);
        const model_block *W = &m->blocks[4], *B = &m->blocks[5];
        double loss = 0;
        for (int i = 0; i < NS; i++) {
            double z[NOUT], mxz = -1e300, se = 0;
            for (int o = 0; o < NOUT; o++) {
                z[o] = th[B->offset + (size_t)o];
                for (int j = 0; j < 4; j++)
                    z[o] += f[i * 4 + j] * th[W->offset + (size_t)(o * 4 + j)];
                mxz = fmax(mxz, z[o]);
            }
            for (int o = 0; o < NOUT; o++)
                se += exp(z[o] - mxz);
            loss += (mxz + log(se) - z[ys[i]]) / NS;
        }
        CHECK(rc == 0 && m->feat_dim == 4, "features: width of the last hidden layer", "rc %d", rc);
        check_close("features: loss recomputed from features", loss, loss_of(m, th, bc), 1e-13, 0);
        free(th);
        model_free(m);
        pool_set_threads(1, NULL);
    }

    /* bad input is an error with a message, never a crash */
    {
        model_opts o;
        model_opts_default(&o);
        o.in_dim = 4;
        o.out_dim = 3;
        model *m = NULL;
        o.kind = "perceptron";
        int rc = model_new(&o, &m, &e);
        CHECK(rc == ERR_USAGE && strstr(e.msg, "perceptron"), "unknown model is a usage error", "%s", e.msg);
        CHECK(model_kind_check("resnet", NULL) == 0 && model_kind_check("quadratic:1,2", NULL) == 0
              && model_kind_check("logreg", NULL) == 0 && model_kind_check("rastrigin", NULL) == 0,
              "model_kind_check knows resnet, quadratic:a,b, logreg, rastrigin", "refused one");
        rc = model_kind_check("perceptron", &e);
        CHECK(rc == ERR_USAGE && strstr(e.msg, "'perceptron' (known: logreg, mlp, cnn, resnet,"),
              "model_kind_check refuses an unknown kind, listing the known", "%s", e.msg);
        o.kind = "mlp";
        o.hidden[0] = 0;
        rc = model_new(&o, &m, &e);
        CHECK(rc == ERR_USAGE && strstr(e.msg, "hidden width 0"), "zero width is a usage error", "%s", e.msg);
        o.hidden[0] = 5;
        o.in_dim = 0;
        rc = model_new(&o, &m, &e);
        CHECK(rc == ERR_USAGE, "zero input width is a usage error", "%s", e.msg);
        m = make("mlp", AD_ACT_RELU, LOSS_CE, 4, 5);
        double *th = calloc(m->n, sizeof *th);
        int ybad[NS];
        memcpy(ybad, ys, sizeof ybad);
        ybad[7] = 3;
        batch bb = {xs, ybad, NULL, NS};
        model_stats st;
        rc = model_loss(m, th, bb, &st, &e);
        CHECK(rc == ERR_DATA && strstr(e.msg, "label 3 of sample 7"), "out-of-range label is a data error",
              "rc %d %s", rc, e.msg);
        batch empty = {xs, ys, NULL, 0};
        rc = model_loss(m, th, empty, &st, &e);
        CHECK(rc == ERR_USAGE, "empty batch is a usage error", "rc %d", rc);
        free(th);
        model_free(m);
    }
    return check_done();
}
