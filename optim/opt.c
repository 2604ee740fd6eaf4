/* opt.c -- the optimizer method table and what every method shares: construction
 * with per-method defaults, the step driver (schedule, role segments, metrics), the
 * plain-gradient step of update rules, the Grokfast filter, checkpoints and the
 * seeded random directions (see opt.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>

#include "../core/pool.h"
#include "../core/rng.h"
#include "impl.h"

/* An update rule used directly: one batch gradient, then the rule. */
static int grad_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e)
{
    double *g = o->work;
    int rc = model_grad(m, theta, b, g, st, e);
    if (rc)
        return rc;
    o->last.loss = st->loss;
    o->last.grad_norm = opt_norm(g, o->n);
    opt_apply(o, theta, g);
    return 0;
}

static size_t none(const opt_hparams *hp, size_t n)
{
    (void)hp;
    (void)n;
    return 0;
}

static size_t one_vector(const opt_hparams *hp, size_t n)
{
    (void)hp;
    return n;
}

#define RULE(nm, lr_, wd_, st_, init_, prep_, upd_) \
    {nm, OPT_RULE, lr_, wd_, 0, st_, one_vector, init_, grad_step, prep_, upd_}

static const opt_method methods[] = {
    RULE("sgd", 0.01, 0, opt_sgd_state, opt_sgd_init, NULL, opt_sgd_update),
    RULE("adam", 1e-3, 0, opt_adam_state, opt_adam_init, NULL, opt_adam_update),
    RULE("adamw", 1e-3, 1e-2, opt_adam_state, opt_adam_init, NULL, opt_adamw_update),
    RULE("diffgrad", 1e-3, 0, opt_three_state, opt_adam_init, NULL, opt_diffgrad_update),
    RULE("ademamix", 1e-3, 0, opt_three_state, opt_ademamix_init, NULL, opt_ademamix_update),
    RULE("dog", 1.0, 0, opt_dog_state, NULL, opt_dog_prepare, opt_dog_update),
    {"sam", OPT_ESTIMATOR, NAN, NAN, 0, none, opt_sam_work, opt_sam_init, opt_sam_step, NULL, NULL},
    {"gam", OPT_ESTIMATOR, NAN, NAN, 0, none, opt_gam_work, opt_gam_init, opt_gam_step, NULL, NULL},
    {"forward-grad", OPT_ESTIMATOR, NAN, NAN, 0, none, opt_fg_work, opt_fg_init, opt_fg_step,
     NULL, NULL},
    {"mezo", OPT_OWN, 1e-3, 0, (1 << ROLE_BIAS) | (1 << ROLE_NORM), none, opt_mezo_work,
     opt_mezo_init, opt_mezo_step, NULL, NULL},
};
#define NMETHODS (sizeof methods / sizeof methods[0])

#define RULE_NAMES "sgd adam adamw diffgrad ademamix dog"

const char *opt_names(void)
{
    return "sgd adam adamw diffgrad ademamix dog sam gam forward-grad mezo";
}

static const opt_method *find(const char *name)
{
    for (size_t k = 0; k < NMETHODS; k++)
        if (strcmp(name, methods[k].name) == 0)
            return &methods[k];
    return NULL;
}

void opt_hparams_default(opt_hparams *hp)
{
    memset(hp, 0, sizeof *hp);
    hp->lr = NAN;
    hp->weight_decay = NAN;
    hp->wd_exclude = -1;
    hp->beta1 = 0.9;
    hp->beta2 = 0.999;
    hp->beta3 = 0.9999;
    hp->alpha = 2.0;
    hp->eps = 1e-8;
    hp->rho = 0.05;
    hp->grad_rho = 0.03;
    hp->grad_norm_rho = 0.2;
    hp->grad_beta0 = 0.1;
    hp->grad_beta1 = 0.1;
    hp->grad_gamma = 0.05;
    hp->tangents = 1;
    hp->zo_eps = 1e-3;
    hp->zo_samples = 1;
    hp->grokfast_alpha = 0.98;
    sched_default(&hp->sched);
}

/* Through BLAS: a plain loop is one serial chain of additions, 5x slower here. */
double opt_norm(const double *x, size_t n)
{
    return sqrt(cblas_ddot((int)n, x, 1, x, 1));
}

double opt_seg_decay(const opt *o, const opt_seg *s)
{
    return o->hp.wd_exclude & (1 << s->role) ? 0 : o->hp.weight_decay;
}

void opt_seed_direction(const opt *o, gsl_rng *r, long t, int k)
{
    uint64_t s = rng_mix(o->key ^ rng_mix(((uint64_t)t << 16) ^ (uint64_t)k));
    gsl_rng_set(r, (unsigned long)(s ? s : 1));
}

double opt_gauss(gsl_rng *r)
{
    return gsl_ran_gaussian_ziggurat(r, 1.0);
}

void opt_direction(opt *o, long t, int k, double *v)
{
    opt_seed_direction(o, o->rngs[0], t, k);
    for (size_t i = 0; i < o->n; i++)
        v[i] = opt_gauss(o->rngs[0]);
}

/* Grokfast (Lee et al. 2024, gradfilter_ema): gbar = alpha gbar + (1 - alpha) g with
 * gbar = g before the first update, as the released code starts; then g += lambda gbar. */
static void grokfast(opt *o, double *g)
{
    double a = o->hp.grokfast_alpha, lam = o->hp.grokfast_lambda, *gb = o->state;
    if (o->t == 1)
        memcpy(gb, g, o->n * sizeof *g);
    for (size_t i = 0; i < o->n; i++) {
        gb[i] = gb[i] * a + g[i] * (1 - a);
        g[i] += gb[i] * lam;
    }
}

/* One update pass, its segments split over the pool's threads. */
typedef struct update_job {
    opt *o;
    double *theta, *g;
} update_job;

/* Thread tid updates the segments that start in its share of theta (by elements). */
static void update_thread(void *arg, int tid, int T)
{
    const update_job *j = arg;
    opt *o = j->o;
    size_t lo = o->n * (size_t)tid / (size_t)T, hi = o->n * (size_t)(tid + 1) / (size_t)T;
    for (int k = 0; k < o->nsegs; k++)
        if (o->segs[k].lo >= lo && o->segs[k].lo < hi)
            o->seg_u2[k] = o->rule->update(o, j->theta, j->g, o->rule_state, o->segs[k].lo,
                                           o->segs[k].hi, opt_seg_decay(o, &o->segs[k]));
}

/* Below this many parameters the update runs on the calling thread: waking the pool
 * would cost more than the pass. */
#define OPT_PARALLEL_MIN ((size_t)1 << 16)

void opt_apply(opt *o, double *theta, double *g)
{
    if (o->hp.grokfast_lambda != 0)
        grokfast(o, g);
    if (o->rule->prepare)
        o->rule->prepare(o, theta, g, o->rule_state);
    update_job j = {o, theta, g};
    if (o->n >= OPT_PARALLEL_MIN)
        pool_run(update_thread, &j);
    else
        update_thread(&j, 0, 1);
    double u2 = 0;
    for (int k = 0; k < o->nsegs; k++)
        u2 += o->seg_u2[k];
    o->last.update_norm = sqrt(u2);
}

/* Role segments of theta from the model's blocks, adjacent blocks of one role merged,
 * then cut at multiples of OPT_PIECE; elements no block claims count as weights. */
static int make_segments(opt *o, const model *m, err *e)
{
    size_t most = 2 * (size_t)m->nblocks + 1 + o->n / OPT_PIECE, at = 0;
    opt_seg *merged = err_calloc(e, 2 * (size_t)m->nblocks + 1, sizeof *merged);
    o->segs = err_calloc(e, most, sizeof *o->segs);
    o->seg_u2 = err_calloc(e, most, sizeof *o->seg_u2);
    int k = 0, rc = merged && o->segs && o->seg_u2 ? 0 : ERR_SYS;
    for (int j = 0; j <= m->nblocks && !rc; j++) {
        const model_block *bl = j < m->nblocks ? &m->blocks[j] : NULL;
        size_t lo = bl ? bl->offset : o->n;
        if (bl && (lo < at || lo + bl->size > o->n)) {
            rc = err_set(e, ERR_USAGE, "optimizer: block %s lies outside theta (%zu)",
                         bl->name, o->n);
            break;
        }
        opt_seg gap = {at, lo, ROLE_WEIGHT}, blk = {lo, bl ? lo + bl->size : lo, bl ? bl->role : 0};
        for (int q = 0; q < 2; q++) {
            opt_seg s = q ? blk : gap;
            if (s.hi == s.lo)
                continue;
            if (k && merged[k - 1].role == s.role && merged[k - 1].hi == s.lo)
                merged[k - 1].hi = s.hi;
            else
                merged[k++] = s;
        }
        at = blk.hi;
    }
    o->nsegs = 0;
    for (int j = 0; j < k && !rc; j++)
        for (size_t lo = merged[j].lo, hi; lo < merged[j].hi; lo = hi) {
            hi = (lo / OPT_PIECE + 1) * OPT_PIECE;
            hi = hi < merged[j].hi ? hi : merged[j].hi;
            o->segs[o->nsegs++] = (opt_seg){lo, hi, merged[j].role};
        }
    free(merged);
    if (rc) {   /* the next step tries again */
        free(o->segs);
        free(o->seg_u2);
        o->segs = NULL;
        o->seg_u2 = NULL;
    }
    return rc;
}

static int check_common(const opt_hparams *hp, err *e)
{
    if (!(hp->lr >= 0) || !isfinite(hp->lr))
        return err_set(e, ERR_USAGE, "optimizer: learning rate %g must be >= 0", hp->lr);
    if (!(hp->weight_decay >= 0) || !isfinite(hp->weight_decay))
        return err_set(e, ERR_USAGE, "optimizer: weight decay %g must be >= 0", hp->weight_decay);
    if (hp->wd_exclude < 0 || hp->wd_exclude >= 1 << 3)
        return err_set(e, ERR_USAGE, "optimizer: weight-decay exclusion mask %d is not a set "
                       "of roles", hp->wd_exclude);
    if (hp->grokfast_lambda != 0 && !(hp->grokfast_alpha >= 0 && hp->grokfast_alpha < 1))
        return err_set(e, ERR_USAGE, "optimizer: Grokfast alpha %g must lie in [0, 1)",
                       hp->grokfast_alpha);
    if (!(hp->grokfast_lambda >= 0) || !isfinite(hp->grokfast_lambda))
        return err_set(e, ERR_USAGE, "optimizer: Grokfast lambda %g must be >= 0",
                       hp->grokfast_lambda);
    return sched_check(&hp->sched, e);
}

/* The method row of `name` and its update rule (NULL for MeZO). */
static int lookup(const char *name, const opt_hparams *hp, const opt_method **mt,
                  const opt_method **rule, err *e)
{
    *rule = NULL;
    if (!(*mt = find(name)))
        return err_set(e, ERR_USAGE, "optimizer: unknown '%s' (known: %s)", name, opt_names());
    if ((*mt)->kind == OPT_RULE)
        *rule = *mt;
    else if ((*mt)->kind == OPT_ESTIMATOR) {
        const char *bn = hp->base[0] ? hp->base : "sgd";
        *rule = find(bn);
        if (!*rule || (*rule)->kind != OPT_RULE)
            return err_set(e, ERR_USAGE, "optimizer: base '%s' of %s is not an update rule "
                           "(%s)", bn, name, RULE_NAMES);
    } else if (hp->base[0])
        return err_set(e, ERR_USAGE, "optimizer: %s has its own update; --base does not apply",
                       name);
    return 0;
}

int opt_names_check(const char *name, const char *base, err *e)
{
    const opt_method *mt, *rule;
    if (!name) {
        mt = find(base);
        return mt && mt->kind == OPT_RULE ? 0 : err_set(e, ERR_USAGE, "optimizer: base '%s' "
                                                        "is not an update rule (%s)", base, RULE_NAMES);
    }
    opt_hparams hp;
    opt_hparams_default(&hp);
    if (base && strlen(base) >= sizeof hp.base)
        return err_set(e, ERR_USAGE, "optimizer: base '%s' is too long", base);
    snprintf(hp.base, sizeof hp.base, "%s", base ? base : "");
    return lookup(name, &hp, &mt, &rule, e);
}

static void resolve(const opt_method *mt, const opt_method *rule, opt_hparams *h)
{
    const opt_method *dflt = rule ? rule : mt;
    if (isnan(h->lr))
        h->lr = dflt->lr;
    if (isnan(h->weight_decay))
        h->weight_decay = dflt->weight_decay;
    if (h->wd_exclude < 0)
        h->wd_exclude = mt->wd_exclude;
}

int opt_defaults(const char *name, opt_hparams *hp)
{
    const opt_method *mt, *rule;
    int rc = lookup(name, hp, &mt, &rule, NULL);
    if (!rc)
        resolve(mt, rule, hp);
    return rc;
}

int opt_new(const char *name, const opt_hparams *hp, size_t n, opt **out, err *e)
{
    *out = NULL;
    const opt_method *mt, *rule;
    int rc = lookup(name, hp, &mt, &rule, e);
    if (rc)
        return rc;
    opt_hparams h = *hp;
    resolve(mt, rule, &h);
    rc = check_common(&h, e);
    if (!rc && mt->init)
        rc = mt->init(&h, e);
    if (!rc && rule && rule != mt && rule->init)
        rc = rule->init(&h, e);
    if (rc)
        return rc;
    opt *o = err_calloc(e, 1, sizeof *o);
    if (!o)
        return ERR_SYS;
    o->method = mt;
    o->rule = rule;
    o->hp = h;
    o->n = n;
    o->lr = h.lr;
    size_t grok = h.grokfast_lambda != 0 ? n : 0;
    o->nstate = grok + (rule ? rule->state_size(&h, n) : 0);
    o->state = err_calloc(e, o->nstate + 1, sizeof(double));
    o->work = err_calloc(e, mt->work_size(&h, n) + 1, sizeof(double));
    o->nrng = h.zo_samples > 1 ? h.zo_samples : 1;
    o->rngs = err_calloc(e, (size_t)o->nrng, sizeof *o->rngs);
    if (!o->state || !o->work || !o->rngs) {
        opt_free(o);
        return err_wrap(e, "%s: state and workspace for %zu parameters", name, n);
    }
    o->rule_state = o->state + grok;
    for (int k = 0; k < o->nrng; k++)
        if (!(o->rngs[k] = rng_stream(h.seed, RNG_OPTIM, (uint64_t)k))) {
            opt_free(o);
            return err_set(e, ERR_SYS, "optimizer: out of memory");
        }
    o->key = (uint64_t)gsl_rng_get(o->rngs[0]) << 32 ^ (uint64_t)gsl_rng_get(o->rngs[0]);
    *out = o;
    return 0;
}

int opt_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e)
{
    if (m->n != o->n)
        return err_set(e, ERR_USAGE, "optimizer: made for %zu parameters, model has %zu",
                       o->n, m->n);
    int rc;
    if (!o->segs && (rc = make_segments(o, m, e)))
        return rc;
    model_stats local;
    st = st ? st : &local;
    o->t++;
    o->lr = o->hp.lr * sched_factor(&o->hp.sched, o->t);
    o->last = (opt_metrics){NAN, NAN, NAN, NAN, o->lr};
    rc = o->method->step(o, m, theta, b, st, e);
    if (rc)
        o->t--;
    return rc;
}

const opt_metrics *opt_last(const opt *o)
{
    return &o->last;
}

long opt_steps(const opt *o)
{
    return o->t;
}

size_t opt_state_len(const opt *o)
{
    return 1 + o->nstate;
}

void opt_state_save(const opt *o, double *buf)
{
    buf[0] = (double)o->t;
    memcpy(buf + 1, o->state, o->nstate * sizeof *buf);
}

int opt_state_load(opt *o, const double *buf, size_t len, err *e)
{
    if (len != opt_state_len(o))
        return err_set(e, ERR_USAGE, "optimizer state: %zu values, %s needs %zu", len,
                       o->method->name, opt_state_len(o));
    if (!(buf[0] >= 0 && buf[0] <= 9007199254740992.0 && buf[0] == floor(buf[0])))
        return err_set(e, ERR_USAGE, "optimizer state: step count %g is not a whole number",
                       buf[0]);
    o->t = (long)buf[0];
    memcpy(o->state, buf + 1, o->nstate * sizeof *buf);
    return 0;
}

void opt_free(opt *o)
{
    if (!o)
        return;
    for (int k = 0; o->rngs && k < o->nrng; k++)
        rng_free(o->rngs[k]);
    free(o->rngs);
    free(o->segs);
    free(o->seg_u2);
    free(o->state);
    free(o->work);
    free(o);
}
