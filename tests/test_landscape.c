/* test_landscape.c -- landscape slices, interpolation barriers and weight matching
 * (probes/landscape.h).
 *
 * Axes follow numpy.linspace; filter-normalized directions have the weights' per-row
 * norms, biases zeroed (ignore biasbn) or copied; x is drawn before y; the centre of a
 * grid is model_loss at theta0; a quadratic's 1-D slice is the exact parabola; a dense
 * network's fast path (the model's plane hook) equals direct evaluation at every point
 * to 1e-12 relative, bit-identically over reruns and thread counts; interpolation
 * endpoints are the endpoint losses, identical endpoints have barrier 0, a concave
 * quadratic has barrier 1 and a convex one 0 (though its extrapolated part rises);
 * the assignment solver matches brute force; weight matching undoes a known
 * permutation of hidden units exactly; trajectory PCA recovers a known 2-D subspace
 * (directions, explained-variance ratios, projections, the final model at (0, 0),
 * across the Gram matrix's column blocks) and equals a dense eigensolve of the n x n
 * covariance on random snapshots, with its sign convention. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>

#include "../core/pool.h"
#include "../probes/landscape.h"
#include "check.h"

#define NS 37
#define DIN 5
#define NOUT 3

static double xs[NS * DIN];
static int ys[NS];

static double frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffff) / 65536.0 - 0.5;
}

static model *make(const char *kind, int loss, int h1, int h2)
{
    model_opts o;
    model_opts_default(&o);
    o.kind = kind;
    o.loss = loss;
    o.chunk = 8;
    o.in_dim = DIN;
    o.out_dim = NOUT;
    o.hidden[0] = h1;
    o.hidden[1] = h2;
    o.nhidden = h2 ? 2 : 1;
    o.act = AD_ACT_TANH;
    model *m = NULL;
    err e = {0};
    if (model_new(&o, &m, &e))
        printf("model_new %s: %s\n", kind, e.msg);
    return m;
}

static double *vec(size_t n)
{
    return calloc(n, sizeof(double));
}

static void axes(void)
{
    land_axis a;
    err e = {0};
    int rc = land_axis_parse("-1:1:5", &a, &e);
    CHECK(rc == 0 && a.n == 5, "axis: parses -1:1:5", "rc %d n %d", rc, a.n);
    double want[] = {-1, -0.5, 0, 0.5, 1}, d = 0;
    for (int i = 0; i < 5; i++)
        d = fmax(d, fabs(land_axis_at(a, i) - want[i]));
    CHECK(d == 0, "axis: linspace points", "max diff %g", d);
    land_axis_parse("0:0.3:4", &a, &e);
    CHECK(land_axis_at(a, 3) == 0.3, "axis: last point exactly hi", "%.17g", land_axis_at(a, 3));
    const char *bad[] = {"1:2", "1:2:0", "a:1:3", "1:2:3:", "0:1:2.5", ""};
    int nbad = 0;
    for (int i = 0; i < 6; i++)
        nbad += land_axis_parse(bad[i], &a, &e) == ERR_USAGE;
    CHECK(nbad == 6, "axis: malformed text is ERR_USAGE", "%d of 6 rejected", nbad);
}

static void directions(void)
{
    model *m = make("mlp", LOSS_CE, 7, 4);
    size_t n = m->n;
    double *th = vec(n), *d1 = vec(n), *d2 = vec(n), *d1b = vec(n), *dn = vec(n);
    err e = {0};
    model_init(m, th, 1, &e);
    land_directions(m, th, 9, LAND_NORM_FILTER, 1, d1, d2, &e);
    double worst = 0, bias = 0;
    for (int k = 0; k < m->nblocks; k++) {
        const model_block *bl = &m->blocks[k];
        if (bl->role == ROLE_BIAS) {
            for (size_t i = 0; i < bl->size; i++)
                bias = fmax(bias, fabs(d1[bl->offset + i]) + fabs(d2[bl->offset + i]));
            continue;
        }
        size_t len = bl->size / (size_t)bl->shape[0];
        for (int r = 0; r < bl->shape[0]; r++) {
            double nw = 0, nd = 0;
            for (size_t i = 0; i < len; i++) {
                nw += th[bl->offset + r * len + i] * th[bl->offset + r * len + i];
                nd += d2[bl->offset + r * len + i] * d2[bl->offset + r * len + i];
            }
            worst = fmax(worst, fabs(sqrt(nd) - sqrt(nw)) / sqrt(nw));
        }
    }
    CHECK(worst < 1e-9, "directions: filter rows have the weights' norms", "worst rel %g", worst);
    CHECK(bias == 0, "directions: biases zero with ignore biasbn", "max |d| %g", bias);
    land_directions(m, th, 9, LAND_NORM_FILTER, 1, d1b, NULL, &e);
    CHECK(memcmp(d1, d1b, n * sizeof *d1) == 0, "directions: x drawn before y (1-D x = 2-D x)", "differ");
    CHECK(memcmp(d1, d2, n * sizeof *d1) != 0, "directions: x and y differ", "equal");
    land_directions(m, th, 9, LAND_NORM_NONE, 0, dn, NULL, &e);
    const model_block *b0 = &m->blocks[1], *w2 = &m->blocks[2];
    CHECK(memcmp(dn + b0->offset, th + b0->offset, b0->size * sizeof *dn) == 0,
          "directions: ignore none copies biases", "differ");
    double nd = 0, nw = 0;
    land_directions(m, th, 9, LAND_NORM_LAYER, 1, d1b, NULL, &e);
    for (size_t i = 0; i < w2->size; i++) {
        nd += d1b[w2->offset + i] * d1b[w2->offset + i];
        nw += th[w2->offset + i] * th[w2->offset + i];
    }
    check_close("directions: layer norm = weight norm", sqrt(nd), sqrt(nw), 1e-13, 0);
    /* layer-normalized = the raw draw scaled by one factor */
    double ratio = d1b[w2->offset] / dn[w2->offset], dev = 0;
    for (size_t i = 0; i < w2->size; i++)
        dev = fmax(dev, fabs(d1b[w2->offset + i] - ratio * dn[w2->offset + i]));
    CHECK(dev < 1e-13 && ratio > 0, "directions: layer norm is one positive scale per block",
          "dev %g ratio %g", dev, ratio);
    free(th);
    free(d1);
    free(d2);
    free(d1b);
    free(dn);
    model_free(m);
}

/* Direct evaluation at theta0 + x d1 + y d2, point by point. */
static double direct(model *m, const double *th, const double *d1, const double *d2, double x,
                     double y, batch b, double *acc)
{
    double *t = vec(m->n);
    for (size_t i = 0; i < m->n; i++)
        t[i] = th[i] + x * d1[i] + (d2 ? y * d2[i] : 0);
    model_stats st;
    model_loss(m, t, b, &st, NULL);
    free(t);
    *acc = st.correct / (double)st.n;
    return st.loss;
}

/* Pass 0 (one thread): the grid against direct evaluation, reruns, the centre; keep
 * (15 losses, 15 accuracies) receives the grid. Pass 1 (two threads): the fast path's
 * grid is bit-identical to keep. */
static void fast_path(const char *name, const char *kind, int loss, int h1, int h2, int pass,
                      double *keep)
{
    char buf[160];
    model *m = make(kind, loss, h1, h2);
    size_t n = m->n;
    double *th = vec(n), *d1 = vec(n), *d2 = vec(n);
    err e = {0};
    model_init(m, th, 2, &e);
    land_directions(m, th, 4, LAND_NORM_FILTER, 0, d1, d2, &e);
    land_axis ax, ay;
    land_axis_parse("-1:1:5", &ax, &e);
    land_axis_parse("-0.5:1.5:3", &ay, &e);
    batch b = {.x = xs, .y = ys, .n = NS};
    double loss1[15], acc1[15], loss2[15], acc2[15];
    int rc = land_grid(m, th, d1, d2, ax, ay, b, loss1, acc1, &e);
    if (pass == 1) {
        if (m->vt->plane) {     /* its split of points over threads leaves each point alone */
            snprintf(buf, sizeof buf, "%s: fast path bit-identical over thread counts 1, 2", name);
            CHECK(rc == 0 && !memcmp(loss1, keep, sizeof loss1) && !memcmp(acc1, keep + 15, sizeof acc1),
                  buf, "rc %d, differ", rc);
        }
        goto done;
    }
    memcpy(keep, loss1, sizeof loss1);
    memcpy(keep + 15, acc1, sizeof acc1);
    rc = rc ? rc : land_grid(m, th, d1, d2, ax, ay, b, loss2, acc2, &e);
    snprintf(buf, sizeof buf, "%s: grid runs", name);
    CHECK(rc == 0, buf, "%s", e.msg);
    double worst = 0, worsta = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++) {
            double a, l = direct(m, th, d1, d2, land_axis_at(ax, i), land_axis_at(ay, j), b, &a);
            worst = fmax(worst, fabs(loss1[i * 3 + j] - l) / fabs(l));
            worsta = fmax(worsta, fabs(acc1[i * 3 + j] - a));
        }
    snprintf(buf, sizeof buf, "%s: %s equals direct evaluation (x-major)", name,
             m->vt->plane ? "fast path" : "grid");
    CHECK(worst <= 1e-12 && worsta == 0, buf, "worst rel %g, accuracy diff %g", worst, worsta);
    snprintf(buf, sizeof buf, "%s: bit-identical reruns", name);
    CHECK(!memcmp(loss1, loss2, sizeof loss1) && !memcmp(acc1, acc2, sizeof acc1), buf, "differ");
    /* the centre: x = 0 is point 2 of ax (y = 0 is not on ay; a 1-D slice has it) */
    model_stats st;
    model_loss(m, th, b, &st, &e);
    land_grid(m, th, d1, NULL, ax, ay, b, loss1, acc1, &e);
    snprintf(buf, sizeof buf, "%s: centre of a 1-D slice equals model_loss", name);
    check_close(buf, loss1[2], st.loss, 1e-12, 0);
done:
    free(th);
    free(d1);
    free(d2);
    model_free(m);
}

/* An mlp of widths h1, h2 (tanh, CE) on batch b: the fast path's 2-D grid on xr x yr
 * (at most 8 points) against direct evaluation at each point, to 1e-12. */
static void grid_vs_direct(const char *name, int h1, int h2, batch b, const char *xr,
                           const char *yr)
{
    model *m = make("mlp", LOSS_CE, h1, h2);
    double *th = vec(m->n), *d1 = vec(m->n), *d2 = vec(m->n);
    err e = {0};
    model_init(m, th, 2, &e);
    land_directions(m, th, 4, LAND_NORM_FILTER, 1, d1, d2, &e);
    land_axis ax, ay;
    land_axis_parse(xr, &ax, &e);
    land_axis_parse(yr, &ay, &e);
    double loss[8], acc[8], worst = 0, a;
    int rc = ax.n * ay.n > 8 ? -1 : land_grid(m, th, d1, d2, ax, ay, b, loss, acc, &e);
    for (int k = 0; k < ax.n * ay.n && !rc; k++)
        worst = fmax(worst, fabs(loss[k] - direct(m, th, d1, d2, land_axis_at(ax, k / ay.n),
                                                  land_axis_at(ay, k % ay.n), b, &a)) / loss[k]);
    CHECK(rc == 0 && worst <= 1e-12, name, "rc %d worst rel %g", rc, worst);
    free(th);
    free(d1);
    free(d2);
    model_free(m);
}

/* Samples spanning several of the plane hook's blocks of samples (its first layer's
 * [A|B|C] is capped at 128 MB: 2792 rows at width 2000): still direct evaluation. */
static void blocks(void)
{
    enum { BIG = 6000 };
    double *x = vec(BIG * DIN);
    int *y = malloc(BIG * sizeof *y);
    unsigned s = 8;
    for (int i = 0; i < BIG * DIN; i++)
        x[i] = 2 * frand(&s);
    for (int i = 0; i < BIG; i++)
        y[i] = i % NOUT;
    grid_vs_direct("fast path over several sample blocks equals direct evaluation", 2000, 0,
                   (batch){.x = x, .y = y, .n = BIG}, "-1:1:2", "-1:1:2");
    free(x);
    free(y);
}

/* Points spanning several of the plane hook's groups (a thread takes as many points
 * as 16 MB of tail parameters hold: 2 at width 890, ~6.4 MB each): 6 points on 2
 * threads are groups of 2 and 1 on each; still direct evaluation. */
static void groups(void)
{
    grid_vs_direct("fast path over several point groups equals direct evaluation", 890, 890,
                   (batch){.x = xs, .y = ys, .n = NS}, "-1:1:3", "-0.5:0.5:2");
}

static void parabola(void)
{
    model *m = make("quadratic:3,0.5", LOSS_CE, 0, 0);
    double th[2] = {0.7, -1.2}, d[2] = {0.3, 2.0}, loss[21], acc[21];
    land_axis ax;
    err e = {0};
    land_axis_parse("-2:2:21", &ax, &e);
    int rc = land_grid(m, th, d, NULL, ax, ax, (batch){0}, loss, acc, &e);
    double worst = 0;
    for (int i = 0; i < 21 && !rc; i++) {
        double t = land_axis_at(ax, i), x = th[0] + t * d[0], y = th[1] + t * d[1];
        /* f(theta + t d) = f0 + t g.d + t^2/2 d^T H d, H = diag(3, 0.5) */
        double f0 = (3 * th[0] * th[0] + 0.5 * th[1] * th[1]) / 2;
        double gd = 3 * th[0] * d[0] + 0.5 * th[1] * d[1], dhd = 3 * d[0] * d[0] + 0.5 * d[1] * d[1];
        worst = fmax(worst, fabs(loss[i] - (f0 + t * gd + t * t / 2 * dhd)));
        worst = fmax(worst, fabs(loss[i] - (3 * x * x + 0.5 * y * y) / 2));
    }
    CHECK(rc == 0 && worst < 1e-14, "quadratic: 1-D slice is the exact parabola", "rc %d worst %g",
          rc, worst);
    model_free(m);
}

static void barriers(void)
{
    land_axis al;
    err e = {0};
    land_axis_parse("-0.5:1.5:41", &al, &e);
    double loss[41], acc[41];
    land_barrier r;
    /* concave along x: f = -x^2 from (-1, 0) to (1, 0): excess 1 - x^2, barrier 1 at alpha 1/2 */
    model *m = make("quadratic:-2,1", LOSS_CE, 0, 0);
    double a[2] = {-1, 0}, b[2] = {1, 0};
    int rc = land_interpolate(m, a, b, al, (batch){0}, loss, acc, &r, &e);
    CHECK(rc == 0, "interpolate: runs", "%s", e.msg);
    check_close("interpolate: concave pair has barrier 1", r.loss, 1, 1e-15, 0);
    check_close("interpolate: endpoint alpha=0 is L_a", loss[10], r.loss_a, 1e-15, 0);
    check_close("interpolate: endpoint alpha=1 is L_b", loss[30], r.loss_b, 1e-15, 0);
    model_free(m);
    /* convex: f = x^2: excess x^2 - 1 <= 0 inside, 3 at alpha = 1.5 -- never counted */
    m = make("quadratic:2,1", LOSS_CE, 0, 0);
    land_interpolate(m, a, b, al, (batch){0}, loss, acc, &r, &e);
    CHECK(r.loss == 0 && loss[40] - r.loss_b > 2, "interpolate: convex pair has barrier 0 "
          "(extrapolation ignored)", "barrier %g, L(1.5) - L_b %g", r.loss, loss[40] - r.loss_b);
    model_free(m);
    /* a network: identical endpoints */
    m = make("mlp", LOSS_CE, 6, 0);
    double *th = vec(m->n);
    model_init(m, th, 3, &e);
    double *l2 = vec(41), *a2 = vec(41);
    batch bt = {.x = xs, .y = ys, .n = NS};
    rc = land_interpolate(m, th, th, al, bt, l2, a2, &r, &e);
    CHECK(rc == 0 && r.loss == 0 && r.error == 0 && l2[0] == r.loss_a,
          "interpolate: identical endpoints have barrier 0", "rc %d barrier %g/%g", rc, r.loss, r.error);
    free(th);
    free(l2);
    free(a2);
    model_free(m);
}

/* The assignment solver against all 720 permutations of 6. */
static void assignment(void)
{
    enum { N = 6 };
    unsigned s = 11;
    int worst = 0;
    for (int trial = 0; trial < 20; trial++) {
        double S[N * N];
        for (int i = 0; i < N * N; i++)
            S[i] = frand(&s) * (trial % 2 ? 1 : 100);
        int perm[N], p[N] = {0, 1, 2, 3, 4, 5};
        land_assign(N, S, perm, NULL);
        double got = 0, best = -INFINITY;
        for (int i = 0; i < N; i++)
            got += S[i * N + perm[i]];
        for (int k = 0; k < 720; k++) {     /* Heap-free: the k-th permutation by factoradic */
            int avail[N] = {0, 1, 2, 3, 4, 5}, left = N, f = k;
            for (int i = 0; i < N; i++) {
                int fact = 1;
                for (int j = 2; j < left; j++)
                    fact *= j;
                int q = f / fact;
                f %= fact;
                p[i] = avail[q];
                memmove(avail + q, avail + q + 1, (size_t)(left - q - 1) * sizeof *avail);
                left--;
            }
            double v = 0;
            for (int i = 0; i < N; i++)
                v += S[i * N + p[i]];
            best = fmax(best, v);
        }
        worst += fabs(got - best) > 1e-12 * fabs(best);
    }
    CHECK(worst == 0, "assign: optimum of 20 random 6x6 problems (brute force)", "%d wrong", worst);
}

static void matching(void)
{
    model *m = make("mlp", LOSS_CE, 9, 7);
    size_t n = m->n;
    double *ta = vec(n), *tb = vec(n), *back = vec(n);
    err e = {0};
    model_init(m, ta, 6, &e);
    /* permute hidden units of both layers: b's unit i is a's unit q_l[i] */
    int q0[9] = {3, 0, 8, 1, 5, 2, 7, 6, 4}, q1[7] = {6, 2, 4, 0, 1, 5, 3};
    const model_block *W0 = &m->blocks[0], *b0 = &m->blocks[1], *W1 = &m->blocks[2],
                      *b1 = &m->blocks[3], *W2 = &m->blocks[4];
    memcpy(tb, ta, n * sizeof *tb);
    for (int i = 0; i < 9; i++) {
        memcpy(tb + W0->offset + i * DIN, ta + W0->offset + q0[i] * DIN, DIN * sizeof *tb);
        tb[b0->offset + i] = ta[b0->offset + q0[i]];
    }
    for (int i = 0; i < 7; i++) {
        for (int k = 0; k < 9; k++)
            tb[W1->offset + i * 9 + k] = ta[W1->offset + q1[i] * 9 + q0[k]];
        tb[b1->offset + i] = ta[b1->offset + q1[i]];
    }
    for (int o = 0; o < NOUT; o++)
        for (int k = 0; k < 7; k++)
            tb[W2->offset + o * 7 + k] = ta[W2->offset + o * 7 + q1[k]];
    batch b = {.x = xs, .y = ys, .n = NS};
    model_stats sa, sb;
    model_loss(m, ta, b, &sa, &e);
    model_loss(m, tb, b, &sb, &e);
    check_close("match: the permuted network computes the same loss", sb.loss, sa.loss, 1e-14, 0);
    int sweeps = 0;
    int rc = land_match_weights(m, ta, tb, back, 100, &sweeps, &e);
    CHECK(rc == 0 && memcmp(back, ta, n * sizeof *ta) == 0,
          "match: weight matching recovers theta_a exactly", "rc %d (%s), %d sweeps", rc, e.msg, sweeps);
    land_axis al;
    land_axis_parse("0:1:11", &al, &e);
    double loss[11], acc[11];
    land_barrier r;
    land_interpolate(m, ta, back, al, b, loss, acc, &r, &e);
    CHECK(r.loss == 0 && r.error == 0, "match: barrier 0 after matching", "%g / %g", r.loss, r.error);
    land_match_weights(m, ta, tb, tb, 100, NULL, &e);
    CHECK(memcmp(tb, ta, n * sizeof *ta) == 0, "match: output may alias theta_b", "differs");
    model *q = make("quadratic:1,1", LOSS_CE, 0, 0);
    double t2[2] = {0};
    rc = land_match_weights(q, t2, t2, t2, 10, NULL, &e);
    CHECK(rc == ERR_USAGE, "match: non-dense model is ERR_USAGE", "rc %d", rc);
    model_free(q);
    free(ta);
    free(tb);
    free(back);
    model_free(m);
}

/* Snapshots in a known plane: rows d_i = (a_i + 3) e1 + (b_i + 1) e2 with centred,
 * uncorrelated (a, b) (sum a^2 = 28, sum b^2 = 12) and the last row zero (theta_final),
 * in n = 5000 dimensions (three column blocks of the Gram matrix). e1's largest entry
 * is negative, so the sign convention flips it: pc1 = -e1, pc2 = e2. */
static void pca_known(void)
{
    enum { M = 6, N = 5000 };
    static const double a[M] = {2, -2, 1, -1, 3, -3}, b[M] = {2, 2, -1, -1, -1, -1};
    double *D = calloc((size_t)M * N, sizeof *D), *e1 = calloc(N, sizeof *e1);
    double *e2 = calloc(N, sizeof *e2), *pc1 = vec(N), *pc2 = vec(N), x[M], y[M];
    e1[1] = -0.8, e1[4000] = 0.6, e2[2] = 0.6, e2[4500] = 0.8;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            D[(size_t)i * N + j] = (a[i] + 3) * e1[j] + (b[i] + 1) * e2[j];
    land_pca_result r;
    err e = {0};
    int rc = land_pca(D, M, N, pc1, pc2, x, y, &r, &e);
    double dir = 0, proj = 0;
    for (int j = 0; j < N; j++)
        dir = fmax(dir, fmax(fabs(pc1[j] + e1[j]), fabs(pc2[j] - e2[j])));
    for (int i = 0; i < M; i++)
        proj = fmax(proj, fmax(fabs(x[i] + (a[i] + 3)), fabs(y[i] - (b[i] + 1))));
    CHECK(rc == 0 && dir < 1e-14, "pca: known plane, pc1 = -e1 and pc2 = e2 (sign convention)",
          "rc %d %s, max diff %g", rc, e.msg, dir);
    CHECK(rc == 0 && fabs(r.explained[0] - 0.7) < 1e-14 && fabs(r.explained[1] - 0.3) < 1e-14
              && fabs(r.variance[0] - 28.0 / 5) < 1e-13 && fabs(r.variance[1] - 12.0 / 5) < 1e-13,
          "pca: explained-variance ratios 0.7 and 0.3, variances 28/5 and 12/5",
          "%.17g %.17g %.17g %.17g", r.explained[0], r.explained[1], r.variance[0], r.variance[1]);
    CHECK(rc == 0 && proj < 1e-13 && x[M - 1] == 0 && y[M - 1] == 0,
          "pca: uncentred projections exact, theta_final at exactly (0, 0)", "max diff %g, (%g, %g)",
          proj, x[M - 1], y[M - 1]);
    /* the same rows scaled along one line: fewer than 2 dimensions */
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            D[(size_t)i * N + j] = (a[i] + 3) * e1[j];
    rc = land_pca(D, M, N, pc1, pc2, x, y, &r, &e);
    CHECK(rc == ERR_DATA && strstr(e.msg, "fewer than 2 dimensions"),
          "pca: collinear snapshots are ERR_DATA", "rc %d %s", rc, e.msg);
    rc = land_pca(D, 2, N, pc1, pc2, x, y, &r, &e);
    CHECK(rc == ERR_USAGE && strstr(e.msg, "at least 3"), "pca: 2 snapshots are ERR_USAGE",
          "rc %d %s", rc, e.msg);
    free(D);
    free(e1);
    free(e2);
    free(pc1);
    free(pc2);
}

/* Random snapshots (last row zero) against the dense oracle: the top-2 eigenvectors of
 * the n x n matrix C^T C of the centred rows (GSL), explained ratio = eigenvalue /
 * trace. */
static void pca_dense(void)
{
    enum { M = 7, N = 9 };
    double D[M * N], C[M * N], pc1[N], pc2[N], x[M], y[M];
    unsigned sd = 11;
    for (int i = 0; i < M * N; i++)
        D[i] = i < (M - 1) * N ? 3 * frand(&sd) + 0.4 * (i % N) : 0;
    for (int j = 0; j < N; j++) {
        double mu = 0;
        for (int i = 0; i < M; i++)
            mu += D[i * N + j] / M;
        for (int i = 0; i < M; i++)
            C[i * N + j] = D[i * N + j] - mu;
    }
    gsl_matrix *S = gsl_matrix_alloc(N, N), *V = gsl_matrix_alloc(N, N);
    gsl_vector *lam = gsl_vector_alloc(N);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(N);
    double tr = 0;
    for (int p = 0; p < N; p++)
        for (int q = 0; q < N; q++) {
            double v = 0;
            for (int i = 0; i < M; i++)
                v += C[i * N + p] * C[i * N + q];
            gsl_matrix_set(S, p, q, v);
            tr += p == q ? v : 0;
        }
    gsl_eigen_symmv(S, lam, V, ws);
    gsl_eigen_symmv_sort(lam, V, GSL_EIGEN_SORT_VAL_DESC);
    land_pca_result r;
    err e = {0};
    int rc = land_pca(D, M, N, pc1, pc2, x, y, &r, &e);
    double cosv[2] = {0, 0}, orth = 0, proj = 0, nrm[2] = {0, 0};
    int sign_ok = 1;
    double *pc[2] = {pc1, pc2};
    for (int k = 0; k < 2; k++) {
        int big = 0;
        for (int j = 0; j < N; j++) {
            cosv[k] += pc[k][j] * gsl_matrix_get(V, j, k);
            nrm[k] += pc[k][j] * pc[k][j];
            big = fabs(pc[k][j]) > fabs(pc[k][big]) ? j : big;
        }
        sign_ok &= pc[k][big] > 0;
    }
    for (int j = 0; j < N; j++)
        orth += pc1[j] * pc2[j];
    for (int i = 0; i < M; i++) {
        double px = 0, py = 0;
        for (int j = 0; j < N; j++) {
            px += D[i * N + j] * pc1[j];
            py += D[i * N + j] * pc2[j];
        }
        proj = fmax(proj, fmax(fabs(x[i] - px), fabs(y[i] - py)));
    }
    CHECK(rc == 0 && fabs(fabs(cosv[0]) - 1) < 1e-12 && fabs(fabs(cosv[1]) - 1) < 1e-12
              && fabs(nrm[0] - 1) < 1e-14 && fabs(nrm[1] - 1) < 1e-14 && fabs(orth) < 1e-12,
          "pca: random snapshots, directions = the dense covariance's top-2 eigenvectors up to sign",
          "rc %d %s |cos| %.17g %.17g, norms %.17g %.17g, pc1.pc2 %g", rc, e.msg, cosv[0],
          cosv[1], nrm[0], nrm[1], orth);
    CHECK(rc == 0 && sign_ok, "pca: largest |entry| of each direction positive", "-");
    double w1 = gsl_vector_get(lam, 0) / tr, w2 = gsl_vector_get(lam, 1) / tr;
    CHECK(rc == 0 && fabs(r.explained[0] - w1) <= 1e-12 * w1
              && fabs(r.explained[1] - w2) <= 1e-12 * w2 && r.explained[0] + r.explained[1] < 1,
          "pca: explained ratios = the dense eigenvalues / trace", "%.17g %.17g want %.17g %.17g",
          r.explained[0], r.explained[1], w1, w2);
    CHECK(rc == 0 && proj < 1e-13 && x[M - 1] == 0 && y[M - 1] == 0,
          "pca: projections d_i . pc_k, the final row at (0, 0)", "max diff %g", proj);
    gsl_matrix_free(S);
    gsl_matrix_free(V);
    gsl_vector_free(lam);
    gsl_eigen_symmv_free(ws);
}

int main(void)
{
    pool_set_threads(1, NULL);
    unsigned s = 5;
    for (int i = 0; i < NS * DIN; i++)
        xs[i] = 2 * frand(&s);
    for (int i = 0; i < NS; i++)
        ys[i] = (i * 7) % NOUT;
    axes();
    directions();
    parabola();
    static double keep[3][30];
    for (int pass = 0; pass < 2; pass++) {  /* the pool is resized once, before its first run */
        fast_path("mlp-ce", "mlp", LOSS_CE, 7, 4, pass, keep[0]);
        fast_path("mlp-mse", "mlp", LOSS_MSE, 6, 0, pass, keep[1]);
        fast_path("logreg", "logreg", LOSS_CE, 0, 0, pass, keep[2]);
        pool_set_threads(2, NULL);
    }
    blocks();
    groups();
    barriers();
    assignment();
    matching();
    pca_known();
    pca_dense();
    return check_done();
}
