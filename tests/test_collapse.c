/* test_collapse.c -- neural-collapse metrics (probes/collapse.h) against known answers.
 *
 * An exact simplex ETF (rotated into more dimensions, offset by a global mean) gives
 * NC1 = 0, equinorm 0, equiangularity 0, NC3 = 0; two small cases are worked by hand
 * in the comments below (one where Sigma_B has rank C-1 < p, so only the truncated
 * pseudo-inverse is finite; one with unequal class sizes, where mu_G = the mean of the
 * class means differs from the feature mean). On a network, nc_model in small slices
 * equals nc_compute on all features at once, and its error equals 1 - accuracy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../probes/collapse.h"
#include "check.h"

static double frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffff) / 65536.0 - 0.5;
}

/* C classes of simplex-ETF means (unit norm, cosines -1/(C-1)) embedded by a random
 * orthonormal map into p dimensions, plus an offset orthogonal to them; every sample
 * sits on its class mean; W = the centred means. */
static void simplex(void)
{
    enum { C = 4, P = 7, PER = 3, N = C * PER };
    double Q[P][P], h[N * P], W[C * P], g[P] = {0};
    int y[N];
    unsigned s = 7;
    for (int i = 0; i < P; i++) {       /* Gram-Schmidt on random rows */
        for (int k = 0; k < P; k++)
            Q[i][k] = frand(&s);
        for (int j = 0; j < i; j++) {
            double d = 0;
            for (int k = 0; k < P; k++)
                d += Q[i][k] * Q[j][k];
            for (int k = 0; k < P; k++)
                Q[i][k] -= d * Q[j][k];
        }
        double nrm = 0;
        for (int k = 0; k < P; k++)
            nrm += Q[i][k] * Q[i][k];
        for (int k = 0; k < P; k++)
            Q[i][k] /= sqrt(nrm);
    }
    for (int k = 0; k < P; k++)
        g[k] = 3 * Q[C][k];             /* offset along a direction outside the ETF */
    double scale = sqrt((double)C / (C - 1));
    for (int c = 0; c < C; c++)
        for (int k = 0; k < P; k++) {
            double v = 0;               /* sum_j scale (e_c - 1/C)_j Q[j][k] */
            for (int j = 0; j < C; j++)
                v += scale * ((j == c) - 1.0 / C) * Q[j][k];
            W[c * P + k] = v;
            for (int r = 0; r < PER; r++)
                h[(c * PER + r) * P + k] = v + g[k];
        }
    for (int i = 0; i < N; i++)
        y[i] = i / PER;
    nc_result r;
    err e = {0};
    int rc = nc_compute(h, y, N, P, C, W, NULL, &r, &e);
    CHECK(rc == 0, "etf: computes", "%s", e.msg);
    check_close("etf: nc1 = 0", r.nc1, 0, 0, 1e-20);
    check_close("etf: nc1_notebook = 0", r.nc1_notebook, 0, 0, 1e-20);
    check_close("etf: within_class_trace = 0", r.within_class_trace, 0, 0, 1e-25);
    check_close("etf: equinorm means = 0", r.nc2_equinorm_means, 0, 0, 1e-14);
    check_close("etf: equinorm weights = 0", r.nc2_equinorm_weights, 0, 0, 1e-14);
    check_close("etf: equiangular means = 0", r.nc2_equiangular_means, 0, 0, 1e-14);
    check_close("etf: equiangular weights = 0", r.nc2_equiangular_weights, 0, 0, 1e-14);
    check_close("etf: nc3 = 0", r.nc3, 0, 0, 1e-14);
    check_close("etf: nc4 = 0", r.nc4, 0, 0, 0);
    check_close("etf: error = 0", r.error, 0, 0, 0);
    /* logits <m_c', m_c>: 1 for c' = c, -1/(C-1) otherwise */
    check_close("etf: margin = C/(C-1)", r.margin, (double)C / (C - 1), 1e-14, 0);
}

/* C = 2, p = 2. Class 0: (1,1), (3,1) -> mu0 = (2,1); class 1: (-2,-1), (-2,-3) ->
 * mu1 = (-2,-2). mu_G = (0,-0.5), M~ = +-(2,1.5). Sigma_B = M~0 M~0^T = [[4,3],[3,2.25]],
 * rank 1: lambda = 6.25, v = (0.8,0.6). Deviations (+-1,0), (0,+-1): Sigma_W = I/2.
 * Tr(Sigma_W Sigma_B^+) = v^T Sigma_W v / lambda = 0.08. Norms of M~ equal, cos = -1:
 * equinorm and equiangularity 0. W = I, b = (0, 0.5): equinorm 0, cos 0 -> 1.
 * NC3 = 2 - 2 <W^T, M~>/(||W|| ||M~||) = 2 - 2 (2 - 1.5)/(sqrt2 sqrt12.5) = 1.8.
 * Logits (h1, h2+0.5): predictions 1,0,1,0 for labels 0,0,1,1; nearest means 0,0,1,1;
 * margins -0.5, 1.5, 1.5, -0.5. */
static void rank_deficient(void)
{
    double h[] = {1, 1, 3, 1, -2, -1, -2, -3}, W[] = {1, 0, 0, 1}, b[] = {0, 0.5};
    int y[] = {0, 0, 1, 1};
    nc_result r;
    err e = {0};
    int rc = nc_compute(h, y, 4, 2, 2, W, b, &r, &e);
    CHECK(rc == 0, "c2: computes", "%s", e.msg);
    check_close("c2: nc1_notebook = 0.08 (top C-1 eigenpairs only)", r.nc1_notebook, 0.08, 1e-13, 0);
    check_close("c2: nc1 = 0.04", r.nc1, 0.04, 1e-13, 0);
    check_close("c2: within_class_trace = 1", r.within_class_trace, 1, 1e-15, 0);
    check_close("c2: equinorm means = 0", r.nc2_equinorm_means, 0, 0, 1e-15);
    check_close("c2: equiangular means = 0", r.nc2_equiangular_means, 0, 0, 1e-15);
    check_close("c2: equinorm weights = 0", r.nc2_equinorm_weights, 0, 0, 0);
    check_close("c2: equiangular weights = 1", r.nc2_equiangular_weights, 1, 1e-15, 0);
    check_close("c2: nc3 = 1.8", r.nc3, 1.8, 1e-14, 0);
    check_close("c2: nc4 = 0.5", r.nc4, 0.5, 0, 0);
    check_close("c2: error = 0.5", r.error, 0.5, 0, 0);
    check_close("c2: margin = 0.5", r.margin, 0.5, 1e-15, 0);
}

/* C = 3, p = 2, class sizes 3, 2, 1. Means mu0 = (2,1), mu1 = (1,2), mu2 = (0,0):
 * mu_G = (1,1) (the feature mean is (8/6, 7/6)); M~ = (1,0), (0,1), (-1,-1).
 * Sigma_B = [[2,1],[1,2]]/3, full rank: Sigma_B^+ = [[2,-1],[-1,2]].
 * Samples (3,1), (1,1), (2,1) | (1,3), (1,1) | (0,0): Sigma_W = I/3, so
 * Tr(Sigma_W Sigma_B^+) = 4/3 and Tr(Sigma_W) = 2/3.
 * Norms of M~: 1, 1, sqrt2 -> std/mean = sqrt3 (sqrt2-1)/(2+sqrt2). Cosines 0, -1/sqrt2,
 * -1/sqrt2 -> equiangularity (1/2 + 2 (1/sqrt2 - 1/2))/3 = (sqrt2 - 1/2)/3.
 * W = [[2,0],[0,1],[-1,-1]], no bias: norms 2, 1, sqrt2 -> std/mean =
 * 3 sqrt((5 - 3 sqrt2)/3)/(3 + sqrt2); same directions as M~, same equiangularity.
 * NC3 = 2 - 2 <W^T, M~>/(||W|| ||M~||) = 2 - 2*5/(sqrt7*2) = 2 - 5/sqrt7.
 * Logits (2h1, h2, -h1-h2): predictions 0,0,0 | 1,0 | 0 (first maximum of (0,0,0));
 * nearest means 0,0 (tie, first),0 | 1,0 (tie) | 2 -> one mismatch, two errors;
 * margins 5, 1, 3 | 1, -1 | 0. */
static void unbalanced(void)
{
    double h[] = {3, 1, 1, 1, 2, 1, 1, 3, 1, 1, 0, 0}, W[] = {2, 0, 0, 1, -1, -1};
    int y[] = {0, 0, 0, 1, 1, 2};
    nc_result r;
    err e = {0};
    int rc = nc_compute(h, y, 6, 2, 3, W, NULL, &r, &e);
    CHECK(rc == 0, "c3: computes", "%s", e.msg);
    double s2 = sqrt(2.0);
    check_close("c3: nc1_notebook = 4/3", r.nc1_notebook, 4.0 / 3, 1e-14, 0);
    check_close("c3: nc1 = 4/9", r.nc1, 4.0 / 9, 1e-14, 0);
    check_close("c3: within_class_trace = 2/3", r.within_class_trace, 2.0 / 3, 1e-15, 0);
    check_close("c3: equinorm means", r.nc2_equinorm_means, sqrt(3.0) * (s2 - 1) / (2 + s2), 1e-14, 0);
    check_close("c3: equinorm weights", r.nc2_equinorm_weights,
                3 * sqrt((5 - 3 * s2) / 3) / (3 + s2), 1e-14, 0);
    check_close("c3: equiangular means", r.nc2_equiangular_means, (s2 - 0.5) / 3, 1e-14, 0);
    check_close("c3: equiangular weights", r.nc2_equiangular_weights, (s2 - 0.5) / 3, 1e-14, 0);
    check_close("c3: nc3 = 2 - 5/sqrt7", r.nc3, 2 - 5 / sqrt(7.0), 1e-14, 0);
    check_close("c3: nc4 = 1/6", r.nc4, 1.0 / 6, 1e-15, 0);
    check_close("c3: error = 1/3", r.error, 1.0 / 3, 1e-15, 0);
    check_close("c3: margin = 1.5", r.margin, 1.5, 1e-15, 0);
}

static void bad_input(void)
{
    double h[] = {1, 2, 3, 4}, W[] = {1, 0, 0, 1, 1, 1};
    int y[] = {0, 1}, yb[] = {0, 3}, y0[] = {0, 0};
    nc_result r;
    err e = {0};
    int rc = nc_compute(h, y, 2, 2, 3, W, NULL, &r, &e);
    CHECK(rc == ERR_DATA && strstr(e.msg, "class 2"), "empty class is ERR_DATA", "rc %d: %s", rc, e.msg);
    rc = nc_compute(h, yb, 2, 2, 3, W, NULL, &r, &e);
    CHECK(rc == ERR_DATA, "label out of range is ERR_DATA", "rc %d: %s", rc, e.msg);
    rc = nc_compute(h, y0, 2, 2, 1, W, NULL, &r, &e);
    CHECK(rc == ERR_USAGE, "one class is ERR_USAGE", "rc %d: %s", rc, e.msg);
}

/* A small MLP: slices of 5 samples equal one pass over all features; the error from
 * the reconstructed logits equals the model's 1 - accuracy. */
static void network(void)
{
    enum { NS = 23, DIN = 5, C = 3 };
    model_opts o;
    model_opts_default(&o);
    o.hidden[0] = 6;
    o.hidden[1] = 4;
    o.in_dim = DIN;
    o.out_dim = C;
    o.chunk = 4;
    model *m = NULL;
    err e = {0};
    if (model_new(&o, &m, &e)) {
        CHECK(0, "network: model", "%s", e.msg);
        return;
    }
    double x[NS * DIN], *th = malloc(m->n * sizeof *th), f[NS * 4];
    int y[NS];
    unsigned s = 3;
    for (int i = 0; i < NS * DIN; i++)
        x[i] = 2 * frand(&s);
    for (int i = 0; i < NS; i++)
        y[i] = i % C;
    model_init(m, th, 5, &e);
    batch b = {.x = x, .y = y, .n = NS};
    nc_result a, r;
    model_stats st;
    int rc = model_features(m, th, b, f, &e);
    rc = rc ? rc : nc_compute(f, y, NS, 4, C, th + m->blocks[4].offset, th + m->blocks[5].offset, &a, &e);
    rc = rc ? rc : nc_model(m, th, b, 5, &r, &e);
    rc = rc ? rc : model_loss(m, th, b, &st, &e);
    CHECK(rc == 0, "network: computes", "%s", e.msg);
    check_close("network: slices: nc1", r.nc1, a.nc1, 1e-10, 0);
    check_close("network: slices: nc3", r.nc3, a.nc3, 1e-12, 0);
    check_close("network: slices: margin", r.margin, a.margin, 1e-12, 1e-15);
    check_close("network: slices: within_class_trace", r.within_class_trace, a.within_class_trace, 1e-12, 0);
    check_close("network: error = 1 - accuracy", r.error, 1 - st.correct / NS, 0, 1e-15);
    rc = nc_model(m, th, (batch){.x = x, .n = NS}, 0, &r, &e);
    CHECK(rc == ERR_USAGE, "network: unlabelled batch is ERR_USAGE", "rc %d", rc);
    free(th);
    model_free(m);
}

int main(void)
{
    simplex();
    rank_deficient();
    unbalanced();
    bad_input();
    network();
    return check_done();
}
