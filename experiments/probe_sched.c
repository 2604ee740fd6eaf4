/* probe_sched.c -- the probes scheduled during `basin run` training (probe_sched.h). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "../core/rng.h"
#include "../probes/collapse.h"
#include "probe_sched.h"

/* RNG_PROBE sub-streams (probe_sched.h). */
enum { SUB_EIGS = 0, SUB_TRACE, SUB_DENSITY, SUB_SHARP, SUB_PRECOND, SUB_SUBSET };

/* PyHessian's defaults, as basin hessian's. */
#define TRACE_MAX 100
#define SLQ_STEPS 100

struct probe_sched {
    const session *s;
    probe_plan p;
    opt_hparams hp;         /* resolved, schedule horizon set: the optimizer's */
    int momentum;           /* SGD heavy-ball: log eos_threshold_momentum */
    size_t adam_v;          /* Adam's v in the opt_state_save buffer; 0: not Adam */
    batch b;                /* the probe samples */
    double *x, *tg;         /* (k, d), (k, tdim): a subset's rows, NULL for the whole split */
    int *y;
    double *g, *d, *state;  /* (n) gradient, (n) preconditioner scaling, optimizer state */
    const volatile sig_atomic_t *stop;   /* non-zero: stop at the next HVP (or NULL) */
    long skipped;           /* probes skipped over the schedule's life */
    char first_skip[256];   /* the first one: "step K: reason" */
};

/* The operator the probes use: the model's, stopping with ERR_SYS before an
 * application once *stop is set (a signal), so that a long probe ends within one HVP. */
typedef struct stoppable {
    hess_op *in;
    const volatile sig_atomic_t *stop;
} stoppable;

static int stoppable_apply(void *ctx, const double *v, double *hv, err *e)
{
    stoppable *s = ctx;
    if (s->stop && *s->stop)
        return err_set(e, ERR_SYS, "interrupted by signal %d", (int)*s->stop);
    return hess_op_apply(s->in, v, hv, e);
}

static void stoppable_release(void *ctx)
{
    stoppable *s = ctx;
    hess_op_free(s->in);
    free(s);
}

/* The model's operator at theta on the probe samples, wrapped by stoppable. */
static hess_op *probe_op(const probe_sched *p, err *e)
{
    hess_op *in = hess_op_model(p->s->m, p->s->theta, p->b, e), *op = NULL;
    stoppable *s = in ? err_malloc(e, sizeof *s) : NULL;
    if (s)
        op = err_malloc(e, sizeof *op);
    if (!op) {
        free(s);
        hess_op_free(in);
        return NULL;
    }
    *s = (stoppable){in, p->stop};
    *op = (hess_op){.n = in->n, .apply = stoppable_apply, .ctx = s, .release = stoppable_release};
    return op;
}

/* The update rule that turns gradients into steps: the base rule of the estimators. */
static const char *rule_of(const cfg *c)
{
    int est = !strcmp(c->optim, "sam") || !strcmp(c->optim, "gam")
           || !strcmp(c->optim, "forward-grad");
    return est ? (c->hp.base[0] ? c->hp.base : "sgd") : c->optim;
}

/* p->b = the probe samples: probe-samples rows drawn once from the training split, or
 * the whole split. */
static int draw_subset(probe_sched *p, err *e)
{
    const data *d = p->s->train;
    size_t k = p->p.samples;
    if (!d || !k || k >= d->n) {
        p->b = session_batch(d);
        return 0;
    }
    size_t w = (size_t)d->d, tw = (size_t)d->tdim;
    size_t *all = err_malloc(e, d->n * sizeof *all), *idx = err_malloc(e, k * sizeof *idx);
    gsl_rng *r = rng_stream(p->s->c.seed, RNG_PROBE, SUB_SUBSET);
    p->x = err_malloc(e, k * w * sizeof *p->x);
    p->y = d->y ? err_malloc(e, k * sizeof *p->y) : NULL;
    p->tg = d->t ? err_malloc(e, k * tw * sizeof *p->tg) : NULL;
    int rc = all && idx && r && p->x && (!d->y || p->y) && (!d->t || p->tg)
                 ? 0 : err_set(e, ERR_SYS, "probes: out of memory");
    if (!rc) {
        for (size_t i = 0; i < d->n; i++)
            all[i] = i;
        gsl_ran_choose(r, idx, k, all, d->n, sizeof *all);   /* in split order */
        for (size_t i = 0; i < k; i++) {
            memcpy(p->x + i * w, d->x + idx[i] * w, w * sizeof *p->x);
            if (d->y)
                p->y[i] = d->y[idx[i]];
            if (d->t)
                memcpy(p->tg + i * tw, d->t + idx[i] * tw, tw * sizeof *p->tg);
        }
        p->b = (batch){.x = p->x, .y = p->y, .t = p->tg, .n = k};
    }
    free(all);
    free(idx);
    rng_free(r);
    return rc;
}

int probe_sched_new(const trainer *t, const volatile sig_atomic_t *stop, probe_sched **out,
                    err *e)
{
    const session *s = t->s;
    const probe_plan *pl = &s->c.probes;
    *out = NULL;
    if (!pl->hessian_every && !pl->trace_every && !pl->density_every && !pl->sharpness_every
        && !pl->collapse_every)
        return 0;
    if (pl->collapse_every && (!s->train || !s->train->classes))
        return err_set(e, ERR_USAGE, "collapse-every: needs a classification dataset and a network");
    size_t n = s->m->n;
    if (pl->overlap_top > pl->top)
        return err_set(e, ERR_USAGE, "overlap-top %d exceeds hessian-top %d", pl->overlap_top,
                       pl->top);
    if (pl->hessian_every && (size_t)pl->top > n)
        return err_set(e, ERR_USAGE, "hessian-top %d: the %s model has %zu parameters", pl->top,
                       s->m->kind, n);
    probe_sched *p = err_calloc(e, 1, sizeof *p);
    if (!p)
        return ERR_SYS;
    p->s = s;
    p->stop = stop;
    p->p = *pl;
    p->hp = s->c.hp;
    opt_defaults(s->c.optim, &p->hp);
    p->hp.sched.total = t->total;
    const char *rule = rule_of(&s->c);
    p->momentum = !strcmp(rule, "sgd") && p->hp.momentum > 0 && !p->hp.nesterov;
    if (!strcmp(rule, "adam") || !strcmp(rule, "adamw"))   /* optim/opt.c's buffer: t, */
        p->adam_v = 1 + (p->hp.grokfast_lambda != 0 ? n : 0) + n;   /* Grokfast EMA, m, v */
    int rc = draw_subset(p, e);
    if (!rc && pl->hessian_every) {
        p->g = err_malloc(e, n * sizeof *p->g);
        if (p->adam_v) {
            p->d = err_malloc(e, n * sizeof *p->d);
            p->state = err_malloc(e, opt_state_len(t->o) * sizeof *p->state);
        }
        rc = p->g && (!p->adam_v || (p->d && p->state)) ? 0 : ERR_SYS;
    }
    if (rc) {
        probe_sched_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

static int due(long every, const trainer *t)
{
    return every > 0 && (t->step % every == 0 || t->step == t->total);
}

int probe_sched_due(const probe_sched *p, const trainer *t)
{
    return due(p->p.hessian_every, t) || due(p->p.trace_every, t) || due(p->p.density_every, t)
        || due(p->p.sharpness_every, t) || due(p->p.collapse_every, t);
}

/* One metric row of the probe step; store errors as minus their code. */
static int metric(const trainer *t, store *st, const char *run, const char *key, double v,
                  err *e)
{
    int rc = store_metric(st, run, key, t->step, trainer_epoch(t), v, e);
    return rc ? -rc : 0;
}

/* Top eigenpairs, edge-of-stability metrics, gradient overlap, preconditioned sharpness. */
static int hessian(probe_sched *p, const trainer *t, hess_op *op, store *st, const char *run,
                   err *pe, err *e)
{
    const session *s = p->s;
    size_t n = s->m->n;
    hess_eig_opts o;
    hess_eig_opts_default(&o);
    o.top = p->p.top;
    o.tol = p->p.tol;
    o.seed = s->c.seed;
    o.sub = SUB_EIGS;
    hess_eigs_result r = {0};
    int rc = hess_eigs(op, &o, &r, pe);
    rc = rc ? rc : model_grad(s->m, s->theta, p->b, p->g, NULL, pe);
    if (rc) {
        hess_eigs_result_free(&r);
        return rc;
    }
    long next = t->step < t->total ? t->step + 1 : t->total;
    double lr = p->hp.lr * sched_factor(&p->hp.sched, next), lmax = r.values[0];
    rc = store_eigs_put(st, run, t->step, "lanczos", r.values, r.k, e) ? -e->code : 0;
    rc = rc ? rc : metric(t, st, run, "lambda_max", lmax, e);
    rc = rc ? rc : metric(t, st, run, "eos_threshold", sharp_eos_threshold(lr, 0), e);
    rc = rc ? rc : metric(t, st, run, "eos_ratio", lr * lmax / 2, e);
    if (!rc && p->momentum)
        rc = metric(t, st, run, "eos_threshold_momentum", sharp_eos_threshold(lr, p->hp.momentum), e);
    int ko = p->p.overlap_top > 0 && p->p.overlap_top < r.k ? p->p.overlap_top : r.k;
    rc = rc ? rc : metric(t, st, run, "grad_overlap", hess_overlap(p->g, r.vectors, ko, n), e);
    hess_eigs_result_free(&r);
    long steps = opt_steps(t->o);
    if (rc || !p->adam_v || steps < 1)
        return rc;
    /* P^-1/2 H P^-1/2 with P = (1 - beta1^t) (sqrt(v_hat) + eps) */
    opt_state_save(t->o, p->state);
    sharp_adam_scaling(p->state + p->adam_v, n, steps, p->hp.beta2, p->hp.eps, p->d);
    double bc1 = 1 / sqrt(1 - pow(p->hp.beta1, (double)steps));
    for (size_t i = 0; i < n; i++)
        p->d[i] *= bc1;
    hess_op *pop = hess_op_scaled(op, p->d, pe);
    if (!pop)
        return pe->code;
    o.top = 1;
    o.sub = SUB_PRECOND;
    if (!(rc = hess_eigs(pop, &o, &r, pe))) {
        rc = metric(t, st, run, "precond_sharpness", r.values[0], e);
        rc = rc ? rc : metric(t, st, run, "precond_threshold",
                              sharp_adam_threshold(lr, p->hp.beta1), e);
    }
    hess_eigs_result_free(&r);
    hess_op_free(pop);
    return rc;
}

static int trace(probe_sched *p, const trainer *t, hess_op *op, store *st, const char *run,
                 err *pe, err *e)
{
    hess_trace_result r;
    int rc = hess_trace_run(op, p->p.tol, 2, TRACE_MAX, p->s->c.seed, SUB_TRACE, &r, pe);
    if (rc)
        return rc;
    if (store_trace_put(st, run, t->step, r.trace, r.stderr_, (int)r.samples, e))
        return -e->code;
    return metric(t, st, run, "trace", r.trace, e);
}

int probe_put_density(store *st, const char *run, long step, const hess_slq_result *q, err *e)
{
    size_t cells = (size_t)q->runs * (size_t)q->steps;
    double *nodes = err_malloc(e, cells * sizeof *nodes), *w = err_malloc(e, cells * sizeof *w);
    int k = 0, rc = nodes && w ? 0 : ERR_SYS;
    for (int r = 0; !rc && r < q->runs; r++)
        for (int i = 0; i < q->count[r]; i++, k++) {
            nodes[k] = q->nodes[(size_t)r * q->steps + i];
            w[k] = q->weights[(size_t)r * q->steps + i] / q->runs;
        }
    rc = rc ? rc : store_density_put(st, run, step, nodes, w, k, e);
    free(nodes);
    free(w);
    return rc;
}

static int density(probe_sched *p, const trainer *t, hess_op *op, store *st, const char *run,
                   err *pe, err *e)
{
    hess_slq_result q;
    int rc = hess_slq(op, SLQ_STEPS, 1, p->s->c.seed, SUB_DENSITY, &q, pe);
    if (!rc && (rc = probe_put_density(st, run, t->step, &q, e)))
        rc = -rc;
    hess_slq_result_free(&q);
    return rc;
}

void probe_sharp_key(enum sharp_kind k, char *key)
{
    snprintf(key, 32, "sharp_%s", sharp_kind_name(k));
    for (char *c = key; *c; c++)
        *c = *c == '-' ? '_' : *c;
}

static int sharpness(probe_sched *p, const trainer *t, store *st, const char *run, err *pe,
                     err *e)
{
    sharp_opts o;
    sharp_opts_default(&o);
    o.kind = p->p.sharp_kind;
    o.rho = p->p.rho;
    o.adaptive = p->p.adaptive;
    o.seed = p->s->c.seed;
    o.sub = SUB_SHARP;
    sharp_result r;
    int rc = sharp_measure(p->s->m, p->s->theta, p->b, &o, &r, pe);
    if (rc)
        return rc;
    char key[32];
    probe_sharp_key(o.kind, key);
    if (store_sharpness_put(st, run, t->step, key, o.rho, r.value, e))
        return -e->code;
    return metric(t, st, run, key, r.value, e);
}

/* Neural collapse on the probe samples: every nc_result field as a metric (the keys
 * of probe_sched.h), and a collapse-table row with nc2 = the equiangularity of the
 * class means (the table has one nc2 column; basin plot collapse draws it). */
static int collapse(probe_sched *p, const trainer *t, store *st, const char *run, err *pe,
                    err *e)
{
    nc_result r;
    int rc = nc_model(p->s->m, p->s->theta, p->b, 0, &r, pe);
    if (rc)
        return rc;
    const char *keys[] = {"nc1", "nc1_notebook", "nc2_equinorm_means", "nc2_equinorm_weights",
                          "nc2_equiangular_means", "nc2_equiangular_weights", "nc3", "nc4",
                          "within_class_trace", "nc_error", "nc_margin"};
    double v[] = {r.nc1, r.nc1_notebook, r.nc2_equinorm_means, r.nc2_equinorm_weights,
                  r.nc2_equiangular_means, r.nc2_equiangular_weights, r.nc3, r.nc4,
                  r.within_class_trace, r.error, r.margin};
    for (size_t k = 0; !rc && k < sizeof v / sizeof v[0]; k++)
        rc = metric(t, st, run, keys[k], v[k], e);
    double nc[4] = {r.nc1, r.nc2_equiangular_means, r.nc3, r.nc4};
    if (!rc && store_collapse_put(st, run, t->step, "train", nc, e))
        rc = -e->code;
    return rc;
}

int probe_sched_run(probe_sched *p, const trainer *t, store *st, const char *run, err *pe,
                    err *e)
{
    enum { HESSIAN, TRACE, DENSITY, SHARPNESS, COLLAPSE, NPROBES };
    static const char *const name[NPROBES] = {"hessian", "trace", "density", "sharpness",
                                              "collapse"};
    const long every[NPROBES] = {p->p.hessian_every, p->p.trace_every, p->p.density_every,
                                 p->p.sharpness_every, p->p.collapse_every};
    hess_op *op = NULL;
    int rc = 0;
    long skipped = 0;
    if (due(every[HESSIAN], t) || due(every[TRACE], t) || due(every[DENSITY], t))
        if (!(op = probe_op(p, pe)))
            return pe->code;
    for (int k = 0; !rc && k < NPROBES; k++) {
        if (!due(every[k], t))
            continue;
        if (p->stop && *p->stop)
            rc = err_set(pe, ERR_SYS, "interrupted by signal %d", (int)*p->stop);
        else if (k == HESSIAN)
            rc = hessian(p, t, op, st, run, pe, e);
        else if (k == TRACE)
            rc = trace(p, t, op, st, run, pe, e);
        else if (k == DENSITY)
            rc = density(p, t, op, st, run, pe, e);
        else if (k == SHARPNESS)
            rc = sharpness(p, t, st, run, pe, e);
        else
            rc = collapse(p, t, st, run, pe, e);
        if (rc == ERR_DATA) {   /* a numerical failure (a non-finite H v, loss or feature) */
            if (!p->skipped++)
                snprintf(p->first_skip, sizeof p->first_skip, "step %ld: %s: %.200s", t->step,
                         name[k], pe->msg);
            skipped++;
            rc = 0;
        }
    }
    hess_op_free(op);
    if (!rc && skipped)
        rc = metric(t, st, run, "probes_skipped", (double)skipped, e);
    return rc;
}

long probe_sched_skipped(const probe_sched *p, const char **first)
{
    *first = p && p->skipped ? p->first_skip : "";
    return p ? p->skipped : 0;
}

void probe_sched_free(probe_sched *p)
{
    if (!p)
        return;
    free(p->x);
    free(p->y);
    free(p->tg);
    free(p->g);
    free(p->d);
    free(p->state);
    free(p);
}
