/* test_ad.c -- every op of the autodiff core against central finite differences.
 *
 * For each op a small graph puts the op between parameters and a loss:
 *   x -> matmul_t(W1) [+ b1] -> OP -> matmul_t(W2) -> loss
 * (or the op's own parameter pattern). On high-entropy theta, x and tangents we check
 * the gradient (every coordinate), the JVP, the HVP (against finite differences of
 * the gradient), HVP symmetry u.Hv = v.Hu, and that jvp = grad.v. Also the buffer
 * plan: forward-only modes need less workspace than the gradient mode. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ad.h"
#include "check.h"

#define ROWS 5
#define IN 4
#define HID 3
#define OUT 3

typedef struct fixture {
    ad_graph *g;
    size_t n;               /* parameters */
    double theta[256], v[256], u[256];
    double x[ROWS * IN], t[ROWS * OUT];
    int y[ROWS];
    int regression;
} fixture;

static double frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffff) / 65536.0;   /* [0, 1) */
}

static ad_bind bind(fixture *f, const double *theta)
{
    return (ad_bind){.theta = theta, .x = f->x, .y = f->regression ? NULL : f->y,
                     .t = f->regression ? f->t : NULL, .rows = ROWS, .scale = 1.0 / ROWS};
}

static double loss_at(fixture *f, const double *theta)
{
    ad_sums s = {0};
    ad_bind b = bind(f, theta);
    err e = {0};
    if (ad_run(f->g, AD_MODE_LOSS, &b, &s, &e))
        printf("run error: %s\n", e.msg);
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

static double jvp_at(fixture *f, const double *theta, const double *v)
{
    ad_sums s = {0};
    ad_bind b = bind(f, theta);
    b.v = v;
    ad_run(f->g, AD_MODE_JVP, &b, &s, NULL);
    return s.jvp;
}

static void hvp_at(fixture *f, const double *theta, const double *v, double *g, double *hv)
{
    ad_sums s = {0};
    ad_bind b = bind(f, theta);
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

/* All derivative checks of one graph. */
static void check_graph(const char *name, fixture *f)
{
    const double h = 1e-5, rtol = 1e-6, atol = 1e-8;
    size_t n = f->n;
    double g[256], g2[256], hv[256], hu[256], tp[256], tm[256], gp[256], gm[256];
    char label[160];

    grad_at(f, f->theta, g);
    double worst = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(tp, f->theta, n * sizeof *tp);
        memcpy(tm, f->theta, n * sizeof *tm);
        tp[i] += h;
        tm[i] -= h;
        double fd = (loss_at(f, tp) - loss_at(f, tm)) / (2 * h);
        double errv = fabs(fd - g[i]) / (fabs(fd) + fabs(g[i]) + 1e-3);
        if (errv > worst) {
            worst = errv;
            worst_i = i;
        }
    }
    snprintf(label, sizeof label, "%s grad vs finite differences", name);
    CHECK(worst < rtol, label, "worst relative error %.3g at theta[%zu]", worst, worst_i);

    for (size_t i = 0; i < n; i++) {
        tp[i] = f->theta[i] + h * f->v[i];
        tm[i] = f->theta[i] - h * f->v[i];
    }
    double jfd = (loss_at(f, tp) - loss_at(f, tm)) / (2 * h);
    double jv = jvp_at(f, f->theta, f->v);
    snprintf(label, sizeof label, "%s jvp vs finite differences", name);
    check_close(label, jv, jfd, rtol, atol);
    snprintf(label, sizeof label, "%s jvp = grad.v", name);
    check_close(label, jv, dot(g, f->v, n), 1e-12, 1e-14);

    hvp_at(f, f->theta, f->v, g2, hv);
    grad_at(f, tp, gp);
    grad_at(f, tm, gm);
    worst = 0;
    for (size_t i = 0; i < n; i++) {
        double fd = (gp[i] - gm[i]) / (2 * h);
        double errv = fabs(fd - hv[i]) / (fabs(fd) + fabs(hv[i]) + 1e-3);
        if (errv > worst) {
            worst = errv;
            worst_i = i;
        }
    }
    snprintf(label, sizeof label, "%s hvp vs finite differences of grad", name);
    CHECK(worst < rtol, label, "worst relative error %.3g at theta[%zu]", worst, worst_i);
    double gdiff = 0;
    for (size_t i = 0; i < n; i++)
        gdiff = fmax(gdiff, fabs(g2[i] - g[i]));
    snprintf(label, sizeof label, "%s hvp's gradient equals grad", name);
    CHECK(gdiff <= 1e-15 * (1 + sqrt(dot(g, g, n))), label, "max difference %.3g", gdiff);

    hvp_at(f, f->theta, f->u, g2, hu);
    snprintf(label, sizeof label, "%s hvp symmetry u.Hv = v.Hu", name);
    check_close(label, dot(f->u, hv, n), dot(f->v, hu, n), 1e-10, 1e-13);
}

/* Fill theta/v/u/x/t/y with high-entropy values (no 0s, no 1s). */
static void fill(fixture *f, unsigned seed, double theta_scale)
{
    unsigned s = seed;
    for (size_t i = 0; i < f->n; i++) {
        f->theta[i] = theta_scale * (2 * frand(&s) - 1) + 0.0173;
        f->v[i] = 2 * frand(&s) - 1 + 0.031;
        f->u[i] = 2 * frand(&s) - 1 - 0.047;
    }
    for (int i = 0; i < ROWS * IN; i++)
        f->x[i] = 3 * frand(&s) - 1.37;
    for (int i = 0; i < ROWS * OUT; i++)
        f->t[i] = 2 * frand(&s) - 0.91;
    for (int i = 0; i < ROWS; i++)
        f->y[i] = (int)(frand(&s) * OUT);
}

enum { LOSS_CE_, LOSS_MSE_ };

/* x -> W1 (+b1) -> [act] -> W2 -> loss */
static int build_mlp(fixture *f, int with_bias, int act, double slope, int loss)
{
    err e = {0};
    ad_graph *g = ad_graph_new(ROWS, &e);
    size_t off = 0;
    int h = ad_input(g, IN);
    h = ad_matmul_t(g, h, ad_param(g, off, HID, IN));
    off += HID * IN;
    if (with_bias) {
        h = ad_bias(g, h, ad_param(g, off, HID, 1));
        off += HID;
    }
    if (act >= 0)
        h = ad_act(g, h, act, slope);
    ad_set_features(g, h);
    h = ad_matmul_t(g, h, ad_param(g, off, OUT, HID));
    off += OUT * HID;
    int l = loss == LOSS_CE_ ? ad_loss_ce(g, h) : ad_loss_mse(g, h);
    int rc = ad_graph_plan(g, l, &e);
    if (rc)
        printf("plan error: %s\n", e.msg);
    f->g = g;
    f->n = off;
    return rc;
}

/* Residual: h = act(x W1 + b1); z = (h + act(h W2)) W3 -> loss. Exercises add. */
static int build_residual(fixture *f)
{
    err e = {0};
    ad_graph *g = ad_graph_new(ROWS, &e);
    size_t off = 0;
    int h = ad_bias(g, ad_matmul_t(g, ad_input(g, IN), ad_param(g, 0, HID, IN)),
                    ad_param(g, HID * IN, HID, 1));
    off = HID * IN + HID;
    h = ad_act(g, h, AD_ACT_TANH, 0);
    int r = ad_act(g, ad_matmul_t(g, h, ad_param(g, off, HID, HID)), AD_ACT_SIGMOID, 0);
    off += HID * HID;
    h = ad_add(g, h, r);
    h = ad_matmul_t(g, h, ad_param(g, off, OUT, HID));
    off += OUT * HID;
    int rc = ad_graph_plan(g, ad_loss_ce(g, h), &e);
    f->g = g;
    f->n = off;
    return rc;
}

int main(void)
{
    static const int acts[] = {AD_ACT_RELU, AD_ACT_LEAKY_RELU, AD_ACT_TANH, AD_ACT_SIGMOID,
                               AD_ACT_GELU, AD_ACT_SOFTPLUS, AD_ACT_IDENTITY};
    char name[128];
    for (int loss = 0; loss < 2; loss++)
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
            for (int reg = 0; reg <= (loss == LOSS_MSE_); reg++) {
                fixture f = {0};
                f.regression = reg;
                int rc = build_mlp(&f, 1, acts[a], 0.07, loss);
                snprintf(name, sizeof name, "%s+bias+%s%s", ad_act_name(acts[a]),
                         loss == LOSS_CE_ ? "ce" : "mse", reg ? "(targets)" : "(onehot)");
                CHECK(rc == 0, name, "plan failed");
                fill(&f, 17u + (unsigned)(31 * a + 7 * loss + reg), 0.9);
                check_graph(name, &f);
                ad_graph_free(f.g);
            }
    {
        fixture f = {0};
        build_mlp(&f, 0, -1, 0, LOSS_CE_);
        fill(&f, 5, 1.3);
        check_graph("linear(no bias)+ce", &f);
        ad_graph_free(f.g);
    }
    {
        fixture f = {0};
        build_residual(&f);
        fill(&f, 9, 0.8);
        check_graph("residual add", &f);
        ad_graph_free(f.g);
    }

    /* activation second derivatives against differences of the first */
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        double worst = 0;
        for (double x = -3.3; x < 3.3; x += 0.173) {
            double d1p, d1m, d1, d2, h = 1e-6, tmp;
            double fp = ad_act_eval(acts[a], 0.07, x + h, &d1p, &tmp);
            double fm = ad_act_eval(acts[a], 0.07, x - h, &d1m, &tmp);
            ad_act_eval(acts[a], 0.07, x, &d1, &d2);
            worst = fmax(worst, fabs((fp - fm) / (2 * h) - d1) / (1 + fabs(d1)));
            worst = fmax(worst, fabs((d1p - d1m) / (2 * h) - d2) / (1 + fabs(d2)));
        }
        snprintf(name, sizeof name, "%s f' and f'' vs differences", ad_act_name(acts[a]));
        CHECK(worst < 1e-7, name, "worst relative error %.3g", worst);
    }
    /* GELU matches its erf definition; softplus is stable far out */
    double d1, d2;
    check_close("gelu(0.7) = 0.7*Phi(0.7)", ad_act_eval(AD_ACT_GELU, 0, 0.7, &d1, &d2),
                0.7 * 0.5 * (1 + erf(0.7 / sqrt(2))), 1e-15, 0);
    check_close("softplus(800) = 800", ad_act_eval(AD_ACT_SOFTPLUS, 0, 800, &d1, &d2), 800, 1e-15, 0);
    check_close("softplus(-800) > 0 tiny", ad_act_eval(AD_ACT_SOFTPLUS, 0, -800, &d1, &d2), 0, 0, 1e-300);

    /* cross-entropy value against a hand computation */
    {
        fixture f = {0};
        build_mlp(&f, 0, -1, 0, LOSS_CE_);
        fill(&f, 3, 0.5);
        double want = 0;
        for (int r = 0; r < ROWS; r++) {
            double z[OUT], hid[HID], mx = -1e300, s = 0;
            for (int j = 0; j < HID; j++) {
                hid[j] = 0;
                for (int k = 0; k < IN; k++)
                    hid[j] += f.x[r * IN + k] * f.theta[j * IN + k];
            }
            for (int o = 0; o < OUT; o++) {
                z[o] = 0;
                for (int j = 0; j < HID; j++)
                    z[o] += hid[j] * f.theta[HID * IN + o * HID + j];
                mx = fmax(mx, z[o]);
            }
            for (int o = 0; o < OUT; o++)
                s += exp(z[o] - mx);
            want += (mx + log(s) - z[f.y[r]]) / ROWS;
        }
        check_close("ce loss equals a hand computation", loss_at(&f, f.theta), want, 1e-13, 0);
        /* workspace: forward-only plans are smaller than the gradient plan */
        double g[256];
        grad_at(&f, f.theta, g);
        jvp_at(&f, f.theta, f.v);
        size_t wg = ad_graph_workspace(f.g, AD_MODE_GRAD), wj = ad_graph_workspace(f.g, AD_MODE_JVP);
        CHECK(wj > 0 && wj < wg, "jvp workspace below gradient workspace", "jvp %zu B, grad %zu B", wj, wg);
        ad_graph_free(f.g);
    }
    /* builder errors are reported, not crashed on */
    {
        err e = {0};
        ad_graph *g = ad_graph_new(4, &e);
        int x = ad_input(g, 3);
        int bad = ad_matmul_t(g, x, ad_param(g, 0, 2, 5));
        int rc = ad_graph_plan(g, bad, &e);
        CHECK(bad < 0 && rc == ERR_USAGE && strstr(e.msg, "matmul_t"), "shape mismatch is a usage error",
              "rc %d msg '%s'", rc, e.msg);
        ad_graph_free(g);
    }
    return check_done();
}
