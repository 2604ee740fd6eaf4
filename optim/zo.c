/* zo.c -- optimizers without backpropagation: forward gradient (Baydin et al. 2022,
 * "Gradients without Backpropagation") over any base rule, and MeZO / ZO-SGD
 * (Malladi et al. 2023, princeton-nlp/MeZO). Neither ever calls model_grad or
 * model_hvp: forward gradient uses only model_jvp (one forward-mode pass per tangent),
 * MeZO only model_loss. Random directions come from opt_seed_direction: a pure
 * function of (seed, t, k), so MeZO's z is regenerated, never stored. */
#include <math.h>
#include <string.h>

#include "impl.h"

size_t opt_fg_work(const opt_hparams *hp, size_t n)
{
    (void)hp;
    return 2 * n;   /* tangent v, estimate g^ */
}

size_t opt_mezo_work(const opt_hparams *hp, size_t n)
{
    (void)n;
    return (size_t)hp->zo_samples;   /* projected gradients pg_k */
}

int opt_fg_init(const opt_hparams *hp, err *e)
{
    if (hp->tangents < 1 || hp->tangents > 65536)
        return err_set(e, ERR_USAGE, "optimizer: tangents %d must lie in 1..65536", hp->tangents);
    return 0;
}

int opt_mezo_init(const opt_hparams *hp, err *e)
{
    if (!(hp->zo_eps > 0 && isfinite(hp->zo_eps)))
        return err_set(e, ERR_USAGE, "optimizer: zo-eps %g must be > 0", hp->zo_eps);
    if (hp->zo_samples < 1 || hp->zo_samples > 65536)
        return err_set(e, ERR_USAGE, "optimizer: zo-samples %d must lie in 1..65536",
                       hp->zo_samples);
    return 0;
}

/* Forward gradient: per tangent k, v_k ~ N(0, I) and one forward-mode pass gives
 * L and d_k = <grad L, v_k>; g^ = (1/K) sum_k d_k v_k (unbiased, E[v v^T] = I);
 * then the base rule. The classical eta_i = eta_0 exp(-i k) is --schedule exp. */
int opt_fg_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e)
{
    size_t n = o->n;
    int K = o->hp.tangents;
    double *v = o->work, *gh = v + n;
    memset(gh, 0, n * sizeof *gh);
    for (int k = 0; k < K; k++) {
        opt_direction(o, o->t, k, v);
        int rc = model_jvp(m, theta, v, b, st, e);
        if (rc)
            return rc;
        double d = st->jvp;
        for (size_t i = 0; i < n; i++)
            gh[i] += d * v[i];
    }
    double inv = 1.0 / K;
    for (size_t i = 0; i < n; i++)
        gh[i] = inv * gh[i];
    o->last.loss = st->loss;
    o->last.grad_norm = opt_norm(gh, n);
    opt_apply(o, theta, gh);
    return 0;
}

/* theta += s eps z(seed of step t, sample k), z regenerated from its seed. */
static void zo_perturb(opt *o, double *theta, int k, double s)
{
    gsl_rng *r = o->rngs[0];
    double eps = o->hp.zo_eps;
    opt_seed_direction(o, r, o->t, k);
    for (size_t i = 0; i < o->n; i++)
        theta[i] = theta[i] + s * opt_gauss(r) * eps;
}

/* MeZO, per seed k: theta += eps z; L+ = L(theta); theta -= 2 eps z; L- = L(theta);
 * theta += eps z (restored by arithmetic, as the reference); pg_k = (L+ - L-)/(2 eps).
 * Then, z_k regenerated from the seeds in step with the elements:
 * theta -= lr ((1/n) sum_k pg_k z_k + lam theta), lam = 0 on excluded roles
 * (by default biases and norm parameters, as the reference). */
int opt_mezo_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e)
{
    int S = o->hp.zo_samples;
    double *pg = o->work, eps = o->hp.zo_eps, loss = 0, lr = o->lr, inv = 1.0 / S;
    for (int k = 0; k < S; k++) {
        model_stats sp, sm;
        zo_perturb(o, theta, k, 1);
        int rc = model_loss(m, theta, b, &sp, e);
        zo_perturb(o, theta, k, -2);
        rc = rc ? rc : model_loss(m, theta, b, &sm, e);
        zo_perturb(o, theta, k, 1);
        if (rc)
            return rc;
        pg[k] = (sp.loss - sm.loss) / (2 * eps);
        loss += (sp.loss + sm.loss) / 2;
        if (k == 0)
            *st = sp;
    }
    st->loss = loss / S;
    for (int k = 0; k < S; k++)
        opt_seed_direction(o, o->rngs[k], o->t, k);
    double g2 = 0, u2 = 0;
    for (int q = 0; q < o->nsegs; q++) {
        double lam = opt_seg_decay(o, &o->segs[q]);
        for (size_t i = o->segs[q].lo; i < o->segs[q].hi; i++) {
            double sum = 0;
            for (int k = 0; k < S; k++)
                sum += pg[k] * opt_gauss(o->rngs[k]);
            double est = sum * inv, th = theta[i];
            theta[i] = th - lr * (est + lam * th);
            g2 += est * est;
            u2 += (th - theta[i]) * (th - theta[i]);
        }
    }
    o->last.loss = st->loss;
    o->last.grad_norm = sqrt(g2);
    o->last.update_norm = sqrt(u2);
    return 0;
}
