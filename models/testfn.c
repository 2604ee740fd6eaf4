/* testfn.c -- 2-D test functions behind model.h's method table.
 *
 * Rosenbrock, Beale, Himmelblau, Rastrigin and the axis-aligned quadratic
 * "quadratic:a,b" are models of n = 2 parameters theta = (x, y) in one block "xy",
 * so every optimizer and probe runs on a contour map with exactly the code that
 * trains a network. They have no data: the batch is ignored (b.n may be 0), the loss
 * is f(x, y) and a call counts as one sample (model_stats.n = 1, correct = 0).
 *
 * Every derivative is analytic: grad and the 2x2 Hessian are closed forms, jvp is
 * grad . v computed directly (there is no backward pass to avoid), and hvp is the exact
 * H v. Each function's value, gradient, Hessian, start point, a known minimizer and
 * its gnuplot form sit together in one testfn_def, which its row of the model registry
 * (registry.c) points to. The model owns one small state (m->impl): the definition
 * and the parsed parameters; the state is read-only after construction, so the calls
 * are safe from several threads at once. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "impl.h"

/* A point of evaluation with the function's parameters (quadratic's a, b; unused by
 * the others). */
typedef struct tf_pt {
    double x, y, a, b;
} tf_pt;

/* One test function (impl.h's testfn_def): its formulas, and how a figure draws it. */
struct testfn_def {
    double (*f)(tf_pt p);
    void (*grad)(tf_pt p, double g[2]);  /* g = (df/dx, df/dy) */
    void (*hess)(tf_pt p, double h[3]);  /* h = (d2f/dx2, d2f/dxdy, d2f/dy2) */
    double start[2];                     /* model_init's theta; not a stationary point */
    double minimum[2];                   /* a global minimizer; f = 0 there for all five */
    int has_min;                         /* 1: minimum is the only global minimizer */
    int nparam;                          /* numbers after "name:" in the kind string */
    const char *gp;                      /* f as a gnuplot expression of x and y, with the
                                            parameters as A and B */
    const char *title;                   /* its name and formula, for a figure */
    double win[4];                       /* where it is usually drawn: x0, x1, y0, y1 */
};

/* Rosenbrock (1960): f = (1 - x)^2 + 100 (y - x^2)^2; a curved valley, min 0 at (1, 1). */
static double rosen_f(tf_pt p)
{
    double u = 1 - p.x, v = p.y - p.x * p.x;
    return u * u + 100 * v * v;
}

static void rosen_g(tf_pt p, double g[2])
{
    double v = p.y - p.x * p.x;
    g[0] = -2 * (1 - p.x) - 400 * p.x * v;
    g[1] = 200 * v;
}

static void rosen_h(tf_pt p, double h[3])
{
    h[0] = 2 - 400 * p.y + 1200 * p.x * p.x;
    h[1] = -400 * p.x;
    h[2] = 200;
}

/* Beale: f = sum_{i=1..3} t_i^2, t_i = c_i - x + x y^i, c = (1.5, 2.25, 2.625);
 * min 0 at (3, 0.5). With u_i = dt_i/dx = y^i - 1 and w_i = dt_i/dy = i x y^(i-1):
 * g = 2 sum t_i (u_i, w_i), H = 2 sum [u_i^2, u_i w_i + t_i i y^(i-1);
 *                                       ., w_i^2 + t_i i (i-1) x y^(i-2)]. */
static const double beale_c[3] = { 1.5, 2.25, 2.625 };

static double beale_f(tf_pt p)
{
    double f = 0, yi = 1;
    for (int i = 1; i <= 3; i++) {
        yi *= p.y;
        double t = beale_c[i - 1] - p.x + p.x * yi;
        f += t * t;
    }
    return f;
}

static void beale_g(tf_pt p, double g[2])
{
    double yi1 = 1;  /* y^(i-1) */
    g[0] = g[1] = 0;
    for (int i = 1; i <= 3; i++) {
        double t = beale_c[i - 1] - p.x + p.x * yi1 * p.y;
        g[0] += 2 * t * (yi1 * p.y - 1);
        g[1] += 2 * t * i * p.x * yi1;
        yi1 *= p.y;
    }
}

static void beale_h(tf_pt p, double h[3])
{
    double yi2 = 0, yi1 = 1;  /* y^(i-2) (unused at i = 1), y^(i-1) */
    h[0] = h[1] = h[2] = 0;
    for (int i = 1; i <= 3; i++) {
        double t = beale_c[i - 1] - p.x + p.x * yi1 * p.y;
        double u = yi1 * p.y - 1, w = i * p.x * yi1;
        h[0] += 2 * u * u;
        h[1] += 2 * (u * w + t * i * yi1);
        h[2] += 2 * (w * w + t * i * (i - 1) * p.x * yi2);
        yi2 = yi1;
        yi1 *= p.y;
    }
}

/* Himmelblau (1972): f = P^2 + Q^2, P = x^2 + y - 11, Q = x + y^2 - 7; four minima of
 * value 0: (3, 2), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848127);
 * a local maximum near (-0.270845, -0.923039). */
static double himm_f(tf_pt p)
{
    double P = p.x * p.x + p.y - 11, Q = p.x + p.y * p.y - 7;
    return P * P + Q * Q;
}

static void himm_g(tf_pt p, double g[2])
{
    double P = p.x * p.x + p.y - 11, Q = p.x + p.y * p.y - 7;
    g[0] = 4 * p.x * P + 2 * Q;
    g[1] = 2 * P + 4 * p.y * Q;
}

static void himm_h(tf_pt p, double h[3])
{
    h[0] = 12 * p.x * p.x + 4 * p.y - 42;
    h[1] = 4 * (p.x + p.y);
    h[2] = 12 * p.y * p.y + 4 * p.x - 26;
}

/* Rastrigin, A = 10: f = 2A + sum_i (x_i^2 - A cos(2 pi x_i)); a lattice of local
 * minima near the integers, global min 0 at (0, 0). */
enum { RASTRIGIN_A = 10 };
static const double two_pi = 6.283185307179586476925286766559;

static double rast_f(tf_pt p)
{
    return 2 * RASTRIGIN_A + p.x * p.x - RASTRIGIN_A * cos(two_pi * p.x)
                           + p.y * p.y - RASTRIGIN_A * cos(two_pi * p.y);
}

static void rast_g(tf_pt p, double g[2])
{
    g[0] = 2 * p.x + two_pi * RASTRIGIN_A * sin(two_pi * p.x);
    g[1] = 2 * p.y + two_pi * RASTRIGIN_A * sin(two_pi * p.y);
}

static void rast_h(tf_pt p, double h[3])
{
    h[0] = 2 + two_pi * two_pi * RASTRIGIN_A * cos(two_pi * p.x);
    h[1] = 0;
    h[2] = 2 + two_pi * two_pi * RASTRIGIN_A * cos(two_pi * p.y);
}

/* quadratic:a,b: f = (a x^2 + b y^2) / 2, H = diag(a, b); min 0 at the origin when
 * a, b > 0 (a saddle or maximum otherwise: that is allowed, probes want them). */
static double quad_f(tf_pt p)
{
    return 0.5 * (p.a * p.x * p.x + p.b * p.y * p.y);
}

static void quad_g(tf_pt p, double g[2])
{
    g[0] = p.a * p.x;
    g[1] = p.b * p.y;
}

static void quad_h(tf_pt p, double h[3])
{
    h[0] = p.a;
    h[1] = 0;
    h[2] = p.b;
}

/* Start points. Rosenbrock: the classic (-1.2, 1). Beale: (1, 1.5), away from its
 * saddle at (0, 1) (f is constant along x = 0). Himmelblau: (0, 0), g = (-14, -22),
 * between the four basins. Rastrigin: (2.2, -1.7), off the integer lattice of local
 * minima and the half-integer ridges, so GD visibly falls into a local basin.
 * Quadratic: (1, 1). */
const testfn_def testfn_rosenbrock = {
    rosen_f, rosen_g, rosen_h, {-1.2, 1}, {1, 1}, 1, 0, "(1-x)**2 + 100*(y-x**2)**2",
    "Rosenbrock  (1−x)² + 100(y−x²)²", {-2, 2, -1, 3}};
const testfn_def testfn_beale = {
    beale_f, beale_g, beale_h, {1, 1.5}, {3, 0.5}, 1, 0,
    "(1.5-x+x*y)**2 + (2.25-x+x*y**2)**2 + (2.625-x+x*y**3)**2", "Beale", {-4.5, 4.5, -4.5, 4.5}};
const testfn_def testfn_himmelblau = {
    himm_f, himm_g, himm_h, {0, 0}, {3, 2}, 0, 0, "(x**2+y-11)**2 + (x+y**2-7)**2",
    "Himmelblau  (x²+y−11)² + (x+y²−7)²", {-5, 5, -5, 5}};
const testfn_def testfn_rastrigin = {
    rast_f, rast_g, rast_h, {2.2, -1.7}, {0, 0}, 1, 0,
    "20 + x**2 - 10*cos(2*pi*x) + y**2 - 10*cos(2*pi*y)", "Rastrigin (A = 10)",
    {-5.12, 5.12, -5.12, 5.12}};
const testfn_def testfn_quadratic = {
    quad_f, quad_g, quad_h, {1, 1}, {0, 0}, 1, 2, "(A*x**2 + B*y**2)/2", "quadratic",
    {-1e3, 1e3, -1e3, 1e3}};

/* m->impl: the function and its parameters. */
typedef struct tf_state {
    const testfn_def *def;
    double a, b;
} tf_state;

/* Parse the d->nparam finite numbers of "name:p1,p2,..." (k->args names them) into c.
 * ERR_USAGE naming `kind` when any is missing, malformed, non-finite, or followed by
 * anything. */
static int tf_parse(const model_kind *k, const char *kind, double c[2], err *e)
{
    const testfn_def *d = k->def;
    const char *s = kind + strlen(k->name);
    int i = 0;
    for (; i < d->nparam; i++) {
        char *end;
        if (*s != (i ? ',' : ':'))
            break;
        c[i] = strtod(s + 1, &end);
        if (end == s + 1 || !isfinite(c[i]))
            break;
        s = end;
    }
    if (i < d->nparam || *s != '\0')
        return err_set(e, ERR_USAGE, "bad test function '%s': expected '%s:%s' with finite numbers",
                       kind, k->name, k->args);
    return 0;
}

static tf_pt tf_at(const model *m, const double *theta)
{
    const tf_state *s = m->impl;
    return (tf_pt){ theta[0], theta[1], s->a, s->b };
}

/* Stats of one evaluation: the batch is ignored, so a call is one "sample". */
static void tf_stats(model_stats *st, double loss)
{
    if (st)
        *st = (model_stats){ .loss = loss, .n = 1 };
}

static int tf_loss(model *m, const double *theta, batch b, model_stats *st, err *e)
{
    (void)b, (void)e;
    const tf_state *s = m->impl;
    tf_stats(st, s->def->f(tf_at(m, theta)));
    return 0;
}

static int tf_grad(model *m, const double *theta, batch b, double *g, model_stats *st, err *e)
{
    (void)b, (void)e;
    const tf_state *s = m->impl;
    tf_pt p = tf_at(m, theta);
    s->def->grad(p, g);
    tf_stats(st, s->def->f(p));
    return 0;
}

static int tf_jvp(model *m, const double *theta, const double *v, batch b, model_stats *st,
                  err *e)
{
    (void)b, (void)e;
    const tf_state *s = m->impl;
    tf_pt p = tf_at(m, theta);
    double g[2];
    s->def->grad(p, g);
    tf_stats(st, s->def->f(p));
    if (st)
        st->jvp = g[0] * v[0] + g[1] * v[1];
    return 0;
}

static int tf_hvp(model *m, const double *theta, const double *v, batch b, double *g,
                  double *hv, model_stats *st, err *e)
{
    (void)b, (void)e;
    const tf_state *s = m->impl;
    tf_pt p = tf_at(m, theta);
    double h[3];
    s->def->hess(p, h);
    hv[0] = h[0] * v[0] + h[1] * v[1];
    hv[1] = h[1] * v[0] + h[2] * v[1];
    if (g)
        s->def->grad(p, g);
    tf_stats(st, s->def->f(p));
    return 0;
}

static int tf_features(model *m, const double *theta, batch b, double *f, err *e)
{
    (void)theta, (void)b, (void)f;
    return err_set(e, ERR_USAGE, "%s: test functions have no features", m->kind);
}

/* theta = the function's fixed start point; the seed is ignored, so every run of a
 * test function starts at the same place on the contour map. */
static int tf_init(model *m, double *theta, uint64_t seed, err *e)
{
    (void)seed, (void)e;
    const tf_state *s = m->impl;
    theta[0] = s->def->start[0];
    theta[1] = s->def->start[1];
    return 0;
}

/* Frees only the state; model_free() frees the blocks and the model. */
static void tf_free(model *m)
{
    free(m->impl);
    m->impl = NULL;
}

static const model_vt tf_vt = {
    .loss = tf_loss, .grad = tf_grad, .jvp = tf_jvp, .hvp = tf_hvp,
    .features = tf_features, .init = tf_init, .free = tf_free,
};

/* Build the test function `kind` of row k: n = 2, one ROLE_WEIGHT block "xy" of shape
 * {2}, in_dim 0, out_dim 1, feat_dim 0. ERR_USAGE (message naming the string) for
 * malformed or non-finite quadratic parameters, or a kind longer than model.kind
 * holds; ERR_SYS when out of memory. On success *out is the caller's, freed with
 * model_free(); on failure *out is untouched. */
int testfn_new(const model_kind *k, const model_opts *o, model **out, err *e)
{
    const char *kind = o->kind;
    double c[2] = { 0, 0 };
    int rc = tf_parse(k, kind, c, e);
    if (rc)
        return rc;
    size_t len = strlen(kind), cap = sizeof ((model *)0)->kind;
    if (len >= cap)
        return err_set(e, ERR_USAGE, "test function '%s' is too long (at most %zu characters)",
                       kind, cap - 1);

    model *m = model_alloc(1, e);
    if (!m)
        return ERR_SYS;
    tf_state *s = err_malloc(e, sizeof *s);
    if (!s) {
        model_free(m);
        return ERR_SYS;
    }
    *s = (tf_state){ k->def, c[0], c[1] };
    m->vt = &tf_vt;
    m->impl = s;
    memcpy(m->kind, kind, len + 1);
    m->n = 2;
    m->blocks[0] = (model_block){ .name = "xy", .offset = 0, .size = 2, .ndim = 1,
                                  .shape = { 2 }, .role = ROLE_WEIGHT };
    m->in_dim = 0;
    m->out_dim = 1;
    m->feat_dim = 0;
    *out = m;
    return 0;
}

int testfn_info(const model_kind *k, const char *kind, model_fn *f, err *e)
{
    const testfn_def *d = k->def;
    double c[2] = {0, 0};
    int rc = tf_parse(k, kind, c, e);
    if (rc)
        return rc;
    *f = (model_fn){.has_min = d->has_min && (!d->nparam || (c[0] > 0 && c[1] > 0)), .min = {d->minimum[0], d->minimum[1]},
                    .start = {d->start[0], d->start[1]}};
    memcpy(f->win, d->win, sizeof f->win);
    size_t n = 0;
    for (const char *p = d->gp; *p && n + 32 < sizeof f->expr; p++)
        n += (size_t)(*p == 'A' || *p == 'B'
                          ? snprintf(f->expr + n, sizeof f->expr - n, "%.17g", c[*p - 'A'])
                          : snprintf(f->expr + n, sizeof f->expr - n, "%c", *p));
    if (d->nparam)
        snprintf(f->title, sizeof f->title, "%s  (%g x² + %g y²)/2", d->title, c[0], c[1]);
    else
        snprintf(f->title, sizeof f->title, "%s", d->title);
    return 0;
}
