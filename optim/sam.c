/* sam.c -- sharpness-aware gradient estimators over any base rule: SAM/ASAM with
 * m-sharpness (Foret et al. 2021; davda54/sam; SamsungLabs/ASAM) and GAM as released
 * (Zhang et al. 2023, xxgege/GAM gam/gam.py), plus GAM's exact-Hessian variant.
 * Formulas and order of operations: ../shared/REFERENCE-optimizers.md. Every gradient
 * of a step is taken on the same batch; theta is always handed back unperturbed
 * (SAM: copied back; GAM: by subtraction, as released). */
#include <math.h>
#include <string.h>

#include "impl.h"

#define SAM_TINY 1e-12   /* davda54: scale = rho / (grad_norm + 1e-12) */
#define GAM_EPS 1e-12    /* gam.py's perturb_eps */

size_t opt_sam_work(const opt_hparams *hp, size_t n)
{
    return hp->sam_m ? 4 * n : 2 * n;   /* g, saved theta [, sum of g', sum of g] */
}

size_t opt_gam_work(const opt_hparams *hp, size_t n)
{
    (void)hp;
    return 6 * n;   /* g0, g1, g2, g3, e, e0 / e' */
}

int opt_sam_init(const opt_hparams *hp, err *e)
{
    if (!(hp->rho >= 0 && isfinite(hp->rho)))
        return err_set(e, ERR_USAGE, "optimizer: rho %g must be >= 0", hp->rho);
    if (!(hp->eta >= 0 && isfinite(hp->eta)))
        return err_set(e, ERR_USAGE, "optimizer: eta %g must be >= 0", hp->eta);
    return 0;
}

int opt_gam_init(const opt_hparams *hp, err *e)
{
    const double v[] = {hp->grad_rho, hp->grad_norm_rho, hp->grad_beta0, hp->grad_beta1,
                        hp->grad_gamma};
    const char *names[] = {"grad-rho", "grad-norm-rho", "grad-beta0", "grad-beta1", "grad-gamma"};
    for (int k = 0; k < 5; k++)
        if (!(v[k] >= 0 && isfinite(v[k])))
            return err_set(e, ERR_USAGE, "optimizer: %s %g must be >= 0", names[k], v[k]);
    return 0;
}

/* Samples [lo, hi) of b. */
static batch sub_batch(const model *m, batch b, size_t lo, size_t hi)
{
    batch s = b;
    s.x = b.x ? b.x + lo * (size_t)m->in_dim : NULL;
    s.y = b.y ? b.y + lo : NULL;
    s.t = b.t ? b.t + lo * (size_t)m->out_dim : NULL;
    s.n = hi - lo;
    return s;
}

/* SAM's ascent: saved = theta; theta += e with a = |theta| + eta (weight blocks) or
 * |theta| (others) when adaptive, else 1; N = ||a g||; e = rho a^2 g / (N + 1e-12). */
static void sam_perturb(opt *o, double *theta, const double *g, double *saved)
{
    const opt_hparams *hp = &o->hp;
    double n2 = 0;
    for (int k = 0; k < o->nsegs; k++) {
        double eta = o->segs[k].role == ROLE_WEIGHT ? hp->eta : 0;
        for (size_t i = o->segs[k].lo; i < o->segs[k].hi; i++) {
            double ag = hp->adaptive ? (fabs(theta[i]) + eta) * g[i] : g[i];
            n2 += ag * ag;
        }
    }
    double scale = hp->rho / (sqrt(n2) + SAM_TINY);
    for (int k = 0; k < o->nsegs; k++) {
        double eta = o->segs[k].role == ROLE_WEIGHT ? hp->eta : 0;
        for (size_t i = o->segs[k].lo; i < o->segs[k].hi; i++) {
            double a = fabs(theta[i]) + eta;
            saved[i] = theta[i];
            theta[i] += hp->adaptive ? a * a * g[i] * scale : g[i] * scale;
        }
    }
}

/* One SAM step. With --sam-m M the batch is split into sub-batches of M (the last may
 * be shorter); each is perturbed by its own gradient and the perturbed gradients are
 * combined as the sample-weighted mean (the mean over devices of the JAX code). */
int opt_sam_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e)
{
    size_t n = o->n, M = o->hp.sam_m;
    size_t parts = M && b.n > M ? (b.n + M - 1) / M : 1;
    double *g = o->work, *saved = g + n, *gsum = saved + n, *g0sum = gsum + n;
    double loss = 0, ploss = 0, correct = 0;
    size_t count = 0;
    if (parts > 1) {
        memset(gsum, 0, n * sizeof *gsum);
        memset(g0sum, 0, n * sizeof *g0sum);
    }
    for (size_t p = 0; p < parts; p++) {
        size_t lo = p * M, hi = parts > 1 ? (lo + M < b.n ? lo + M : b.n) : b.n;
        batch bp = parts > 1 ? sub_batch(m, b, lo, hi) : b;
        double w = parts > 1 ? (double)(hi - lo) / (double)b.n : 1;
        model_stats s0, s1;
        int rc = model_grad(m, theta, bp, g, &s0, e);
        if (rc)
            return rc;
        if (parts > 1)
            for (size_t i = 0; i < n; i++)
                g0sum[i] += w * g[i];
        else
            o->last.grad_norm = opt_norm(g, n);
        sam_perturb(o, theta, g, saved);
        rc = model_grad(m, theta, bp, g, &s1, e);
        memcpy(theta, saved, n * sizeof *theta);
        if (rc)
            return rc;
        if (parts > 1)
            for (size_t i = 0; i < n; i++)
                gsum[i] += w * g[i];
        loss += w * s0.loss;
        ploss += w * s1.loss;
        correct += s0.correct;
        count += s0.n;
    }
    if (parts > 1) {
        o->last.grad_norm = opt_norm(g0sum, n);
        g = gsum;
    }
    *st = (model_stats){.loss = loss, .correct = correct, .n = count};
    o->last.loss = loss;
    o->last.perturbed_loss = ploss;
    opt_apply(o, theta, g);
    return 0;
}

/* ||x||_a: ||(|theta|) x|| when adaptive, else ||x||. */
static double gam_norm(const opt *o, const double *theta, const double *x)
{
    if (!o->hp.adaptive)
        return opt_norm(x, o->n);
    double s = 0;
    for (size_t i = 0; i < o->n; i++) {
        double ax = fabs(theta[i]) * x[i];
        s += ax * ax;
    }
    return sqrt(s);
}

/* out = P(r x / (||x||_a + eps)), P(y) = theta^2 y when adaptive, else y. */
static void gam_perturbation(const opt *o, const double *theta, const double *x, double r,
                             double *out)
{
    double scale = r / (gam_norm(o, theta, x) + GAM_EPS);
    for (size_t i = 0; i < o->n; i++)
        out[i] = o->hp.adaptive ? theta[i] * theta[i] * (x[i] * scale) : x[i] * scale;
}

/* One GAM step, the released accelerated form (four gradients on one batch):
 *   g0 = grad(theta); e0 = P(rho' g0/(||g0||_a + eps)); theta += e0; g1 = grad;
 *   theta -= e0; d = g1 - g0; e = P(rho d/(||d||_a + eps)); theta += e; g2 = grad;
 *   e' = P(rho' g2/(||g2||_a + eps)); theta += e'; e += e'; g3 = grad;
 *   pm = g0 + |b2| g2; gn = b1 g1 + b3 g3 (b2 = 1 - b0, b3 = 1 - b1);
 *   cos = <pm, gn>/(||gn|| ||pm|| + eps); vert = pm - cos ||pm|| gn/(||gn|| + eps);
 *   g_final = gn - gamma vert; theta -= e; base rule with g_final.
 * With gam_exact, g1 - g0 is replaced by the exact H e0 (one HVP at theta) and
 * g1 = g0 + H e0: the first-order model of the released finite difference. */
int opt_gam_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e)
{
    const opt_hparams *hp = &o->hp;
    size_t n = o->n;
    double *g0 = o->work, *g1 = g0 + n, *g2 = g1 + n, *g3 = g2 + n, *ev = g3 + n, *tmp = ev + n;
    double b0 = hp->grad_beta0, b1 = hp->grad_beta1, b2 = 1 - b0, b3 = 1 - b1;
    model_stats s;
    int rc = model_grad(m, theta, b, g0, st, e);
    if (rc)
        return rc;
    o->last.loss = st->loss;
    o->last.grad_norm = opt_norm(g0, n);
    gam_perturbation(o, theta, g0, hp->grad_rho, tmp);                       /* e0 */
    if (hp->gam_exact) {
        if ((rc = model_hvp(m, theta, tmp, b, NULL, ev, &s, e)))              /* ev = H e0 */
            return rc;
        for (size_t i = 0; i < n; i++)
            g1[i] = g0[i] + ev[i];
    } else {
        for (size_t i = 0; i < n; i++)
            theta[i] += tmp[i];
        rc = model_grad(m, theta, b, g1, &s, e);
        for (size_t i = 0; i < n; i++) {
            theta[i] -= tmp[i];
            ev[i] = g1[i] - g0[i];                                             /* d */
        }
        if (rc)
            return rc;
    }
    gam_perturbation(o, theta, ev, hp->grad_norm_rho, ev);                    /* e */
    for (size_t i = 0; i < n; i++)
        theta[i] += ev[i];
    if (!(rc = model_grad(m, theta, b, g2, &s, e))) {
        gam_perturbation(o, theta, g2, hp->grad_rho, tmp);                    /* e' */
        for (size_t i = 0; i < n; i++) {
            theta[i] += tmp[i];
            ev[i] += tmp[i];
        }
        rc = model_grad(m, theta, b, g3, &s, e);
    }
    for (size_t i = 0; i < n; i++)
        theta[i] -= ev[i];
    if (rc)
        return rc;
    o->last.perturbed_loss = s.loss;
    double *pm = g2, *gn = g3;   /* in place: g2 and g3 are not needed afterwards */
    double pp = 0, gg = 0, pg = 0;
    for (size_t i = 0; i < n; i++) {
        pm[i] = g0[i] + fabs(b2) * g2[i];
        gn[i] = b1 * g1[i] + b3 * g3[i];
        pp += pm[i] * pm[i];
        gg += gn[i] * gn[i];
        pg += pm[i] * gn[i];
    }
    double npm = sqrt(pp), ngn = sqrt(gg), cosv = pg / (ngn * npm + GAM_EPS);
    for (size_t i = 0; i < n; i++) {
        double vert = pm[i] - cosv * npm * gn[i] / (ngn + GAM_EPS);
        gn[i] = gn[i] - hp->grad_gamma * vert;
    }
    opt_apply(o, theta, gn);
    return 0;
}
