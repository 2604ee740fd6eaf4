/* test_probes.c -- curvature and sharpness probes against oracles.
 *
 * Known spectra: a diagonal operator of size 50 with negative eigenvalues, through the
 * generic operator interface (Lanczos, power, Hutchinson, SLQ, block restriction,
 * scaling, overlap all exact), and the 2-D model quadratic:a,b. A small tanh MLP
 * (6-10-3, cross-entropy, 103 parameters, chunked): Lanczos' top and bottom 5
 * eigenvalues against a dense GSL eigen-solve of the Hessian built from HVP columns,
 * true residuals, Hutchinson within 3 standard errors of the exact trace, SLQ's
 * quadrature identity sum w theta = v1.H v1, Lanczos needing fewer HVPs than power
 * iteration to a 1e-6 error, per-block spectra, and probes leaving the model's
 * results bit-identical. Sharpness: closed forms and brute force on quadratics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_sort_vector.h>

#include "../core/rng.h"
#include "../probes/hessian.h"
#include "../probes/sharp.h"
#include "check.h"

/* --- a diagonal operator: H = diag(lam) --- */

#define ND 50
static double lam[ND];

static int diag_apply(void *ctx, const double *v, double *hv, err *e)
{
    (void)e;
    const double *d = ctx;
    for (int i = 0; i < ND; i++)
        hv[i] = d[i] * v[i];
    return 0;
}

static void test_diagonal(void)
{
    /* -3 .. 8.75 in steps of 0.25, then 12 and 15; the most negative is -3 */
    for (int i = 0; i < ND - 2; i++)
        lam[i] = -3 + 0.25 * i;
    lam[ND - 2] = 12;
    lam[ND - 1] = 15;
    double sum = 0;
    for (int i = 0; i < ND; i++)
        sum += lam[i];
    hess_op op = {.n = ND, .apply = diag_apply, .ctx = lam};
    err e = {0};
    hess_eig_opts o;
    hess_eig_opts_default(&o);
    o.top = 3;
    o.bottom = 2;
    o.tol = 1e-12;
    o.max_iter = ND;
    hess_eigs_result r;
    int rc = hess_eigs(&op, &o, &r, &e);
    CHECK(!rc && r.k == 5, "diag lanczos runs", "rc %d k %d: %s", rc, r.k, e.msg);
    if (!rc) {
        double want[5] = {15, 12, 8.75, -3, -2.75}, worst = 0, wres = 0;
        for (int p = 0; p < 5; p++) {
            worst = fmax(worst, fabs(r.values[p] - want[p]));
            wres = fmax(wres, r.resid[p]);
        }
        CHECK(worst <= 1e-12 * 15, "diag lanczos top 3 and bottom 2 exact", "max err %.3g", worst);
        CHECK(wres <= 1e-10, "diag lanczos true residuals", "max resid %.3g", wres);
        CHECK(r.converged && r.applies == r.iterations + r.k, "diag lanczos counts",
              "converged %d iterations %d applies %ld", r.converged, r.iterations, r.applies);
        hess_eigs_result_free(&r);
    }
    /* power: largest magnitude, deflated */
    o.method = HESS_POWER;
    o.top = 2;
    o.bottom = 0;
    o.max_iter = 2000;
    rc = hess_eigs(&op, &o, &r, &e);
    CHECK(!rc && r.k == 2, "diag power runs", "rc %d: %s", rc, e.msg);
    if (!rc) {
        /* PyHessian's v/(||v||+1e-6) biases its estimate by about -2e-6 relative */
        check_close("diag power lambda 1 (PyHessian's estimate)", r.values[0], 15, 3e-6, 0);
        check_close("diag power lambda 2 (deflated)", r.values[1], 12, 3e-6, 0);
        hess_eigs_result_free(&r);
    }
    o.bottom = 1;
    rc = hess_eigs(&op, &o, &r, &e);
    CHECK(rc == ERR_USAGE, "power refuses --bottom", "rc %d", rc);
    /* Hutchinson: v.Dv = trace D exactly for Rademacher v */
    hess_trace_result t;
    rc = hess_trace_run(&op, 1e-3, 2, 100, 7, 0, &t, &e);
    CHECK(!rc && fabs(t.trace - sum) <= 1e-12 * fabs(sum) && t.stderr_ == 0 && t.samples == 2,
          "diag hutchinson exact", "trace %.17g want %.17g stderr %g samples %ld", t.trace, sum,
          t.stderr_, t.samples);
    /* SLQ with m = n: the nodes are the spectrum */
    hess_slq_result q;
    rc = hess_slq(&op, ND, 2, 3, 0, &q, &e);
    CHECK(!rc, "diag slq runs", "%s", e.msg);
    if (!rc) {
        double worst = 0, wsum = 0, quad = 0;
        for (int k = 0; k < q.runs; k++) {
            double sw = 0;
            for (int i = 0; i < q.count[k]; i++) {
                worst = fmax(worst, fabs(q.nodes[k * q.steps + i] - lam[i]));
                sw += q.weights[k * q.steps + i];
            }
            wsum = fmax(wsum, fabs(sw - 1));
            /* v1 = Rademacher / sqrt(n): v1.D v1 = trace / n */
            double sq = 0;
            for (int i = 0; i < q.count[k]; i++)
                sq += q.weights[k * q.steps + i] * q.nodes[k * q.steps + i];
            quad = fmax(quad, fabs(sq - sum / ND));
        }
        CHECK(q.count[0] == ND && worst <= 1e-10, "diag slq nodes = spectrum", "count %d err %.3g",
              q.count[0], worst);
        CHECK(wsum <= 1e-12 && quad <= 1e-12, "diag slq weights sum to 1, sum w theta = v1.Hv1",
              "%.3g %.3g", wsum, quad);
        int npts = 10000;
        double *grid = malloc(npts * sizeof *grid), *dens = malloc(npts * sizeof *dens);
        hess_density(&q, npts, grid, dens);
        double integral = 0;
        for (int j = 0; j < npts; j++)
            integral += dens[j] * (grid[1] - grid[0]);
        CHECK(fabs(grid[0] - (-3.01)) < 1e-9 && fabs(grid[npts - 1] - 15.01) < 1e-9 &&
              fabs(integral - 1) < 1e-12, "density grid and normalization",
              "grid %.17g..%.17g integral %.17g", grid[0], grid[npts - 1], integral);
        free(grid);
        free(dens);
        hess_slq_result_free(&q);
    }
    /* the block [10, 20): eigenvalues lam[10..19] */
    hess_op *blk = hess_op_block(&op, 10, 10, &e);
    o.method = HESS_LANCZOS;
    o.top = 1;
    o.bottom = 1;
    o.max_iter = 10;
    rc = blk ? hess_eigs(blk, &o, &r, &e) : 1;
    CHECK(!rc && fabs(r.values[0] - lam[19]) < 1e-12 && fabs(r.values[1] - lam[10]) < 1e-12 &&
          op.applies > 0, "block restriction spectrum", "%s", e.msg);
    if (!rc)
        hess_eigs_result_free(&r);
    hess_op_free(blk);
    CHECK(!hess_op_block(&op, 45, 10, &e) && e.code == ERR_USAGE, "block out of range refused",
          "%s", e.msg);
    /* scaled: D H D on a diagonal H has eigenvalues d^2 lam */
    double d[ND];
    for (int i = 0; i < ND; i++)
        d[i] = i == 3 ? 4.0 : 1.0;    /* d^2 lam[3] = 16 * -2.25 = -36 */
    hess_op *sc = hess_op_scaled(&op, d, &e);
    o.max_iter = ND;
    o.tol = 1e-12;
    rc = sc ? hess_eigs(sc, &o, &r, &e) : 1;
    CHECK(!rc && fabs(r.values[0] - 15) < 1e-10 && fabs(r.values[1] + 36) < 1e-10,
          "scaled operator D H D", "%s %g %g", e.msg, rc ? 0 : r.values[0], rc ? 0 : r.values[1]);
    if (!rc)
        hess_eigs_result_free(&r);
    hess_op_free(sc);
    /* overlap: g = e_49 + e_0 has half its squared norm on the top eigenvector e_49 */
    double g[ND] = {0}, v[ND] = {0};
    g[0] = g[ND - 1] = 1;
    v[ND - 1] = -1;
    check_close("gradient overlap", hess_overlap(g, v, 1, ND), 0.5, 1e-15, 0);
}

/* --- the 2-D quadratic model --- */

static model *quadratic(const char *kind)
{
    model_opts mo;
    model_opts_default(&mo);
    mo.kind = kind;
    model *m = NULL;
    err e = {0};
    if (model_new(&mo, &m, &e))
        printf("model_new %s: %s\n", kind, e.msg);
    return m;
}

static void test_quadratic_model(void)
{
    model *m = quadratic("quadratic:3,-2");
    double th[2] = {0.3, -0.7};
    err e = {0};
    hess_op *op = hess_op_model(m, th, (batch){0}, &e);
    hess_eig_opts o;
    hess_eig_opts_default(&o);
    o.bottom = 1;
    o.tol = 1e-12;
    hess_eigs_result r;
    int rc = hess_eigs(op, &o, &r, &e);
    CHECK(!rc && r.values[0] == 3 && fabs(r.values[1] + 2) < 1e-15 && r.resid[0] < 1e-14,
          "quadratic:3,-2 lambda = 3, -2", "rc %d %s", rc, e.msg);
    if (!rc)
        hess_eigs_result_free(&r);
    hess_trace_result t;
    rc = hess_trace_run(op, 1e-3, 2, 100, 1, 0, &t, &e);
    CHECK(!rc && t.trace == 1, "quadratic:3,-2 trace = 1", "%.17g", t.trace);
    hess_op_free(op);
    model_free(m);
}

/* --- a small MLP against a dense eigen-solve --- */

#define NS 23
#define DIN 6
#define NOUT 3

static double frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffff) / 65536.0;
}

static int cmp_abs_desc(const void *a, const void *b)
{
    double x = fabs(*(const double *)a), y = fabs(*(const double *)b);
    return (x < y) - (x > y);
}

static void test_mlp(void)
{
    static double xs[NS * DIN];
    static int ys[NS];
    unsigned s = 12345;
    for (int i = 0; i < NS * DIN; i++)
        xs[i] = 4 * (frand(&s) - 0.5);
    for (int i = 0; i < NS; i++)
        ys[i] = (int)(frand(&s) * NOUT) % NOUT;
    batch b = {.x = xs, .y = ys, .n = NS};
    model_opts mo;
    model_opts_default(&mo);
    mo.kind = "mlp";
    mo.act = AD_ACT_TANH;
    mo.hidden[0] = 10;
    mo.nhidden = 1;
    mo.in_dim = DIN;
    mo.out_dim = NOUT;
    mo.chunk = 8;
    model *m = NULL;
    err e = {0};
    if (model_new(&mo, &m, &e)) {
        CHECK(0, "mlp model", "%s", e.msg);
        return;
    }
    size_t n = m->n;
    double *th = malloc(n * sizeof *th), *H = malloc(n * n * sizeof *H), *ei = calloc(n, sizeof *ei);
    model_init(m, th, 3, NULL);
    for (size_t i = 0; i < n; i++)
        th[i] *= 3;                          /* a curvier point than the init */
    hess_op *op = hess_op_model(m, th, b, &e);
    for (size_t j = 0; j < n; j++) {
        ei[j] = 1;
        hess_op_apply(op, ei, H + j * n, &e);
        ei[j] = 0;
    }
    gsl_matrix *A = gsl_matrix_alloc(n, n);
    double trace = 0;
    for (size_t i = 0; i < n; i++) {
        trace += H[i * n + i];
        for (size_t j = 0; j < n; j++)
            gsl_matrix_set(A, i, j, 0.5 * (H[i * n + j] + H[j * n + i]));
    }
    gsl_vector *ev = gsl_vector_alloc(n);
    gsl_eigen_symm_workspace *ws = gsl_eigen_symm_alloc(n);
    gsl_eigen_symm(A, ev, ws);
    gsl_sort_vector(ev);                     /* ascending */
    double lmax = gsl_vector_get(ev, n - 1), lmin = gsl_vector_get(ev, 0);
    printf("# mlp: n %zu, lambda in [%.6g, %.6g], trace %.6g\n", n, lmin, lmax, trace);

    hess_eig_opts o;
    hess_eig_opts_default(&o);
    o.top = o.bottom = 5;
    o.tol = 1e-10;
    o.max_iter = (int)n;
    hess_eigs_result r;
    int rc = hess_eigs(op, &o, &r, &e);
    CHECK(!rc && r.k == 10, "mlp lanczos runs", "%s", e.msg);
    if (!rc) {
        double worst = 0, wres = 0;
        for (int p = 0; p < 5; p++) {
            worst = fmax(worst, fabs(r.values[p] - gsl_vector_get(ev, n - 1 - p)));
            worst = fmax(worst, fabs(r.values[5 + p] - gsl_vector_get(ev, p)));
        }
        for (int p = 0; p < 10; p++)
            wres = fmax(wres, r.resid[p]);
        CHECK(worst <= 1e-8 * fabs(lmax), "mlp lanczos top/bottom 5 = dense eigen-solve",
              "max |dlambda| %.3g (bound %.3g), %d steps", worst, 1e-8 * fabs(lmax), r.iterations);
        CHECK(wres <= 1e-7 * fabs(lmax), "mlp lanczos true residuals small", "max %.3g", wres);
        printf("# mlp lanczos: %d steps, %ld applies for top/bottom 5 at tol 1e-10\n", r.iterations,
               r.applies);
        hess_eigs_result_free(&r);
    }
    /* the gap-form stopping rule at 1e-9: fewer steps, still within its tolerance */
    o.top = 1;
    o.bottom = 0;
    o.tol = 1e-9;
    rc = hess_eigs(op, &o, &r, &e);
    int steps_res = rc ? 0 : r.iterations;
    hess_eigs_result_free(&r);
    o.stop = HESS_STOP_GAP;
    rc = hess_eigs(op, &o, &r, &e);
    CHECK(!rc && fabs(r.values[0] - lmax) <= 1e-9 * fabs(lmax) && r.iterations <= steps_res,
          "mlp lanczos gap-form stop", "err %.3g, %d steps (residual rule %d)",
          rc ? 0 : fabs(r.values[0] - lmax), r.iterations, steps_res);
    hess_eigs_result_free(&r);
    o.stop = HESS_STOP_RESIDUAL;
    /* power at a strict tolerance: the largest-magnitude eigenvalues */
    double *mag = malloc(n * sizeof *mag);
    memcpy(mag, ev->data, n * sizeof *mag);
    qsort(mag, n, sizeof *mag, cmp_abs_desc);
    o.method = HESS_POWER;
    o.top = 2;
    o.bottom = 0;
    o.tol = 1e-12;
    o.max_iter = 20000;
    rc = hess_eigs(op, &o, &r, &e);
    CHECK(!rc && fabs(r.values[0] - mag[0]) <= 3e-6 * fabs(mag[0]) &&
          fabs(r.values[1] - mag[1]) <= 3e-6 * fabs(mag[0]), "mlp power top 2 (by magnitude)",
          "got %.12g %.12g want %.12g %.12g", rc ? 0 : r.values[0], rc ? 0 : r.values[1], mag[0],
          mag[1]);
    if (!rc)
        hess_eigs_result_free(&r);

    /* Hutchinson within 3 standard errors of the exact trace */
    hess_trace_result t;
    rc = hess_trace_run(op, 1e-3, 2, 100, 11, 0, &t, &e);
    CHECK(!rc && fabs(t.trace - trace) <= 3 * t.stderr_, "mlp hutchinson within 3 stderr",
          "trace %.6g +- %.3g (%ld samples), exact %.6g", t.trace, t.stderr_, t.samples, trace);

    /* SLQ: each run's sum w theta equals v1.H v1 of its start vector */
    hess_slq_result q;
    rc = hess_slq(op, 30, 3, 5, 2, &q, &e);
    if (!rc) {
        gsl_rng *rng = rng_stream(5, RNG_PROBE, 2);
        double *v = malloc(n * sizeof *v), *hv = malloc(n * sizeof *hv), worst = 0;
        for (int k = 0; k < q.runs; k++) {
            for (size_t i = 0; i < n; i++)   /* the draws hess_slq makes, in order */
                v[i] = (gsl_rng_uniform_int(rng, 2) ? 1.0 : -1.0) / sqrt((double)n);
            hess_op_apply(op, v, hv, &e);
            double vhv = 0, sq = 0;
            for (size_t i = 0; i < n; i++)
                vhv += v[i] * hv[i];
            for (int i = 0; i < q.count[k]; i++)
                sq += q.weights[k * q.steps + i] * q.nodes[k * q.steps + i];
            worst = fmax(worst, fabs(sq - vhv));
        }
        CHECK(worst <= 1e-12 * fabs(lmax), "mlp slq: sum w theta = v1.H v1 per run",
              "max diff %.3g", worst);
        rng_free(rng);
        free(v);
        free(hv);
        hess_slq_result_free(&q);
    } else
        CHECK(0, "mlp slq runs", "%s", e.msg);

    /* HVPs to a true error of 1e-6 |lambda_max|: Lanczos vs power */
    CHECK(fabs(lmin) < lmax, "mlp: lambda_max is the largest magnitude", "%g %g", lmin, lmax);
    hess_lanczos *L = NULL;
    hess_power *P = NULL;
    gsl_rng *rng = rng_stream(9, RNG_PROBE, 0);
    double *v0 = malloc(n * sizeof *v0), target = 1e-6 * fabs(lmax);
    for (size_t i = 0; i < n; i++)
        v0[i] = frand(&s) - 0.5;
    hess_lanczos_new(n, (int)n, &L, &e);
    hess_lanczos_init(L, v0, &e);
    long l0 = op->applies, lan = -1, pow_ = -1;
    while (L->m < L->max_iter && !L->breakdown && !hess_lanczos_iterate(L, op, &e))
        if (fabs(L->ritz[L->m - 1] - lmax) <= target) {
            lan = op->applies - l0;
            break;
        }
    hess_power_new(n, &P, &e);
    hess_power_init(P, v0);
    l0 = op->applies;
    while (P->iter < 20000 && !hess_power_iterate(P, op, NULL, 0, &e))
        if (fabs(P->rq - lmax) <= target) {    /* the unbiased quotient: power's best */
            pow_ = op->applies - l0;
            break;
        }
    CHECK(lan > 0 && pow_ > 0 && lan < pow_, "mlp: lanczos needs fewer HVPs than power for 1e-6",
          "lanczos %ld, power %ld HVPs", lan, pow_);
    printf("# HVPs to |lambda_max error| <= 1e-6 lambda_max: lanczos %ld, power %ld\n", lan, pow_);
    hess_lanczos_free(L);
    hess_power_free(P);
    rng_free(rng);
    free(v0);

    /* per-block spectrum: the first weight block's diagonal block of H */
    const model_block *bl = &m->blocks[0];
    hess_op *blk = hess_op_block(op, bl->offset, bl->size, &e);
    gsl_matrix *B = gsl_matrix_alloc(bl->size, bl->size);
    for (size_t i = 0; i < bl->size; i++)
        for (size_t j = 0; j < bl->size; j++)
            gsl_matrix_set(B, i, j, 0.5 * (H[(bl->offset + i) * n + bl->offset + j] +
                                           H[(bl->offset + j) * n + bl->offset + i]));
    gsl_vector *bev = gsl_vector_alloc(bl->size);
    gsl_eigen_symm_workspace *bws = gsl_eigen_symm_alloc(bl->size);
    gsl_eigen_symm(B, bev, bws);
    gsl_sort_vector(bev);
    o.method = HESS_LANCZOS;
    o.top = 1;
    o.bottom = 1;
    o.tol = 1e-10;
    o.max_iter = (int)bl->size;
    rc = hess_eigs(blk, &o, &r, &e);
    double bmax = gsl_vector_get(bev, bl->size - 1), bmin = gsl_vector_get(bev, 0);
    CHECK(!rc && fabs(r.values[0] - bmax) <= 1e-8 * fabs(bmax) &&
          fabs(r.values[1] - bmin) <= 1e-8 * fabs(bmax), "mlp block 0.weight spectrum = dense block",
          "%s got %.12g %.12g want %.12g %.12g", bl->name, rc ? 0 : r.values[0],
          rc ? 0 : r.values[1], bmax, bmin);
    if (!rc)
        hess_eigs_result_free(&r);
    gsl_eigen_symm_free(bws);
    gsl_vector_free(bev);
    gsl_matrix_free(B);
    hess_op_free(blk);

    /* probes leave the model bit-identical: same gradient before and after */
    double *g1 = malloc(n * sizeof *g1), *g2 = malloc(n * sizeof *g2);
    model_grad(m, th, b, g1, NULL, NULL);
    o.top = 3;
    o.bottom = 0;
    o.max_iter = 30;
    if (!hess_eigs(op, &o, &r, &e))
        hess_eigs_result_free(&r);
    sharp_opts so;
    sharp_opts_default(&so);
    so.kind = SHARP_FLATNESS;
    sharp_result sr;
    sharp_measure(m, th, b, &so, &sr, &e);
    model_grad(m, th, b, g2, NULL, NULL);
    CHECK(memcmp(g1, g2, n * sizeof *g1) == 0, "probes leave gradients bit-identical", "differ");
    free(g1);
    free(g2);

    free(mag);
    gsl_eigen_symm_free(ws);
    gsl_vector_free(ev);
    gsl_matrix_free(A);
    hess_op_free(op);
    free(th);
    free(H);
    free(ei);
    model_free(m);
}

/* --- sharpness on quadratics f = (a x^2 + b y^2)/2 --- */

static double qf(double a, double b, double x, double y)
{
    return 0.5 * (a * x * x + b * y * y);
}

static void test_sharpness(void)
{
    const double a = 1, bq = 10, rho = 0.1;
    model *m = quadratic("quadratic:1,10");
    double th[2] = {1, 0.5};
    double gx = a * th[0], gy = bq * th[1], gg = gx * gx + gy * gy, l0 = qf(a, bq, th[0], th[1]);
    sharp_opts o;
    sharp_result r;
    err e = {0};
    batch b = {0};
    /* SAM: rho ||g|| + rho^2 g'Ag / (2 ||g||^2) */
    sharp_opts_default(&o);
    o.rho = rho;
    int rc = sharp_measure(m, th, b, &o, &r, &e);
    double want = rho * sqrt(gg) + 0.5 * rho * rho * (a * gx * gx + bq * gy * gy) / gg;
    CHECK(!rc, "sam runs", "%s", e.msg);
    check_close("sam on a quadratic (closed form)", r.value, want, 1e-12, 0);
    /* adaptive SAM (ASAM): delta = rho c^2 g / ||c g||, c = |theta| */
    o.adaptive = 1;
    sharp_measure(m, th, b, &o, &r, &e);
    double cg = sqrt(th[0] * th[0] * gx * gx + th[1] * th[1] * gy * gy);
    double dx = rho * th[0] * th[0] * gx / cg, dy = rho * th[1] * th[1] * gy / cg;
    check_close("adaptive sam (closed form)", r.value, qf(a, bq, th[0] + dx, th[1] + dy) - l0, 1e-12, 0);
    /* worst-case L2: brute force over the circle (the max of a convex f is on it) */
    double bx = 0, bfl = -1e300;
    for (int i = 0; i < 400000; i++) {
        double t = 2 * M_PI * i / 400000.0;
        double f = qf(a, bq, th[0] + rho * cos(t), th[1] + rho * sin(t));
        if (f > bfl)
            bfl = f, bx = t;
    }
    (void)bx;
    sharp_opts_default(&o);
    o.kind = SHARP_WORST_L2;
    o.rho = rho;
    o.steps = 100;
    rc = sharp_measure(m, th, b, &o, &r, &e);
    CHECK(!rc && r.iterations == 100 && r.evals == 102, "worst-l2 runs and counts",
          "%s it %d evals %ld", e.msg, r.iterations, r.evals);
    check_close("worst-l2 = brute force over the circle", r.value, bfl - l0, 1e-9, 0);
    /* worst-case Linf: the best corner of the box */
    double best = -1e300;
    for (int sx = -1; sx <= 1; sx += 2)
        for (int sy = -1; sy <= 1; sy += 2)
            best = fmax(best, qf(a, bq, th[0] + sx * rho, th[1] + sy * rho));
    o.kind = SHARP_WORST_LINF;
    o.steps = 5;
    sharp_measure(m, th, b, &o, &r, &e);
    check_close("worst-linf = best corner", r.value, best - l0, 1e-12, 0);
    /* average-case: E = rho^2 (a + b) / 2 (c = 1), within 4 standard errors */
    o.kind = SHARP_AVERAGE;
    o.steps = 2000;
    o.seed = 4;
    sharp_measure(m, th, b, &o, &r, &e);
    want = 0.5 * rho * rho * (a + bq);
    CHECK(fabs(r.value - want) <= 4 * r.stderr_ && r.iterations == 2000,
          "average-case within 4 stderr of rho^2 tr(A)/2", "got %.6g +- %.3g want %.6g", r.value,
          r.stderr_, want);
    /* Keskar: maximize over the box |y_i| <= eps (|theta_i| + 1), brute force corners */
    const double eps = 0.05;
    best = -1e300;
    for (int sx = -1; sx <= 1; sx += 2)
        for (int sy = -1; sy <= 1; sy += 2)
            best = fmax(best, qf(a, bq, th[0] + sx * eps * (fabs(th[0]) + 1),
                                 th[1] + sy * eps * (fabs(th[1]) + 1)));
    sharp_opts_default(&o);
    o.kind = SHARP_KESKAR;
    o.rho = eps;
    rc = sharp_measure(m, th, b, &o, &r, &e);
    CHECK(!rc, "keskar runs", "%s", e.msg);
    check_close("keskar = 100 (max over box - L) / (1 + L), brute force", r.value,
                100 * (best - l0) / (1 + l0), 1e-10, 0);
    /* Keskar at a saddle: f is separable, so the max over the box is the sum of each
     * coordinate's max over its interval, at an end or at the stationary point 0 */
    model *sad = quadratic("quadratic:-1,4");
    double ts[2] = {0.02, 0.001}, coef[2] = {-1, 4}, ls = qf(-1, 4, ts[0], ts[1]);
    best = 0;
    for (int i = 0; i < 2; i++) {
        double w = eps * (fabs(ts[i]) + 1), lo = ts[i] - w, hi = ts[i] + w;
        double c = fmax(0.5 * coef[i] * lo * lo, 0.5 * coef[i] * hi * hi);
        best += lo < 0 && hi > 0 ? fmax(c, 0) : c;
    }
    rc = sharp_measure(sad, ts, b, &o, &r, &e);
    check_close("keskar on a saddle, brute force", r.value, 100 * (best - ls) / (1 + ls), 1e-8, 0);
    model_free(sad);
    /* first-order flatness: rho max_{||d|| <= rho} ||A (theta + d)|| by brute force */
    double fb = 0;
    for (int i = 0; i < 400000; i++) {
        double t = 2 * M_PI * i / 400000.0;
        double x = th[0] + rho * cos(t), y = th[1] + rho * sin(t);
        fb = fmax(fb, hypot(a * x, bq * y));
    }
    sharp_opts_default(&o);
    o.kind = SHARP_FLATNESS;
    o.rho = rho;
    o.steps = 100;
    rc = sharp_measure(m, th, b, &o, &r, &e);
    CHECK(!rc && r.hvps == 100, "flatness runs, one HVP per step", "%s hvps %ld", e.msg, r.hvps);
    check_close("flatness = rho max ||grad||, brute force", r.value, rho * fb, 1e-9, 0);
    /* bad input */
    o.adaptive = 1;
    CHECK(sharp_measure(m, th, b, &o, &r, &e) == ERR_USAGE, "adaptive flatness refused", "%s", e.msg);
    o.adaptive = 0;
    o.rho = 0;
    CHECK(sharp_measure(m, th, b, &o, &r, &e) == ERR_USAGE, "rho 0 refused", "%s", e.msg);
    CHECK(sharp_kind_parse("worst-linf") == SHARP_WORST_LINF && sharp_kind_parse("x") == -1,
          "kind names", "parse");
    model_free(m);
    /* edge-of-stability thresholds */
    check_close("EoS threshold 2/eta", sharp_eos_threshold(0.01, 0), 200, 1e-15, 0);
    check_close("EoS threshold (2+2beta)/eta", sharp_eos_threshold(0.01, 0.9), 380, 1e-15, 0);
    check_close("Adam threshold 38/eta", sharp_adam_threshold(0.001, 0.9), 38000, 1e-12, 0);
    double v2[2] = {4e-2, 1e-4}, d2[2];
    sharp_adam_scaling(v2, 2, 1, 0.99, 0, d2);   /* v_hat = v / 0.01: sqrt = 2, 0.1 */
    CHECK(fabs(d2[0] - 1 / sqrt(2.0)) < 1e-15 && fabs(d2[1] - 1 / sqrt(0.1)) < 1e-14,
          "Adam scaling P^-1/2", "%.17g %.17g", d2[0], d2[1]);
}

int main(void)
{
    gsl_set_error_handler_off();
    test_diagonal();
    test_quadratic_model();
    test_mlp();
    test_sharpness();
    return check_done();
}
