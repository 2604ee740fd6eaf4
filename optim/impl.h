/* impl.h -- what the optimizer files share; not part of the public interface (opt.h).
 *
 * The method table (opt.c) has one row per --optim name. A row is an update rule
 * (prepare/update: turn a gradient into a step), or a method with its own step
 * (gradient estimators, which hand their estimate to the base rule through
 * opt_apply, and MeZO). Rules work on one segment of theta at a time: a run of
 * parameter blocks with one role, so weight decay by role costs nothing per element.
 * All arrays are (n) unless stated; rule state lives in opt->rule_state. */
#ifndef BASIN_OPT_IMPL_H
#define BASIN_OPT_IMPL_H

#include <gsl/gsl_rng.h>
#include "opt.h"

enum opt_kind { OPT_RULE, OPT_ESTIMATOR, OPT_OWN };

typedef struct opt_seg {
    size_t lo, hi;          /* theta[lo, hi) */
    enum block_role role;
} opt_seg;

typedef struct opt_method {
    const char *name;
    enum opt_kind kind;
    double lr, weight_decay;    /* defaults for NAN hparams (rules and OPT_OWN) */
    int wd_exclude;             /* default role mask */
    /* persistent state (rules) and scratch (everyone), in doubles */
    size_t (*state_size)(const opt_hparams *hp, size_t n);
    size_t (*work_size)(const opt_hparams *hp, size_t n);
    /* validate the method's own hyperparameters (ERR_USAGE naming the value) */
    int (*init)(const opt_hparams *hp, err *e);
    /* estimators and OPT_OWN: a whole step (o->t already incremented); must set
     * o->last.loss, grad_norm, perturbed_loss, and st */
    int (*step)(opt *o, model *m, double *theta, batch b, model_stats *st, err *e);
    /* rules: once per step before the segments (may be NULL) */
    void (*prepare)(opt *o, double *theta, double *g, double *state);
    /* rules: update theta[lo, hi) from g (which it may change, e.g. g += lam theta);
     * lam is the segment's weight decay; returns the squared update norm */
    double (*update)(opt *o, double *theta, double *g, double *state, size_t lo, size_t hi,
                     double lam);
} opt_method;

struct opt {
    const opt_method *method;   /* the --optim row */
    const opt_method *rule;     /* the update rule: method itself, hp.base, or NULL (MeZO) */
    opt_hparams hp;             /* with defaults resolved */
    size_t n;
    long t;                     /* steps taken */
    double lr;                  /* learning rate of the current step */
    double *state;              /* (nstate): [Grokfast EMA (n, when on)] [rule state] */
    size_t nstate;
    double *rule_state;         /* into state */
    double *work;               /* method's scratch */
    opt_seg *segs;              /* theta's role segments, from the model at the first step,
                                   cut into pieces of at most OPT_PIECE */
    double *seg_u2;             /* (nsegs) each segment's squared update norm */
    int nsegs;
    gsl_rng **rngs;             /* (nrng) generators, reseeded per direction */
    int nrng;
    uint64_t key;               /* from the RNG_OPTIM stream of hp.seed */
    opt_metrics last;
};

/* Segments are cut at multiples of OPT_PIECE elements, so that the rule's pieces can
 * be spread over threads and the update norm summed piece by piece in one order. */
#define OPT_PIECE 8192

/* Grokfast filter (when on), then the rule over all segments; sets o->last.update_norm.
 * g is the gradient (estimate) and may be changed. The segments are split over the
 * pool's threads (core/pool.h) when theta is large; each element's update does not
 * depend on the thread count, nor does the norm (summed segment by segment in order). */
void opt_apply(opt *o, double *theta, double *g);

/* Weight decay of segment s (0 when its role is excluded). */
double opt_seg_decay(const opt *o, const opt_seg *s);

/* Reseed r for the k-th direction of step t. */
void opt_seed_direction(const opt *o, gsl_rng *r, long t, int k);

/* One N(0, 1) number from r: the only way directions are drawn. */
double opt_gauss(gsl_rng *r);

double opt_norm(const double *x, size_t n);

/* rules.c */
size_t opt_sgd_state(const opt_hparams *hp, size_t n);
size_t opt_adam_state(const opt_hparams *hp, size_t n);
size_t opt_three_state(const opt_hparams *hp, size_t n);
size_t opt_dog_state(const opt_hparams *hp, size_t n);
int opt_sgd_init(const opt_hparams *hp, err *e);
int opt_adam_init(const opt_hparams *hp, err *e);
int opt_ademamix_init(const opt_hparams *hp, err *e);
double opt_sgd_update(opt *o, double *theta, double *g, double *st, size_t lo, size_t hi, double lam);
double opt_adam_update(opt *o, double *theta, double *g, double *st, size_t lo, size_t hi, double lam);
double opt_adamw_update(opt *o, double *theta, double *g, double *st, size_t lo, size_t hi, double lam);
double opt_diffgrad_update(opt *o, double *theta, double *g, double *st, size_t lo, size_t hi, double lam);
double opt_ademamix_update(opt *o, double *theta, double *g, double *st, size_t lo, size_t hi, double lam);
void opt_dog_prepare(opt *o, double *theta, double *g, double *st);
double opt_dog_update(opt *o, double *theta, double *g, double *st, size_t lo, size_t hi, double lam);

/* sam.c */
size_t opt_sam_work(const opt_hparams *hp, size_t n);
size_t opt_gam_work(const opt_hparams *hp, size_t n);
int opt_sam_init(const opt_hparams *hp, err *e);
int opt_gam_init(const opt_hparams *hp, err *e);
int opt_sam_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e);
int opt_gam_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e);

/* zo.c */
size_t opt_fg_work(const opt_hparams *hp, size_t n);
size_t opt_mezo_work(const opt_hparams *hp, size_t n);
int opt_fg_init(const opt_hparams *hp, err *e);
int opt_mezo_init(const opt_hparams *hp, err *e);
int opt_fg_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e);
int opt_mezo_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e);

#endif
