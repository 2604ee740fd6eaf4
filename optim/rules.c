/* rules.c -- the update rules: SGD, Adam, AdamW, diffGrad (v2), AdEMAMix and DoG.
 *
 * Each update works on one role segment theta[lo, hi) with that segment's weight
 * decay lam, and follows ../shared/REFERENCE-optimizers.md to the order of
 * operations of the reference code (torch.optim, diffGrad_v2.py, apple/ml-ademamix):
 * the comments give the formulas. State arrays are (n) and indexed like theta. */
#include <math.h>
#include <string.h>

#include "../core/ad.h"
#include "impl.h"

/* The squared update norm, in four running sums picked by the element's index in
 * theta: four independent chains of additions instead of one (whose latency bounded
 * the update loops), and the same sums whatever the segments and threads. */
typedef struct sq4 {
    double s[4];
} sq4;

static inline void sq4_add(sq4 *q, size_t i, double d)
{
    q->s[i & 3] += d * d;
}

static inline double sq4_sum(const sq4 *q)
{
    return (q->s[0] + q->s[1]) + (q->s[2] + q->s[3]);
}

/* Four consecutive elements (GCC/clang vector extension; without -ffp-contract, as
 * under -std=c11, each lane is the scalar code's operations, bit for bit). A block
 * that starts at an index with i & 3 == 0 adds its squared steps lane by lane into
 * sq4's four chains, so blocked and element-wise loops give the same sums. */
typedef double v4 __attribute__((vector_size(4 * sizeof(double))));
#define V4_LOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define V4_STORE(p, v) memcpy((p), &(v), sizeof(v))

size_t opt_sgd_state(const opt_hparams *hp, size_t n)
{
    (void)hp;
    return n;   /* momentum buffer b */
}

size_t opt_adam_state(const opt_hparams *hp, size_t n)
{
    (void)hp;
    return 2 * n;   /* m, v */
}

size_t opt_three_state(const opt_hparams *hp, size_t n)
{
    (void)hp;
    return 3 * n;   /* diffGrad: m, v, g_prev;  AdEMAMix: m1, m2, nu */
}

size_t opt_dog_state(const opt_hparams *hp, size_t n)
{
    (void)hp;
    return n + 3;   /* theta_0, then rbar, G, eta */
}

int opt_sgd_init(const opt_hparams *hp, err *e)
{
    if (!(hp->momentum >= 0 && hp->momentum < 1))
        return err_set(e, ERR_USAGE, "optimizer: momentum %g must lie in [0, 1)", hp->momentum);
    if (!(hp->dampening >= 0 && hp->dampening <= 1))
        return err_set(e, ERR_USAGE, "optimizer: dampening %g must lie in [0, 1]", hp->dampening);
    if (hp->nesterov && (hp->momentum == 0 || hp->dampening != 0))
        return err_set(e, ERR_USAGE, "optimizer: Nesterov momentum needs momentum > 0 and "
                       "zero dampening");
    return 0;
}

static int beta(const char *name, double b, err *e)
{
    if (!(b >= 0 && b < 1))
        return err_set(e, ERR_USAGE, "optimizer: %s %g must lie in [0, 1)", name, b);
    return 0;
}

int opt_adam_init(const opt_hparams *hp, err *e)
{
    int rc = beta("beta1", hp->beta1, e);
    rc = rc ? rc : beta("beta2", hp->beta2, e);
    if (!rc && !(hp->eps > 0 && isfinite(hp->eps)))
        rc = err_set(e, ERR_USAGE, "optimizer: eps %g must be > 0", hp->eps);
    return rc;
}

int opt_ademamix_init(const opt_hparams *hp, err *e)
{
    int rc = opt_adam_init(hp, e);
    rc = rc ? rc : beta("beta3", hp->beta3, e);
    if (!rc && !(hp->alpha >= 0 && isfinite(hp->alpha)))
        rc = err_set(e, ERR_USAGE, "optimizer: alpha %g must be >= 0", hp->alpha);
    if (!rc && (hp->t_alpha < 0 || hp->t_beta3 < 0))
        rc = err_set(e, ERR_USAGE, "optimizer: warm-up lengths T_alpha %ld, T_beta3 %ld must be "
                     ">= 0", hp->t_alpha, hp->t_beta3);
    return rc;
}

/* SGD's common step, momentum after the first: b = mu b + keep g; theta -= lr b; one
 * element, and (heavy_ball) a segment in blocks of four between such elements (the
 * bench's training step spent 7 % of its time in the element-wise loop). */
static inline void heavy_ball_one(double *theta, const double *g, double *buf, size_t i,
                                  double mu, double keep, double lr, sq4 *u2)
{
    buf[i] = mu * buf[i] + keep * g[i];
    double d = lr * buf[i];
    theta[i] -= d;
    sq4_add(u2, i, d);
}

AD_VECTOR static void heavy_ball(double *theta, const double *g, double *buf, size_t lo,
                                 size_t hi, double mu, double keep, double lr, sq4 *u2)
{
    size_t a = (lo + 3) & ~(size_t)3, b = hi & ~(size_t)3;   /* the blocks: [a, b) */
    if (a >= b)
        a = b = hi;
    for (size_t i = lo; i < a; i++)
        heavy_ball_one(theta, g, buf, i, mu, keep, lr, u2);
    v4 s, bv, d, t, gv;
    V4_LOAD(s, u2->s);
    for (size_t i = a; i < b; i += 4) {
        V4_LOAD(bv, buf + i);
        V4_LOAD(gv, g + i);
        V4_LOAD(t, theta + i);
        bv = mu * bv + keep * gv;
        d = lr * bv;
        t -= d;
        s += d * d;
        V4_STORE(buf + i, bv);
        V4_STORE(theta + i, t);
    }
    V4_STORE(u2->s, s);
    for (size_t i = b; i < hi; i++)
        heavy_ball_one(theta, g, buf, i, mu, keep, lr, u2);
}

/* SGD (torch.optim.SGD): g += lam theta; b = g at t = 1, else mu b + (1 - tau) g;
 * d = g + mu b (Nesterov) or b; theta -= lr d. */
double opt_sgd_update(opt *o, double *theta, double *g, double *buf, size_t lo, size_t hi,
                      double lam)
{
    const opt_hparams *hp = &o->hp;
    double mu = hp->momentum, lr = o->lr, keep = 1 - hp->dampening;
    sq4 u2 = {{0}};
    if (lam != 0)
        for (size_t i = lo; i < hi; i++)
            g[i] += lam * theta[i];
    if (mu == 0) {
        for (size_t i = lo; i < hi; i++) {
            double d = lr * g[i];
            theta[i] -= d;
            sq4_add(&u2, i, d);
        }
    } else if (o->t == 1 || hp->nesterov) {
        for (size_t i = lo; i < hi; i++) {
            buf[i] = o->t == 1 ? g[i] : mu * buf[i] + keep * g[i];
            double d = lr * (hp->nesterov ? g[i] + mu * buf[i] : buf[i]);
            theta[i] -= d;
            sq4_add(&u2, i, d);
        }
    } else
        heavy_ball(theta, g, buf, lo, hi, mu, keep, lr, &u2);
    return sq4_sum(&u2);
}

/* Adam (torch.optim.Adam) and AdamW: AdamW first shrinks theta *= 1 - lr lam,
 * Adam adds g += lam theta; then m = m + (1 - b1)(g - m); v = b2 v + (1 - b2) g^2;
 * theta -= (lr/bc1) m / (sqrt(v)/sqrt(bc2) + eps), bc_k = 1 - b_k^t. */
static double adam(opt *o, double *theta, const double *g, double *st, size_t lo, size_t hi,
                   double lam, int decoupled)
{
    const opt_hparams *hp = &o->hp;
    double *m = st, *v = st + o->n, b1 = hp->beta1, b2 = hp->beta2, eps = hp->eps;
    double t = (double)o->t, bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
    double step = o->lr / bc1, bc2s = sqrt(bc2), shrink = 1 - o->lr * lam;
    sq4 u2 = {{0}};
    for (size_t i = lo; i < hi; i++) {
        double th = theta[i], gi = g[i], x = th;
        if (decoupled)
            x = th * shrink;
        else if (lam != 0)
            gi += lam * th;
        m[i] += (1 - b1) * (gi - m[i]);
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        x -= step * (m[i] / (sqrt(v[i]) / bc2s + eps));
        theta[i] = x;
        sq4_add(&u2, i, th - x);
    }
    return sq4_sum(&u2);
}

double opt_adam_update(opt *o, double *theta, double *g, double *st, size_t lo, size_t hi,
                       double lam)
{
    return adam(o, theta, g, st, lo, hi, lam, 0);
}

double opt_adamw_update(opt *o, double *theta, double *g, double *st, size_t lo, size_t hi,
                        double lam)
{
    return adam(o, theta, g, st, lo, hi, lam, 1);
}

/* diffGrad v2 (diffGrad_v2.py): g += lam theta; m = b1 m + (1 - b1) g;
 * v = b2 v + (1 - b2) g^2; xi = 1/(1 + exp(-|g_prev - g|)); g_prev = g;
 * theta -= (lr sqrt(bc2)/bc1) (m xi) / (sqrt(v) + eps). At t = 1 g_prev = 0. */
double opt_diffgrad_update(opt *o, double *theta, double *g, double *st, size_t lo, size_t hi,
                           double lam)
{
    const opt_hparams *hp = &o->hp;
    size_t n = o->n;
    double *m = st, *v = st + n, *gp = st + 2 * n, b1 = hp->beta1, b2 = hp->beta2;
    double t = (double)o->t, bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
    double step = o->lr * sqrt(bc2) / bc1;
    sq4 u2 = {{0}};
    for (size_t i = lo; i < hi; i++) {
        double th = theta[i], gi = lam != 0 ? g[i] + lam * th : g[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        double xi = 1. / (1. + exp(-fabs(gp[i] - gi)));
        gp[i] = gi;
        double x = th - step * (m[i] * xi / (sqrt(v[i]) + hp->eps));
        theta[i] = x;
        sq4_add(&u2, i, th - x);
    }
    return sq4_sum(&u2);
}

/* AdEMAMix's half-life parametrisation of an EMA factor, and its inverse. */
static double hl_f(double b)
{
    return log(0.5) / log(b + 1e-8) - 1;
}

static double hl_finv(double h)
{
    return pow(0.5, 1 / (h + 1));
}

/* AdEMAMix (apple/ml-ademamix, pytorch/ademamix.py), a = t/T:
 *   alpha_t = a alpha (t < T_alpha), beta3_t = finv((1 - a) f(b1) + a f(b3)) (t < T_beta3);
 *   m1 = b1 m1 + (1 - b1) g (m1 = g when b1 = 0); m2 = beta3_t m2 + (1 - beta3_t) g;
 *   nu = b2 nu + (1 - b2) g^2;
 *   u = (m1/bc1 + alpha_t m2) / (sqrt(nu)/sqrt(bc2) + eps) + lam theta; theta -= lr u. */
double opt_ademamix_update(opt *o, double *theta, double *g, double *st, size_t lo, size_t hi,
                           double lam)
{
    const opt_hparams *hp = &o->hp;
    size_t n = o->n;
    double *m1 = st, *m2 = st + n, *nu = st + 2 * n, b1 = hp->beta1, b2 = hp->beta2;
    double t = (double)o->t, bc1 = 1 - pow(b1, t), bc2s = sqrt(1 - pow(b2, t));
    double alpha = hp->alpha, b3 = hp->beta3, lr = o->lr;
    sq4 u2 = {{0}};
    if (hp->t_alpha && o->t < hp->t_alpha) {
        double a = t / (double)hp->t_alpha;   /* (1 - a) 0 + a alpha, exactly */
        alpha = a * hp->alpha;
    }
    if (hp->t_beta3 && o->t < hp->t_beta3) {
        double a = t / (double)hp->t_beta3;
        b3 = hl_finv((1.0 - a) * hl_f(b1) + a * hl_f(hp->beta3));
    }
    for (size_t i = lo; i < hi; i++) {
        double th = theta[i], gi = g[i];
        m1[i] = b1 != 0 ? b1 * m1[i] + (1 - b1) * gi : gi;
        m2[i] = b3 * m2[i] + (1 - b3) * gi;
        nu[i] = b2 * nu[i] + (1 - b2) * gi * gi;
        double u = (m1[i] / bc1 + alpha * m2[i]) / (sqrt(nu[i]) / bc2s + hp->eps) + lam * th;
        double x = th - lr * u;
        theta[i] = x;
        sq4_add(&u2, i, th - x);
    }
    return sq4_sum(&u2);
}

/* DoG (Ivgi, Hinder & Carmon 2023, "distance over gradients"), scaled by lr:
 *   g += lam theta (coupled); rbar = max(r_eps, max_{i<=t} ||theta_i - theta_0||) with
 *   r_eps = 1e-6 (1 + ||theta_0||); G = sum_{i<=t} ||g_i||^2; eta = lr rbar / sqrt(G);
 *   theta -= eta g. */
void opt_dog_prepare(opt *o, double *theta, double *g, double *st)
{
    size_t n = o->n;
    double *th0 = st, *rbar = st + n, *G = st + n + 1, *eta = st + n + 2;
    if (o->t == 1) {
        memcpy(th0, theta, n * sizeof *th0);
        *rbar = 1e-6 * (1 + opt_norm(theta, n));
        *G = 0;
    }
    for (int k = 0; k < o->nsegs; k++) {
        double lam = opt_seg_decay(o, &o->segs[k]);
        if (lam != 0)
            for (size_t i = o->segs[k].lo; i < o->segs[k].hi; i++)
                g[i] += lam * theta[i];
    }
    double r2 = 0;
    for (size_t i = 0; i < n; i++)
        r2 += (theta[i] - th0[i]) * (theta[i] - th0[i]);
    *rbar = fmax(*rbar, sqrt(r2));
    double gn = opt_norm(g, n);
    *G += gn * gn;
    *eta = *G > 0 ? o->lr * *rbar / sqrt(*G) : 0;
}

double opt_dog_update(opt *o, double *theta, double *g, double *st, size_t lo, size_t hi,
                      double lam)
{
    (void)lam;   /* applied in prepare, where the norms need it */
    double eta = st[o->n + 2];
    sq4 u2 = {{0}};
    for (size_t i = lo; i < hi; i++) {
        double d = eta * g[i];
        theta[i] -= d;
        sq4_add(&u2, i, d);
    }
    return sq4_sum(&u2);
}
