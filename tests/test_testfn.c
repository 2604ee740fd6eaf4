/* test_testfn.c -- checks of the 2-D test functions (models/testfn.c).
 *
 * Oracles: central finite differences of the loss (gradient) and of the analytic
 * gradient (Hessian-vector product); the published minima and start-point values;
 * closed-form 2x2 eigenvalues for positive definiteness at the minima; and, for
 * gradient descent on quadratic:a,b, the closed-form contraction (1 - lr a)^k. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "../models/impl.h"

static const batch nobatch = { NULL, NULL, NULL, 0 };

typedef struct fn_case {
    const char *kind;
    double start[2];
    double f_start;        /* f at the start, computed by hand */
    int nmin;
    double min[4][2];      /* known global minimizers; f = 0 there */
} fn_case;

/* Himmelblau's non-integer minima to 17 digits (Newton's method in 30-digit arithmetic).
 * Rastrigin at (2.2, -1.7): 20 + 4.84 + 2.89 - 10 cos(0.4 pi) - 10 cos(1.4 pi) = 27.73. */
static const fn_case cases[] = {
    { "rosenbrock", { -1.2, 1 }, 24.2, 1, { { 1, 1 } } },
    { "beale", { 1, 1.5 }, 41.25, 1, { { 3, 0.5 } } },
    { "himmelblau", { 0, 0 }, 170, 4,
      { { 3, 2 }, { -2.8051180869527449, 3.1313125182505730 },
        { -3.7793102533777469, -3.2831859912861694 },
        { 3.5844283403304917, -1.8481265269644036 } } },
    { "rastrigin", { 2.2, -1.7 }, 27.73, 1, { { 0, 0 } } },
    { "quadratic:1,10", { 1, 1 }, 5.5, 1, { { 0, 0 } } },
    { "quadratic:-2.5,0.75", { 1, 1 }, -0.875, 0, { { 0 } } },  /* a saddle */
};

/* High-entropy evaluation points and directions, away from any symmetry. */
static const double pts[][2] = { { 0.3718, -0.8123 }, { -1.2913, 0.6457 }, { 2.0731, 1.3379 } };
static const double dir_u[2] = { 0.6133, -0.2871 }, dir_v[2] = { -0.4419, 0.8297 };

static model *build(const char *kind, err *e)
{
    model_opts o = { .kind = kind };
    model *m = NULL;
    return model_new(&o, &m, e) ? NULL : m;
}

static double loss_at(model *m, double x, double y)
{
    double th[2] = { x, y };
    model_stats st;
    err e = { 0 };
    model_loss(m, th, nobatch, &st, &e);
    return st.loss;
}

static void grad_at(model *m, const double th[2], double g[2])
{
    err e = { 0 };
    model_grad(m, th, nobatch, g, NULL, &e);
}

/* 2x2 Hessian, column by column through model_hvp. */
static void hessian(model *m, const double th[2], double H[2][2])
{
    err e = { 0 };
    for (int j = 0; j < 2; j++) {
        double ej[2] = { j == 0, j == 1 }, hv[2];
        model_hvp(m, th, ej, nobatch, NULL, hv, NULL, &e);
        H[0][j] = hv[0];
        H[1][j] = hv[1];
    }
}

static void check_shape(model *m, const char *kind)
{
    char name[128];
    snprintf(name, sizeof name, "%s: n, blocks, dims, kind", kind);
    const model_block *b = m->blocks;
    CHECK(m->n == 2 && m->nblocks == 1 && strcmp(b->name, "xy") == 0 && b->offset == 0
          && b->size == 2 && b->ndim == 1 && b->shape[0] == 2 && b->role == ROLE_WEIGHT
          && m->in_dim == 0 && m->out_dim == 1 && m->feat_dim == 0
          && strcmp(m->kind, kind) == 0,
          name, "n %zu nblocks %d block '%s' kind '%s'", m->n, m->nblocks, b->name, m->kind);
}

static void check_start(model *m, const fn_case *c)
{
    char name[128];
    double th[2], th2[2], g[2];
    err e = { 0 };
    int rc = model_init(m, th, 1, &e) | model_init(m, th2, 987654321, &e);
    snprintf(name, sizeof name, "%s: init = documented start, seed ignored", c->kind);
    CHECK(rc == 0 && th[0] == c->start[0] && th[1] == c->start[1]
          && th2[0] == th[0] && th2[1] == th[1], name, "got (%g, %g)", th[0], th[1]);
    snprintf(name, sizeof name, "%s: f(start)", c->kind);
    check_close(name, loss_at(m, th[0], th[1]), c->f_start, 1e-14, 1e-14);
    grad_at(m, th, g);
    snprintf(name, sizeof name, "%s: start is not stationary", c->kind);
    CHECK(hypot(g[0], g[1]) > 1, name, "|g| = %g", hypot(g[0], g[1]));
}

/* The batch is ignored, a call is one "sample", and stats are complete. */
static void check_stats(model *m, const char *kind)
{
    char name[128];
    double th[2] = { pts[0][0], pts[0][1] }, x[3] = { 1, 2, 3 }, g[2], hv[2];
    int y[3] = { 0, 1, 2 };
    batch b = { x, y, NULL, 3 };
    model_stats s0, s1, sg, sh;
    err e = { 0 };
    int rc = model_loss(m, th, nobatch, &s0, &e) | model_loss(m, th, b, &s1, &e)
             | model_grad(m, th, b, g, &sg, &e) | model_hvp(m, th, dir_u, b, g, hv, &sh, &e);
    snprintf(name, sizeof name, "%s: batch ignored, stats (loss, correct 0, n 1)", kind);
    CHECK(rc == 0 && s0.loss == s1.loss && s0.loss == sg.loss && s0.loss == sh.loss
          && s0.n == 1 && s1.n == 1 && sg.n == 1 && s0.correct == 0 && sg.correct == 0,
          name, "rc %d loss %g %g %g n %zu", rc, s0.loss, s1.loss, sg.loss, s0.n);
}

static void check_derivatives(model *m, const char *kind)
{
    const double h = 1e-6;
    char name[160];
    err e = { 0 };
    for (size_t p = 0; p < sizeof pts / sizeof pts[0]; p++) {
        const double *th = pts[p];
        double g[2], gh[2], hu[2], hv[2], gp[2], gm[2];
        grad_at(m, th, g);
        double f = loss_at(m, th[0], th[1]);

        /* Rounding in the difference quotient is ~ eps |f| / h. */
        for (int i = 0; i < 2; i++) {
            double d[2] = { i == 0 ? h : 0, i == 1 ? h : 0 };
            double fd = (loss_at(m, th[0] + d[0], th[1] + d[1])
                         - loss_at(m, th[0] - d[0], th[1] - d[1])) / (2 * h);
            snprintf(name, sizeof name, "%s (%g, %g): grad[%d] vs central differences",
                     kind, th[0], th[1], i);
            check_close(name, g[i], fd, 1e-6, 1e-8 * (1 + fabs(f)));
        }

        model_stats st;
        int rc = model_hvp(m, th, dir_u, nobatch, gh, hu, &st, &e);
        snprintf(name, sizeof name, "%s (%g, %g): hvp returns the gradient and loss",
                 kind, th[0], th[1]);
        CHECK(rc == 0 && gh[0] == g[0] && gh[1] == g[1] && st.loss == f, name,
              "rc %d g (%g, %g) vs (%g, %g)", rc, gh[0], gh[1], g[0], g[1]);

        double tp[2] = { th[0] + h * dir_u[0], th[1] + h * dir_u[1] };
        double tm[2] = { th[0] - h * dir_u[0], th[1] - h * dir_u[1] };
        grad_at(m, tp, gp);
        grad_at(m, tm, gm);
        for (int i = 0; i < 2; i++) {
            snprintf(name, sizeof name, "%s (%g, %g): hvp[%d] vs differences of grad",
                     kind, th[0], th[1], i);
            check_close(name, hu[i], (gp[i] - gm[i]) / (2 * h), 1e-6,
                        1e-8 * (1 + fabs(g[0]) + fabs(g[1])));
        }

        model_hvp(m, th, dir_v, nobatch, NULL, hv, NULL, &e);
        snprintf(name, sizeof name, "%s (%g, %g): u.Hv = v.Hu", kind, th[0], th[1]);
        check_close(name, dir_u[0] * hv[0] + dir_u[1] * hv[1],
                    dir_v[0] * hu[0] + dir_v[1] * hu[1], 1e-13, 1e-13);

        rc = model_jvp(m, th, dir_v, nobatch, &st, &e);
        snprintf(name, sizeof name, "%s (%g, %g): jvp = grad.v", kind, th[0], th[1]);
        CHECK(rc == 0 && fabs(st.jvp - (g[0] * dir_v[0] + g[1] * dir_v[1]))
                             <= 1e-14 * (fabs(g[0]) + fabs(g[1])) && st.loss == f,
              name, "jvp %.17g grad.v %.17g", st.jvp, g[0] * dir_v[0] + g[1] * dir_v[1]);
    }
}

/* Zero gradient and value at each known minimum; Hessian symmetric positive definite
 * there, by the closed-form eigenvalues of a symmetric 2x2 matrix. */
static void check_minima(model *m, const fn_case *c)
{
    char name[160];
    for (int k = 0; k < c->nmin; k++) {
        const double *th = c->min[k];
        double g[2], H[2][2];
        grad_at(m, th, g);
        hessian(m, th, H);
        double f = loss_at(m, th[0], th[1]);
        snprintf(name, sizeof name, "%s min (%g, %g): f = 0, grad = 0",
                 c->kind, th[0], th[1]);
        CHECK(f <= 1e-24 && hypot(g[0], g[1]) <= 1e-12, name, "f %g |g| %g",
              f, hypot(g[0], g[1]));
        double tr = H[0][0] + H[1][1];
        double disc = hypot(H[0][0] - H[1][1], 2 * H[0][1]);
        snprintf(name, sizeof name, "%s min (%g, %g): Hessian symmetric, positive definite",
                 c->kind, th[0], th[1]);
        CHECK(H[0][1] == H[1][0] && (tr - disc) / 2 > 0, name,
              "H = [%g %g; %g %g], eigenvalues %g, %g", H[0][0], H[0][1], H[1][0], H[1][1],
              (tr - disc) / 2, (tr + disc) / 2);
    }
}

static void check_bad_kinds(void)
{
    static const char *bad[] = { "quadratic:1", "quadratic:x,2", "rosenbrok", "quadratic",
                                 "quadratic:", "quadratic:1,2,3", "quadratic:1,2x",
                                 "quadratic:nan,1", "quadratic:1,inf", "quadratic:1e999,1",
                                 "quadratic;1,2", "rosenbrock:1", "Beale", "",
                                 "quadratic:0.1234567890123,0.1234567890123" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        model_opts o = { .kind = bad[i] };
        model *m = NULL;
        err e = { 0 };
        int rc = model_new(&o, &m, &e);
        char name[128];
        snprintf(name, sizeof name, "bad kind '%s': ERR_USAGE naming it", bad[i]);
        CHECK(rc == ERR_USAGE && e.code == ERR_USAGE && m == NULL
              && strstr(e.msg, bad[i]) != NULL, name, "rc %d msg '%.400s'", rc, e.msg);
        model_free(m);
    }
}

static void check_is(void)
{
    static const struct { const char *kind; int is; } t[] = {
        { "rosenbrock", 1 }, { "beale", 1 }, { "himmelblau", 1 }, { "rastrigin", 1 },
        { "quadratic:1,10", 1 }, { "quadratic:-2.5,0.75", 1 },
        /* the quadratic family, so model_new routes it to testfn_new's precise message */
        { "quadratic", 1 }, { "quadratic:x,2", 1 },
        { "rosenbrok", 0 }, { "rosenbrock2", 0 }, { "rosenbrock:1", 0 }, { "quadraticx", 0 },
        { "mlp", 0 }, { "logreg", 0 }, { "", 0 }, { NULL, 0 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "the registry's test function row of %s: %d",
                 t[i].kind ? t[i].kind : "NULL", t[i].is);
        const model_kind *k = model_kind_find(t[i].kind);
        int got = k && !k->data;
        CHECK(got == t[i].is, name, "got %d", got);
    }
}

/* Gradient descent on quadratic:1,10 from (1, 1): coordinate i after k steps is exactly
 * (1 - lr a_i)^k, so lr 0.1 gives (0.9^200 ~ 7e-10, 0). */
static void check_descent(void)
{
    err e = { 0 };
    model *m = build("quadratic:1,10", &e);
    const double lr = 0.1, a[2] = { 1, 10 };
    const int steps = 200;
    double th[2], g[2];
    model_init(m, th, 0, &e);
    for (int k = 0; k < steps; k++) {
        grad_at(m, th, g);
        th[0] -= lr * g[0];
        th[1] -= lr * g[1];
    }
    CHECK(hypot(th[0], th[1]) <= 1e-8, "quadratic:1,10 GD lr 0.1 x200 reaches the origin",
          "|theta| = %g", hypot(th[0], th[1]));
    check_close("quadratic:1,10 GD x matches (1 - lr a)^k", th[0],
                pow(1 - lr * a[0], steps), 1e-12, 0);
    check_close("quadratic:1,10 GD y matches (1 - lr b)^k", th[1],
                pow(1 - lr * a[1], steps), 1e-12, 0);
    model_free(m);
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const fn_case *c = &cases[i];
        err e = { 0 };
        model *m = build(c->kind, &e);
        char name[128];
        snprintf(name, sizeof name, "%s: builds", c->kind);
        CHECK(m != NULL, name, "%.400s", e.msg);
        if (!m)
            continue;
        check_shape(m, c->kind);
        check_start(m, c);
        check_stats(m, c->kind);
        check_derivatives(m, c->kind);
        check_minima(m, c);

        double f;
        int rc = model_features(m, c->start, nobatch, &f, &e);
        snprintf(name, sizeof name, "%s: features is ERR_USAGE", c->kind);
        CHECK(rc == ERR_USAGE && strstr(e.msg, "no features") != NULL, name,
              "rc %d msg '%.400s'", rc, e.msg);
        model_free(m);
    }

    /* quadratic:a,b's Hessian is diag(a, b) everywhere: eigenvalues a, b exactly. */
    err e = { 0 };
    model *q = build("quadratic:-2.5,0.75", &e);
    double H[2][2];
    hessian(q, pts[1], H);
    CHECK(H[0][0] == -2.5 && H[1][1] == 0.75 && H[0][1] == 0 && H[1][0] == 0,
          "quadratic:-2.5,0.75: Hessian = diag(a, b)", "H = [%g %g; %g %g]",
          H[0][0], H[0][1], H[1][0], H[1][1]);
    model_free(q);

    check_descent();
    check_bad_kinds();
    check_is();
    return check_done();
}
