/* test_conv.c -- the image ops (conv2d, max-pool, average-pool, global average pool,
 * group norm) against central finite differences and direct reference loops.
 *
 * Each case is a small graph that puts the op between parameters and a loss, on odd,
 * non-square images, with stride 2 and padding 1 among the cases, and with the op's
 * input both a data input (no tangent, no adjoint) and an activation that depends on
 * theta. For each graph: the gradient (every coordinate), the JVP and the HVP against
 * central differences, jvp = grad.v, the HVP's gradient = grad, and HVP symmetry.
 * Forward values are compared with direct loops written from PyTorch's definitions,
 * and the builders' shape errors are checked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ad.h"
#include "../core/pool.h"
#include "../models/data.h"
#include "../models/model.h"
#include "check.h"
#include "check_hvp.h"

#define ROWS 3
#define CLASSES 3
#define MAXP 2048       /* parameters per case */
#define MAXX 512        /* input columns per case */

typedef struct fixture {
    ad_graph *g;
    size_t n, off;      /* parameters; next free offset while building */
    int d;              /* input columns */
    double theta[MAXP], v[MAXP], u[MAXP];
    double x[ROWS * MAXX];
    int y[ROWS];
} fixture;

static double frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffff) / 65536.0;   /* [0, 1) */
}

/* A parameter block of rows x cols at the next offset. */
static int param(fixture *f, int rows, int cols)
{
    int p = ad_param(f->g, f->off, rows, cols);
    f->off += (size_t)rows * (size_t)cols;
    return p;
}

static int start(fixture *f, ad_img in)
{
    err e = {0};
    memset(f, 0, sizeof *f);
    f->g = ad_graph_new(ROWS, &e);
    f->d = in.c * in.h * in.w;
    return ad_input(f->g, f->d);
}

/* h -> dense (CLASSES) -> cross-entropy; plan; fill theta, v, u, x, y. */
static int finish(fixture *f, int h, int cols, unsigned seed, double scale)
{
    err e = {0};
    int z = ad_bias(f->g, ad_matmul_t(f->g, h, param(f, CLASSES, cols)), param(f, CLASSES, 1));
    int rc = ad_graph_plan(f->g, ad_loss_ce(f->g, z), &e);
    if (rc)
        printf("plan error: %s\n", e.msg);
    f->n = f->off;
    unsigned s = seed;
    for (size_t i = 0; i < f->n; i++) {
        f->theta[i] = scale * (2 * frand(&s) - 1) + 0.0173;
        f->v[i] = 2 * frand(&s) - 1 + 0.031;
        f->u[i] = 2 * frand(&s) - 1 - 0.047;
    }
    for (int i = 0; i < ROWS * f->d; i++)
        f->x[i] = 3 * frand(&s) - 1.37;
    for (int i = 0; i < ROWS; i++)
        f->y[i] = (int)(frand(&s) * CLASSES);
    return rc || f->n > MAXP || f->d > MAXX;
}

static ad_bind bind(fixture *f, const double *theta)
{
    return (ad_bind){.theta = theta, .x = f->x, .y = f->y, .rows = ROWS, .scale = 1.0 / ROWS};
}

static double loss_at(fixture *f, const double *theta)
{
    ad_sums s = {0};
    ad_bind b = bind(f, theta);
    ad_run(f->g, AD_MODE_LOSS, &b, &s, NULL);
    return s.loss;
}

static void grad_at(fixture *f, const double *theta, double *g)
{
    ad_sums s = {0};
    ad_bind b = bind(f, theta);
    b.g = g;
    memset(g, 0, f->n * sizeof *g);
    ad_run(f->g, AD_MODE_GRAD, &b, &s, NULL);
}

static void hvp_at(fixture *f, const double *v, double *g, double *hv)
{
    ad_sums s = {0};
    ad_bind b = bind(f, f->theta);
    b.v = v;
    b.g = g;
    b.hv = hv;
    memset(g, 0, f->n * sizeof *g);
    memset(hv, 0, f->n * sizeof *hv);
    ad_run(f->g, AD_MODE_HVP, &b, &s, NULL);
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* Largest relative error of `got` against `want` (floor 1e-3 on the scale). */
static double worst_rel(const double *got, const double *want, size_t n, size_t *at)
{
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs(got[i] - want[i]) / (fabs(got[i]) + fabs(want[i]) + 1e-3);
        if (r > w) {
            w = r;
            *at = i;
        }
    }
    return w;
}

/* theta + t v (v = NULL: the unit vector of coordinate i) */
static void step(const fixture *f, const double *v, size_t i, double t, double *out)
{
    memcpy(out, f->theta, f->n * sizeof *out);
    if (v)
        for (size_t k = 0; k < f->n; k++)
            out[k] += t * v[k];
    else
        out[i] += t;
}

/* Fourth-order central difference of the loss along v (or coordinate i):
 * (8 (L(h) - L(-h)) - (L(2h) - L(-2h))) / 12h, error O(h^4), so deep tanh stacks with
 * large third derivatives do not need a tolerance loosened for them. */
static double fd_loss(fixture *f, const double *v, size_t i, double h)
{
    static double t[MAXP];
    double l[4];
    const double at[4] = {h, -h, 2 * h, -2 * h};
    for (int k = 0; k < 4; k++) {
        step(f, v, i, at[k], t);
        l[k] = loss_at(f, t);
    }
    return (8 * (l[0] - l[1]) - (l[2] - l[3])) / (12 * h);
}

/* The same stencil on the gradient along v: a column of the Hessian, H v. */
static void fd_hv(fixture *f, const double *v, double h, double *out)
{
    static double t[MAXP], gk[4][MAXP];
    const double at[4] = {h, -h, 2 * h, -2 * h};
    for (int k = 0; k < 4; k++) {
        step(f, v, 0, at[k], t);
        grad_at(f, t, gk[k]);
    }
    for (size_t i = 0; i < f->n; i++)
        out[i] = (8 * (gk[0][i] - gk[1][i]) - (gk[2][i] - gk[3][i])) / (12 * h);
}

/* Every derivative check of one graph. */
static void check_graph(const char *name, fixture *f)
{
    static double g[MAXP], g2[MAXP], hv[MAXP], hu[MAXP], fd[MAXP];
    const double h = 1e-4, rtol = 1e-7;
    size_t n = f->n, at = 0;
    char label[160];

    grad_at(f, f->theta, g);
    for (size_t i = 0; i < n; i++)
        fd[i] = fd_loss(f, NULL, i, h);
    double w = worst_rel(g, fd, n, &at);
    snprintf(label, sizeof label, "%s: grad vs finite differences (%zu params)", name, n);
    CHECK(w < rtol, label, "worst relative error %.3g at theta[%zu]", w, at);

    double jfd = fd_loss(f, f->v, 0, h);
    ad_sums s = {0};
    ad_bind b = bind(f, f->theta);
    b.v = f->v;
    ad_run(f->g, AD_MODE_JVP, &b, &s, NULL);
    snprintf(label, sizeof label, "%s: jvp vs finite differences", name);
    check_close(label, s.jvp, jfd, rtol, 1e-9);
    snprintf(label, sizeof label, "%s: jvp = grad.v", name);
    check_close(label, s.jvp, dot(g, f->v, n), 1e-12, 1e-14);

    hvp_at(f, f->v, g2, hv);
    fd_hv(f, f->v, h, fd);
    w = worst_rel(hv, fd, n, &at);
    snprintf(label, sizeof label, "%s: hvp vs finite differences of grad", name);
    CHECK(w < rtol, label, "worst relative error %.3g at theta[%zu] (hv %.6g fd %.6g)", w, at,
          hv[at], fd[at]);
    double gd = 0;
    for (size_t i = 0; i < n; i++)
        gd = fmax(gd, fabs(g2[i] - g[i]));
    snprintf(label, sizeof label, "%s: hvp's gradient equals grad", name);
    CHECK(gd <= 1e-15 * (1 + sqrt(dot(g, g, n))), label, "max difference %.3g", gd);
    hvp_at(f, f->u, g2, hu);
    snprintf(label, sizeof label, "%s: hvp symmetry u.Hv = v.Hu", name);
    check_close(label, dot(f->u, hv, n), dot(f->v, hu, n), 1e-10, 1e-13);
}

/* conv with bias on the data, tanh, then the op under test via `op`. */
enum { OP_CONV, OP_CONV_NB, OP_MAX, OP_AVG, OP_GAP, OP_GN };

/* Apply op `k` to h (image `in`); returns the node and sets *out. */
static int apply(fixture *f, int k, int h, ad_img in, int kh, int kw, int stride, int pad,
                 ad_img *out)
{
    ad_graph *g = f->g;
    switch (k) {
    case OP_CONV:
    case OP_CONV_NB: {
        int co = 4;
        int w = param(f, co, in.c * kh * kw), b = k == OP_CONV ? param(f, co, 1) : -1;
        *out = ad_window_out(in, co, kh, kw, stride, pad);
        return ad_conv2d(g, h, in, w, b, kh, kw, stride, pad);
    }
    case OP_MAX:
        *out = ad_window_out(in, in.c, kh, kh, stride, pad);
        return ad_maxpool2d(g, h, in, kh, stride, pad);
    case OP_AVG:
        *out = ad_window_out(in, in.c, kh, kh, stride, pad);
        return ad_avgpool2d(g, h, in, kh, stride, pad);
    case OP_GAP:
        *out = (ad_img){in.c, 1, 1};
        return ad_gap(g, h, in);
    default: {
        int gm = param(f, in.c, 1), bt = param(f, in.c, 1);
        *out = in;
        return ad_groupnorm(g, h, in, gm, bt);
    }
    }
}

static const char *const op_names[] = {"conv2d", "conv2d(no bias)", "maxpool", "avgpool", "gap",
                                       "groupnorm"};

/* x (in) -> [conv 3x3 pad 1 + tanh, when `deep`] -> OP -> tanh -> dense -> CE */
static void case_op(int k, ad_img in, int kh, int kw, int stride, int pad, int deep, unsigned seed)
{
    fixture *f = malloc(sizeof *f);
    char name[128];
    ad_img cur = in, out;
    int h = start(f, in);
    if (deep) {
        h = ad_act(f->g, apply(f, OP_CONV, h, in, 3, 3, 1, 1, &cur), AD_ACT_TANH, 0);
    }
    h = apply(f, k, h, cur, kh, kw, stride, pad, &out);
    h = ad_act(f->g, h, AD_ACT_TANH, 0);
    snprintf(name, sizeof name, "%s %dx%dx%d k%dx%d s%d p%d on %s", op_names[k], cur.c, cur.h,
             cur.w, kh, kw, stride, pad, deep ? "activations" : "data");
    int rc = finish(f, h, out.c * out.h * out.w, seed, 0.6);
    CHECK(rc == 0, name, "building failed");
    if (!rc)
        check_graph(name, f);
    ad_graph_free(f->g);
    free(f);
}

/* A residual block as resnet builds it: h + GN(conv(relu(GN(conv(h))))) with softplus. */
static void case_block(unsigned seed)
{
    fixture *f = malloc(sizeof *f);
    ad_img in = {3, 5, 7}, o;
    int h = start(f, in);
    h = ad_act(f->g, apply(f, OP_CONV_NB, h, in, 3, 3, 2, 1, &in), AD_ACT_SOFTPLUS, 0);
    int r = apply(f, OP_CONV_NB, h, in, 3, 3, 1, 1, &o);
    r = ad_act(f->g, apply(f, OP_GN, r, o, 0, 0, 0, 0, &o), AD_ACT_SOFTPLUS, 0);
    r = apply(f, OP_GN, apply(f, OP_CONV_NB, r, o, 3, 3, 1, 1, &o), o, 0, 0, 0, 0, &o);
    h = ad_act(f->g, ad_add(f->g, h, r), AD_ACT_SOFTPLUS, 0);
    h = ad_gap(f->g, h, o);
    int rc = finish(f, h, o.c, seed, 0.7);
    CHECK(rc == 0, "residual block", "building failed");
    if (!rc)
        check_graph("residual block conv-gn-act-conv-gn + skip, gap", f);
    ad_graph_free(f->g);
    free(f);
}

/* --- forward values against direct loops --- */

/* Geometry of the forward-value graph: conv 2x7x5 -> 3 channels, kernel 3x2, stride
 * 2, pad 1, bias; pools k3 s2 p1; gap; group norm; all on the data. */
static const ad_img FIN = {2, 7, 5};
enum { FCO = 3, FKH = 3, FKW = 2 };

/* x -> {conv, maxpool, avgpool, gap, groupnorm}; groupnorm -> dense -> CE. Node k of
 * the five is the feature node, so a feature run returns its rows. */
static int build_forward(fixture *f, int k, unsigned seed)
{
    int x = start(f, FIN), isz = f->d;
    int w = param(f, FCO, FIN.c * FKH * FKW), b = param(f, FCO, 1);
    int nodes[5];
    nodes[0] = ad_conv2d(f->g, x, FIN, w, b, FKH, FKW, 2, 1);
    nodes[1] = ad_maxpool2d(f->g, x, FIN, 3, 2, 1);
    nodes[2] = ad_avgpool2d(f->g, x, FIN, 3, 2, 1);
    nodes[3] = ad_gap(f->g, x, FIN);
    int gm = param(f, FIN.c, 1);
    nodes[4] = ad_groupnorm(f->g, x, FIN, gm, param(f, FIN.c, 1));
    ad_set_features(f->g, nodes[k]);
    return finish(f, nodes[4], isz, seed, 0.8);
}

static void forward_values(void)
{
    ad_img o = ad_window_out(FIN, FCO, FKH, FKW, 2, 1), po = ad_window_out(FIN, FIN.c, 3, 3, 2, 1);
    CHECK(o.c == FCO && o.h == 4 && o.w == 3 && po.h == 4 && po.w == 3,
          "window geometry (floor mode)", "conv %dx%d pool %dx%d", o.h, o.w, po.h, po.w);
    int osz = o.c * o.h * o.w, psz = po.c * po.h * po.w, isz = FIN.c * FIN.h * FIN.w;
    static double got[5][ROWS * MAXX];
    fixture *f = malloc(sizeof *f);
    for (int k = 0; k < 5; k++) {
        int rc = build_forward(f, k, 77);
        ad_sums sm = {0};
        ad_bind bd = bind(f, f->theta);
        bd.feat = got[k];
        rc = rc || ad_run(f->g, AD_MODE_LOSS, &bd, &sm, NULL);
        CHECK(rc == 0, "forward-value graph runs", "feature node %d", k);
        ad_graph_free(f->g);
    }
    /* the fixture keeps the last build's theta and x, the same for every k */
    const double *th = f->theta;
    size_t goff = (size_t)(FCO * FIN.c * FKH * FKW + FCO);
    double worst[5] = {0};
    ad_img in = FIN;
    for (int r = 0; r < ROWS; r++) {
        const double *xr = f->x + r * isz;
        for (int c = 0; c < FCO; c++)
            for (int i = 0; i < o.h; i++)
                for (int j = 0; j < o.w; j++) {
                    double acc = th[FCO * in.c * FKH * FKW + c];
                    for (int ci = 0; ci < in.c; ci++)
                        for (int a = 0; a < FKH; a++)
                            for (int bq = 0; bq < FKW; bq++) {
                                int ih = i * 2 - 1 + a, iw = j * 2 - 1 + bq;
                                if (ih >= 0 && ih < in.h && iw >= 0 && iw < in.w)
                                    acc += th[((c * in.c + ci) * FKH + a) * FKW + bq]
                                         * xr[(ci * in.h + ih) * in.w + iw];
                            }
                    worst[0] = fmax(worst[0], fabs(acc - got[0][r * osz + (c * o.h + i) * o.w + j]));
                }
        for (int c = 0; c < in.c; c++) {
            double mean = 0;
            for (int i = 0; i < po.h; i++)
                for (int j = 0; j < po.w; j++) {
                    double mx = -INFINITY, sum = 0;
                    for (int a = 0; a < 3; a++)
                        for (int bq = 0; bq < 3; bq++) {
                            int ih = i * 2 - 1 + a, iw = j * 2 - 1 + bq;
                            if (ih >= 0 && ih < in.h && iw >= 0 && iw < in.w) {
                                mx = fmax(mx, xr[(c * in.h + ih) * in.w + iw]);
                                sum += xr[(c * in.h + ih) * in.w + iw];
                            }
                        }
                    int oi = r * psz + (c * po.h + i) * po.w + j;
                    worst[1] = fmax(worst[1], fabs(mx - got[1][oi]));
                    worst[2] = fmax(worst[2], fabs(sum / 9 - got[2][oi]));
                }
            for (int i = 0; i < in.h * in.w; i++)
                mean += xr[c * in.h * in.w + i] / (in.h * in.w);
            worst[3] = fmax(worst[3], fabs(mean - got[3][r * in.c + c]));
        }
        double mu = 0, var = 0;
        for (int i = 0; i < isz; i++)
            mu += xr[i] / isz;
        for (int i = 0; i < isz; i++)
            var += (xr[i] - mu) * (xr[i] - mu) / isz;
        for (int i = 0; i < isz; i++) {
            int c = i / (in.h * in.w);
            double want = th[goff + (size_t)c] * (xr[i] - mu) / sqrt(var + 1e-5)
                        + th[goff + (size_t)in.c + (size_t)c];
            worst[4] = fmax(worst[4], fabs(want - got[4][r * isz + i]));
        }
    }
    const char *what[5] = {"conv2d forward equals direct summation (k3x2 s2 p1, bias)",
                           "maxpool forward equals direct maxima (k3 s2 p1)",
                           "avgpool forward divides by k*k, padding included (k3 s2 p1)",
                           "gap forward equals channel means",
                           "groupnorm forward equals (x-mean)/sqrt(var+1e-5)*gamma+beta"};
    for (int k = 0; k < 5; k++)
        CHECK(worst[k] < 1e-13, what[k], "max abs diff %.3g", worst[k]);
    free(f);
}

/* Max-pool ties: the first maximum in window order wins, as in PyTorch. The pool's
 * input is x + b with b = 0, so the gradient of b shows which element was chosen. */
static void maxpool_ties(void)
{
    err e = {0};
    ad_graph *g = ad_graph_new(1, &e);
    int h = ad_bias(g, ad_input(g, 4), ad_param(g, 0, 4, 1));
    int m = ad_maxpool2d(g, h, (ad_img){1, 2, 2}, 2, 2, 0);
    int z = ad_matmul_t(g, m, ad_param(g, 4, 2, 1));
    int rc = ad_graph_plan(g, ad_loss_ce(g, z), &e);
    double xv[4] = {0.5, 2, 2, 2}, th[6] = {0, 0, 0, 0, 1, -1}, gr[6] = {0};
    int y = 0;
    ad_sums s = {0};
    ad_bind b = {.theta = th, .x = xv, .y = &y, .rows = 1, .scale = 1, .g = gr};
    rc = rc || ad_run(g, AD_MODE_GRAD, &b, &s, &e);
    CHECK(rc == 0 && gr[0] == 0 && gr[1] != 0 && gr[2] == 0 && gr[3] == 0,
          "maxpool ties: the first maximum takes the gradient", "grad of b %g %g %g %g",
          gr[0], gr[1], gr[2], gr[3]);
    ad_graph_free(g);
}

static void builder_errors(void)
{
    err e = {0};
    ad_graph *g = ad_graph_new(2, &e);
    int x = ad_input(g, 2 * 5 * 5);
    int bad = ad_conv2d(g, x, (ad_img){2, 5, 4}, ad_param(g, 0, 3, 18), -1, 3, 3, 1, 0);
    int rc = ad_graph_plan(g, bad, &e);
    CHECK(bad < 0 && rc == ERR_USAGE && strstr(e.msg, "conv2d"),
          "conv2d: image geometry not matching the row is a usage error", "rc %d '%s'", rc, e.msg);
    ad_graph_free(g);
    g = ad_graph_new(2, &e);
    x = ad_input(g, 2 * 5 * 5);
    bad = ad_conv2d(g, x, (ad_img){2, 5, 5}, ad_param(g, 0, 3, 2 * 7 * 7), -1, 7, 7, 1, 0);
    rc = ad_graph_plan(g, bad, &e);
    CHECK(bad < 0 && rc == ERR_USAGE, "conv2d: kernel larger than the padded image is a usage error",
          "rc %d '%s'", rc, e.msg);
    ad_graph_free(g);
    g = ad_graph_new(2, &e);
    x = ad_input(g, 2 * 5 * 5);
    bad = ad_maxpool2d(g, x, (ad_img){2, 5, 5}, 2, 2, 2);
    rc = ad_graph_plan(g, bad, &e);
    CHECK(bad < 0 && rc == ERR_USAGE && strstr(e.msg, "pool"),
          "maxpool: padding over half the window is a usage error", "rc %d '%s'", rc, e.msg);
    ad_graph_free(g);
}

/* --- the models "cnn" and "resnet" --- */

#define MS 7            /* samples: with chunk 3, three uneven chunks */

static double mx[MS * 2 * 9 * 13];
static int my[MS];

static model *conv_model(const char *kind, ad_img in, int act, int skip, int blocks, size_t chunk)
{
    model_opts o;
    model_opts_default(&o);
    o.kind = kind;
    o.in_c = in.c;
    o.in_h = in.h;
    o.in_w = in.w;
    o.in_dim = in.c * in.h * in.w;
    o.out_dim = CLASSES;
    o.act = act;
    o.chunk = chunk;
    o.channels[0] = 2;
    o.channels[1] = 3;
    o.hidden[0] = 4;
    o.nhidden = 1;
    o.width = 3;
    o.blocks = blocks;
    o.skip = skip;
    model *m = NULL;
    err e = {0};
    if (model_new(&o, &m, &e))
        printf("model_new(%s): %s\n", kind, e.msg);
    return m;
}

static double mloss(model *m, const double *th, batch b)
{
    model_stats st = {0};
    model_loss(m, th, b, &st, NULL);
    return st.loss;
}

/* Random-direction checks of a model: the directional derivative and H v against
 * fourth-order differences along v with step h, jvp = grad.v, H v symmetry. h = 0
 * skips the differences: for ReLU models, where a step of any useful size carries
 * some unit across its kink (the ReLU rules themselves are checked in test_ad). */
static void model_checks(const char *name, model *m, batch b, unsigned seed, double h)
{
    size_t n = m->n;
    double *th = malloc(n * sizeof *th), *v = malloc(n * sizeof *v), *u = malloc(n * sizeof *u);
    double *g = malloc(n * sizeof *g), *hv = malloc(n * sizeof *hv), *hu = malloc(n * sizeof *hu);
    double *t = malloc(n * sizeof *t), *fd = calloc(n, sizeof *fd), *gk = malloc(n * sizeof *gk);
    char label[160];
    unsigned s = seed;
    model_init(m, th, seed, NULL);
    for (size_t i = 0; i < n; i++) {
        th[i] += 0.2 * (frand(&s) - 0.5);     /* norm weights off 1, biases off 0 */
        v[i] = frand(&s) - 0.47;
        u[i] = frand(&s) - 0.53;
    }
    const double at[4] = {h, -h, 2 * h, -2 * h}, wt[4] = {8, -8, -1, 1};
    double dfd = 0;
    for (int k = 0; k < 4 && h > 0; k++) {
        for (size_t i = 0; i < n; i++)
            t[i] = th[i] + at[k] * v[i];
        dfd += wt[k] * mloss(m, t, b) / (12 * h);
        model_grad(m, t, b, gk, NULL, NULL);
        for (size_t i = 0; i < n; i++)
            fd[i] += wt[k] * gk[i] / (12 * h);
    }
    model_stats st = {0};
    model_grad(m, th, b, g, &st, NULL);
    snprintf(label, sizeof label, "%s: directional derivative (%zu params)", name, n);
    if (h > 0)
        check_close(label, dot(g, v, n), dfd, 1e-8, 1e-11);
    model_jvp(m, th, v, b, &st, NULL);
    snprintf(label, sizeof label, "%s: jvp = grad.v", name);
    check_close(label, st.jvp, dot(g, v, n), 1e-12, 1e-15);
    model_hvp(m, th, v, b, NULL, hv, NULL, NULL);
    size_t wi = 0;
    double w = worst_rel(hv, fd, n, &wi);
    snprintf(label, sizeof label, "%s: hvp vs differences of grad", name);
    if (h > 0)
        CHECK(w < 1e-7, label, "worst relative error %.3g at theta[%zu]", w, wi);
    model_hvp(m, th, u, b, NULL, hu, NULL, NULL);
    snprintf(label, sizeof label, "%s: hvp symmetry", name);
    check_close(label, dot(u, hv, n), dot(v, hu, n), 1e-10, 1e-13);
    check_hvp_variants(name, m, th, v, u, b, g, hv);
    free(th); free(v); free(u); free(g); free(hv); free(hu); free(t); free(fd); free(gk);
}

static void model_derivatives(int T)
{
    ad_img ci = {1, 13, 12}, ri = {2, 9, 7};
    batch b = {mx, my, NULL, MS};
    char name[128];
    static const int acts[] = {AD_ACT_RELU, AD_ACT_TANH, AD_ACT_GELU};
    for (int a = 0; a < 3; a++) {
        model *m = conv_model("cnn", ci, acts[a], 1, 0, 3);
        snprintf(name, sizeof name, "cnn 1x13x12 %s T=%d", ad_act_name(acts[a]), T);
        if (m)
            model_checks(name, m, b, 31u + (unsigned)a, acts[a] == AD_ACT_RELU ? 0 : 1e-4);
        model_free(m);
        for (int skip = 1; skip >= 0; skip--) {
            m = conv_model("resnet", ri, acts[a], skip, 2, 3);
            snprintf(name, sizeof name, "resnet 2x9x7 w3 b2 skip %s %s T=%d", skip ? "on" : "off",
                     ad_act_name(acts[a]), T);
            if (m)
                model_checks(name, m, b, 41u + (unsigned)(a + 3 * skip),
                             acts[a] == AD_ACT_RELU ? 0 : 1e-4);
            model_free(m);
        }
    }
}

/* Block table: PyTorch names, shapes, offsets, roles; n is their total. */
static int layout_is(const model *m, const char *const *names, const int (*shapes)[5], int k)
{
    size_t off = 0;
    if (m->nblocks != k)
        return 0;
    for (int i = 0; i < k; i++) {
        const model_block *b = &m->blocks[i];
        size_t size = 1;
        for (int d = 0; d < shapes[i][0]; d++)
            size *= (size_t)shapes[i][1 + d];
        if (strcmp(b->name, names[i]) != 0 || b->offset != off || b->size != size
            || b->ndim != shapes[i][0] || memcmp(b->shape, shapes[i] + 1, (size_t)b->ndim * sizeof(int)))
            return 0;
        off += size;
    }
    return off == m->n;
}

static model *default_model(const char *kind)
{
    model_opts o;
    model_opts_default(&o);
    o.kind = kind;
    o.in_dim = 784;
    o.out_dim = 10;
    model *m = NULL;
    err e = {0};
    if (model_new(&o, &m, &e))
        printf("model_new(%s): %s\n", kind, e.msg);
    return m;
}

static void layouts_and_init(void)
{
    model *c = default_model("cnn"), *r = default_model("resnet");
    static const char *const cn[] = {"0.weight", "0.bias", "3.weight", "3.bias", "7.weight",
                                     "7.bias", "9.weight", "9.bias", "11.weight", "11.bias"};
    static const int cs[][5] = {{4, 6, 1, 5, 5}, {1, 6}, {4, 16, 6, 5, 5}, {1, 16}, {2, 256, 400},
                                {1, 256}, {2, 256, 256}, {1, 256}, {2, 10, 256}, {1, 10}};
    CHECK(c && layout_is(c, cn, cs, 10) && c->feat_dim == 256 && c->blocks[0].role == ROLE_WEIGHT
              && c->blocks[1].role == ROLE_BIAS,
          "cnn 28x28 layout is the nn.Sequential's named_parameters()", "n %zu", c ? c->n : 0);
    const char *rn[3 + 6 * 9 + 2];
    int rs[3 + 6 * 9 + 2][5];
    static char names[6 * 9][48];
    int k = 0;
    rn[k] = "conv.weight";
    memcpy(rs[k++], (int[5]){4, 16, 1, 3, 3}, sizeof rs[0]);
    rn[k] = "norm.weight";
    memcpy(rs[k++], (int[5]){1, 16}, sizeof rs[0]);
    rn[k] = "norm.bias";
    memcpy(rs[k++], (int[5]){1, 16}, sizeof rs[0]);
    for (int l = 0; l < 9; l++)
        for (int j = 1; j <= 2; j++) {
            const char *sfx[3] = {"conv%d.weight", "norm%d.weight", "norm%d.bias"};
            for (int q = 0; q < 3; q++) {
                char fmt[48];
                snprintf(fmt, sizeof fmt, "blocks.%%d.%s", sfx[q]);
                snprintf(names[k - 3], sizeof names[0], fmt, l, j);
                rn[k] = names[k - 3];
                if (q == 0)
                    memcpy(rs[k++], (int[5]){4, 16, 16, 3, 3}, sizeof rs[0]);
                else
                    memcpy(rs[k++], (int[5]){1, 16}, sizeof rs[0]);
            }
        }
    rn[k] = "head.weight";
    memcpy(rs[k++], (int[5]){2, 10, 16}, sizeof rs[0]);
    rn[k] = "head.bias";
    memcpy(rs[k++], (int[5]){1, 10}, sizeof rs[0]);
    CHECK(r && layout_is(r, rn, (const int (*)[5])rs, k) && r->feat_dim == 16,
          "resnet 28x28 width 16, 9 blocks: layout of the PyTorch module", "n %zu", r ? r->n : 0);
    int roles = r != NULL;
    for (int i = 0; r && i < r->nblocks; i++) {
        const model_block *b = &r->blocks[i];
        int conv = strstr(b->name, "conv") != NULL, nrm = strstr(b->name, "norm") != NULL;
        roles &= conv ? b->role == ROLE_WEIGHT && b->ndim == 4 : nrm ? b->role == ROLE_NORM : 1;
    }
    CHECK(roles, "resnet: conv weights ROLE_WEIGHT with ndim 4 (a row per filter), norms ROLE_NORM", "no");
    if (!c || !r) {
        model_free(c);
        model_free(r);
        return;
    }
    double *t = malloc(r->n * sizeof *t), *t2 = malloc(r->n * sizeof *t2);
    model_init(r, t, 5, NULL);
    model_init(r, t2, 5, NULL);
    int norms = 1;
    for (int i = 0; i < r->nblocks; i++) {
        const model_block *b = &r->blocks[i];
        for (size_t j = 0; b->role == ROLE_NORM && j < b->size; j++)
            norms &= t[b->offset + j] == (strstr(b->name, "weight") ? 1.0 : 0.0);
    }
    CHECK(norms, "resnet init: norm weights 1, norm biases 0", "no");
    CHECK(memcmp(t, t2, r->n * sizeof *t) == 0, "resnet init: same seed, same theta", "differs");
    const model_block *bw = &r->blocks[3];     /* blocks.0.conv1.weight, fan_in 144 */
    double mxv = 0, s2 = 0, bound = 1 / sqrt(144.0);
    for (size_t j = 0; j < bw->size; j++) {
        mxv = fmax(mxv, fabs(t[bw->offset + j]));
        s2 += t[bw->offset + j] * t[bw->offset + j];
    }
    CHECK(mxv <= bound && mxv > 0.98 * bound, "resnet init: conv weight within 1/sqrt(in*kh*kw)",
          "max %g bound %g", mxv, bound);
    check_close("resnet init: conv weight variance = bound^2/3", s2 / (double)bw->size,
                bound * bound / 3, 0.05, 0);
    free(t);
    t = malloc(c->n * sizeof *t);
    model_init(c, t, 5, NULL);
    mxv = 0;
    for (size_t j = 0; j < c->blocks[3].size; j++)        /* 3.bias: fan_in 6*5*5 */
        mxv = fmax(mxv, fabs(t[c->blocks[3].offset + j]));
    CHECK(mxv <= 1 / sqrt(150.0) && mxv > 0, "cnn init: conv bias within 1/sqrt(in*kh*kw)",
          "max %g", mxv);
    free(t);
    free(t2);
    model_free(c);
    model_free(r);
}

/* features: the input of the last linear layer, so loss = CE(features W^T + b) */
static void features_check(const char *kind, batch b)
{
    model *m = conv_model(kind, strcmp(kind, "cnn") ? (ad_img){2, 9, 7} : (ad_img){1, 13, 12},
                          AD_ACT_GELU, 1, 2, 3);
    size_t n = m->n;
    int F = m->feat_dim;
    double *th = malloc(n * sizeof *th), *f = malloc(MS * (size_t)F * sizeof *f), loss = 0;
    model_init(m, th, 3, NULL);
    int rc = model_features(m, th, b, f, NULL);
    const model_block *W = &m->blocks[m->nblocks - 2], *B = &m->blocks[m->nblocks - 1];
    for (int i = 0; i < MS; i++) {
        double z[CLASSES], mz = -1e300, se = 0;
        for (int o = 0; o < CLASSES; o++) {
            z[o] = th[B->offset + (size_t)o];
            for (int j = 0; j < F; j++)
                z[o] += f[i * F + j] * th[W->offset + (size_t)(o * F + j)];
            mz = fmax(mz, z[o]);
        }
        for (int o = 0; o < CLASSES; o++)
            se += exp(z[o] - mz);
        loss += (mz + log(se) - z[my[i]]) / MS;
    }
    char label[96];
    snprintf(label, sizeof label, "%s features: the loss recomputed from them", kind);
    CHECK(rc == 0, label, "rc %d", rc);
    check_close(label, loss, mloss(m, th, b), 1e-13, 0);
    free(th);
    free(f);
    model_free(m);
}

/* --skip off removes exactly the identity paths. With the identity activation every
 * block is linear in its residual branch r, and GAP is linear, so for any theta
 *   features(skip on) = features(0 blocks) + features(skip off)       (one block)
 * and with every block's norm2 zeroed (r = 0) and ReLU, skip on is the 0-block
 * network and skip off maps everything to relu(0) = 0. */
static void skip_paths(batch b)
{
    ad_img in = {2, 9, 7};
    model *on = conv_model("resnet", in, AD_ACT_IDENTITY, 1, 1, 3);
    model *off = conv_model("resnet", in, AD_ACT_IDENTITY, 0, 1, 3);
    model *none = conv_model("resnet", in, AD_ACT_IDENTITY, 1, 0, 3);
    size_t n = on->n, n0 = none->n, F = (size_t)on->feat_dim;
    int same = off->n == n && off->nblocks == on->nblocks;
    for (int k = 0; same && k < on->nblocks; k++)
        same = strcmp(on->blocks[k].name, off->blocks[k].name) == 0
            && on->blocks[k].offset == off->blocks[k].offset;
    CHECK(same, "resnet --skip off: the same parameter layout", "differs");
    double *th = malloc(n * sizeof *th), *th0 = malloc(n0 * sizeof *th0);
    double fon[MS * 3], foff[MS * 3], f0[MS * 3];
    unsigned s = 99;
    for (size_t i = 0; i < n; i++)
        th[i] = frand(&s) - 0.45;
    /* the 0-block net: stem (conv, norm) and head, the first 3 and last 2 blocks */
    size_t stem = on->blocks[3].offset, head = on->blocks[on->nblocks - 2].offset;
    memcpy(th0, th, stem * sizeof *th);
    memcpy(th0 + stem, th + head, (n - head) * sizeof *th);
    model_features(on, th, b, fon, NULL);
    model_features(off, th, b, foff, NULL);
    model_features(none, th0, b, f0, NULL);
    double d = 0, scale = 0, dd = 0;
    for (size_t i = 0; i < MS * F; i++) {
        d = fmax(d, fabs(fon[i] - f0[i] - foff[i]));
        dd = fmax(dd, fabs(fon[i] - foff[i]));
        scale = fmax(scale, fabs(fon[i]));
    }
    CHECK(d <= 1e-13 * scale && dd > 1e-3 * scale,
          "resnet skip on = identity path + skip off (identity activation, any theta)",
          "max deviation %.3g (scale %.3g; on-off %.3g)", d, scale, dd);
    model_free(on);
    model_free(off);
    model_free(none);

    on = conv_model("resnet", in, AD_ACT_RELU, 1, 2, 3);
    off = conv_model("resnet", in, AD_ACT_RELU, 0, 2, 3);
    none = conv_model("resnet", in, AD_ACT_RELU, 1, 0, 3);
    th = realloc(th, on->n * sizeof *th);
    model_init(on, th, 17, NULL);
    for (int k = 0; k < on->nblocks; k++)
        if (strstr(on->blocks[k].name, "norm2"))
            memset(th + on->blocks[k].offset, 0, on->blocks[k].size * sizeof *th);
    stem = on->blocks[3].offset;
    head = on->blocks[on->nblocks - 2].offset;
    memcpy(th0, th, stem * sizeof *th);
    memcpy(th0 + stem, th + head, (on->n - head) * sizeof *th);
    model_features(on, th, b, fon, NULL);
    model_features(off, th, b, foff, NULL);
    model_features(none, th0, b, f0, NULL);
    d = dd = 0;
    for (size_t i = 0; i < MS * F; i++) {
        d = fmax(d, fabs(fon[i] - f0[i]));
        dd = fmax(dd, fabs(foff[i]));
    }
    CHECK(d == 0, "resnet, zero residual branches, skip on: the blocks are identities", "max diff %.3g", d);
    CHECK(dd == 0, "resnet, zero residual branches, skip off: nothing passes", "max |f| %.3g", dd);
    free(th);
    free(th0);
    model_free(on);
    model_free(off);
    model_free(none);
}

/* Gradients at T threads, against those at one thread (stored on the first call). */
static void thread_invariance(batch b, int T)
{
    static double g1[2][4096];
    const char *kinds[2] = {"cnn", "resnet"};
    for (int k = 0; k < 2; k++) {
        model *m = conv_model(kinds[k], k ? (ad_img){2, 9, 7} : (ad_img){1, 13, 12}, AD_ACT_RELU, 1, 2, 2);
        double *th = malloc(m->n * sizeof *th), *g = malloc(m->n * sizeof *g);
        model_init(m, th, 11, NULL);
        model_grad(m, th, b, g, NULL, NULL);
        if (T == 1)
            memcpy(g1[k], g, m->n * sizeof *g);
        else {
            double d = 0, sc = 0;
            for (size_t i = 0; i < m->n; i++) {
                d = fmax(d, fabs(g[i] - g1[k][i]));
                sc = fmax(sc, fabs(g1[k][i]));
            }
            char label[96];
            snprintf(label, sizeof label, "%s: %d threads agree with one", kinds[k], T);
            CHECK(d <= 1e-14 * sc, label, "max diff %.3g (scale %.3g)", d, sc);
        }
        free(th);
        free(g);
        model_free(m);
    }
}

/* Full-batch gradient descent with momentum; returns the loss after `steps` steps and
 * sets *first to the initial loss. */
static double descend(model *m, batch b, double lr, int steps, double *first)
{
    size_t n = m->n;
    double *th = malloc(n * sizeof *th), *g = malloc(n * sizeof *g), *mom = calloc(n, sizeof *mom);
    model_init(m, th, 1, NULL);
    *first = mloss(m, th, b);
    for (int s = 0; s < steps; s++) {
        model_grad(m, th, b, g, NULL, NULL);
        for (size_t i = 0; i < n; i++) {
            mom[i] = 0.9 * mom[i] + g[i];
            th[i] -= lr * mom[i];
        }
    }
    double last = mloss(m, th, b);
    free(th);
    free(g);
    free(mom);
    return last;
}

/* resnet trains with and without skips: a 4-class image task (a bright 3x3 patch in
 * one quadrant of a noisy 12x12 image), loss must fall to under half its start. */
static void resnet_trains(void)
{
    enum { NT = 64, SIDE = 12 };
    static double x[NT * SIDE * SIDE];
    static int y[NT];
    unsigned s = 2024;
    for (int i = 0; i < NT; i++) {
        y[i] = i % 4;
        double *im = x + i * SIDE * SIDE;
        for (int p = 0; p < SIDE * SIDE; p++)
            im[p] = 0.3 * (frand(&s) - 0.5);
        int r0 = (y[i] / 2) * 6 + (int)(frand(&s) * 3), c0 = (y[i] % 2) * 6 + (int)(frand(&s) * 3);
        for (int a = 0; a < 3; a++)
            for (int c = 0; c < 3; c++)
                im[(r0 + a) * SIDE + c0 + c] += 1;
    }
    batch b = {x, y, NULL, NT};
    for (int skip = 1; skip >= 0; skip--) {
        model_opts o;
        model_opts_default(&o);
        o.kind = "resnet";
        o.in_dim = SIDE * SIDE;
        o.out_dim = 4;
        o.width = 4;
        o.blocks = 3;
        o.skip = skip;
        model *m = NULL;
        model_new(&o, &m, NULL);
        double first, last = descend(m, b, 0.1, 60, &first);
        char label[96];
        snprintf(label, sizeof label, "resnet width 4, 3 blocks, skip %s trains (60 GD steps)",
                 skip ? "on" : "off");
        CHECK(last < 0.5 * first, label, "loss %.4g -> %.4g", first, last);
        model_free(m);
    }
}

/* Mini-batch SGD (momentum 0.9, sequential batches) for `epochs`; returns the test
 * accuracy. */
static double sgd_accuracy(model *m, const data *tr, const data *te, double lr, size_t bs, int epochs)
{
    size_t n = m->n;
    double *th = malloc(n * sizeof *th), *g = malloc(n * sizeof *g), *mom = calloc(n, sizeof *mom);
    model_init(m, th, 1, NULL);
    for (int ep = 0; ep < epochs; ep++)
        for (size_t i = 0; i < tr->n; i += bs) {
            size_t k = tr->n - i < bs ? tr->n - i : bs;
            batch b = {tr->x + i * (size_t)tr->d, tr->y + i, NULL, k};
            model_grad(m, th, b, g, NULL, NULL);
            for (size_t j = 0; j < n; j++) {
                mom[j] = 0.9 * mom[j] + g[j];
                th[j] -= lr * mom[j];
            }
        }
    model_stats st = {0};
    model_loss(m, th, (batch){te->x, te->y, NULL, te->n}, &st, NULL);
    free(th);
    free(g);
    free(mom);
    return st.correct / (double)te->n;
}

/* The small version of the Fashion-MNIST comparison (the full one, 10k samples and 10
 * epochs through the CLI, is `make test-conv-train`): 1,000 training images, the same
 * SGD for both (lr 0.02, momentum 0.9, batch 32), 10 epochs; the default cnn's test
 * accuracy on 1,000 test images must beat the default MLP's (256,256). */
static void cnn_beats_mlp(void)
{
    data_opts d;
    data_opts_default(&d);
    d.samples = 1000;
    data *tr = NULL, *te = NULL;
    err e = {0};
    int rc = data_load(&d, &tr, &e);
    d.split = DATA_TEST;
    d.samples = 1000;
    if (!rc)
        rc = data_load(&d, &te, &e);
    CHECK(rc == 0, "fashion-mnist loads (1000 train, 1000 test)", "%s", e.msg);
    if (rc) {
        data_free(tr);
        return;
    }
    double acc[2];
    const char *kinds[2] = {"cnn", "mlp"};
    for (int k = 0; k < 2; k++) {
        model_opts o;
        model_opts_default(&o);
        o.kind = kinds[k];
        o.in_dim = tr->d;
        o.out_dim = tr->classes;
        model *m = NULL;
        model_new(&o, &m, &e);
        acc[k] = sgd_accuracy(m, tr, te, 0.02, 32, 10);
        model_free(m);
    }
    char label[128];
    snprintf(label, sizeof label, "fashion-mnist 1k, 10 epochs of SGD: cnn beats the mlp on the "
             "test split (%.4f vs %.4f)", acc[0], acc[1]);
    CHECK(acc[0] > acc[1], label, "cnn %.4f, mlp %.4f", acc[0], acc[1]);
    data_free(tr);
    data_free(te);
}

int main(void)
{
    ad_img odd = {2, 7, 5};
    unsigned seed = 101;
    for (int deep = 0; deep <= 1; deep++) {
        case_op(OP_CONV, odd, 3, 3, 1, 1, deep, seed++);
        case_op(OP_CONV, odd, 3, 2, 2, 1, deep, seed++);
        case_op(OP_CONV_NB, odd, 2, 3, 2, 0, deep, seed++);
        case_op(OP_CONV, odd, 1, 1, 1, 0, deep, seed++);
        case_op(OP_MAX, odd, 3, 3, 2, 1, deep, seed++);
        case_op(OP_MAX, odd, 2, 2, 2, 0, deep, seed++);
        case_op(OP_AVG, odd, 3, 3, 2, 1, deep, seed++);
        case_op(OP_AVG, odd, 2, 2, 1, 0, deep, seed++);
        case_op(OP_GAP, odd, 0, 0, 0, 0, deep, seed++);
        case_op(OP_GN, odd, 0, 0, 0, 0, deep, seed++);
    }
    case_block(7);
    forward_values();
    maxpool_ties();
    builder_errors();

    unsigned s = 4242;
    for (int i = 0; i < MS * 2 * 9 * 13; i++)
        mx[i] = 2 * frand(&s) - 0.8;
    for (int i = 0; i < MS; i++)
        my[i] = i % CLASSES;
    /* one thread, then two (never back: the pool restarts workers on a change) */
    batch b = {mx, my, NULL, MS};
    pool_set_threads(1, NULL);
    model_derivatives(1);
    thread_invariance(b, 1);
    layouts_and_init();
    features_check("cnn", b);
    features_check("resnet", b);
    skip_paths(b);
    resnet_trains();
    pool_set_threads(2, NULL);
    cnn_beats_mlp();
    model_derivatives(2);
    thread_invariance(b, 2);
    return check_done();
}
