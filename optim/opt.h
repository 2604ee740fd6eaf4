/* opt.h -- optimizers behind one method table, over flat parameter vectors; and the
 * learning-rate schedules they share.
 *
 * An optimizer performs whole steps: it asks the model for what it needs on the batch
 * it is given (one gradient for SGD and the Adam family, two for SAM, four for GAM,
 * K forward-mode JVPs for forward gradient, 2n losses for MeZO) and updates theta in
 * place. Steps count from 1 (t is incremented before the update, as in PyTorch).
 * Every formula follows ../shared/REFERENCE-optimizers.md to its order of operations.
 *
 * Methods come in two kinds. An *update rule* (sgd, adam, adamw, diffgrad, ademamix,
 * dog) turns a gradient into a step; used directly it takes the batch gradient. A
 * *gradient estimator* (sam, gam, forward-grad) produces the gradient some other way
 * and hands it to a base rule (hp.base, default sgd). MeZO is its own ZO-SGD update.
 * Between estimate and rule an optional Grokfast EMA filter may amplify slow
 * gradient components.
 *
 * Weight decay is applied per parameter block according to its role (model.h): roles
 * in hp.wd_exclude get none. Default: nothing excluded (torch.optim semantics) for
 * every method except MeZO, which excludes biases and norm parameters as its
 * reference does.
 *
 * State: everything a run needs to continue is one flat buffer (moments, Grokfast
 * EMA, DoG's start point and sums) plus t. Random directions (forward-gradient
 * tangents, MeZO's z) are a pure function of (hp.seed, t, k) through the RNG_OPTIM
 * stream, so no generator state needs saving: opt_state_save/opt_state_load move
 * (t, state) through one double buffer, and a run split in two at any step equals
 * the run in one piece bit for bit. */
#ifndef BASIN_OPT_H
#define BASIN_OPT_H

#include <stddef.h>
#include <stdint.h>
#include "../models/model.h"

/* Learning-rate schedules: the step-t learning rate is hp.lr * sched_factor(s, t). */
enum sched_kind { SCHED_CONSTANT = 0, SCHED_STEP, SCHED_COSINE, SCHED_ONECYCLE, SCHED_EXP,
                  SCHED_COUNT };

typedef struct opt_sched {
    enum sched_kind kind;
    long warmup;        /* constant, step, cosine: linear warm-up factor t/warmup for
                           t <= warmup (0: none) */
    long total;         /* cosine, one-cycle: horizon in steps (train/optimize set it) */
    long step_every;    /* step: multiply by step_gamma every step_every steps (30) */
    double step_gamma;  /* step: factor (0.1) */
    double lr_min;      /* cosine: final factor (0) */
    double pct_start;   /* one-cycle: fraction of the steps spent rising (0.3) */
    double decay;       /* exp: factor exp(-(t - 1) decay) (forward gradient's eta_i) */
} opt_sched;

typedef struct opt_hparams {
    double lr;            /* base learning rate; NAN: the rule's default (sgd 0.01,
                             adam/adamw/diffgrad/ademamix/mezo 1e-3, dog 1) */
    double momentum;      /* SGD momentum mu, 0 = plain SGD */
    double dampening;     /* SGD dampening tau */
    int nesterov;         /* SGD Nesterov momentum */
    double weight_decay;  /* NAN: the rule's default (adamw 1e-2, else 0); coupled L2
                             except adamw and ademamix (decoupled) */
    int wd_exclude;       /* bit mask of 1 << ROLE_* without decay; -1: the default */
    double beta1, beta2;  /* Adam family (0.9, 0.999) */
    double beta3, alpha;  /* AdEMAMix slow EMA and its weight (0.9999, 2) */
    long t_alpha, t_beta3;/* AdEMAMix warm-up lengths (0: none) */
    double eps;           /* Adam family (1e-8) */
    char base[16];        /* sam, gam, forward-grad: the update rule ("sgd") */
    double rho;           /* SAM radius (0.05) */
    int adaptive;         /* SAM/GAM: ASAM's scale-invariant perturbation */
    double eta;           /* ASAM: a = |theta| + eta on weight blocks (0) */
    size_t sam_m;         /* SAM m-sharpness: sub-batches of this size (0: whole batch) */
    double grad_rho;      /* GAM rho' (0.03) */
    double grad_norm_rho; /* GAM rho (0.2) */
    double grad_beta0, grad_beta1, grad_gamma; /* GAM (0.1, 0.1, 0.05) */
    int gam_exact;        /* GAM with an exact HVP for g1 - g0 (not the released form) */
    int tangents;         /* forward gradient: K tangents averaged (1) */
    double zo_eps;        /* MeZO perturbation scale (1e-3) */
    int zo_samples;       /* MeZO: n seeds averaged (1) */
    double grokfast_alpha;  /* Grokfast EMA factor (0.98) */
    double grokfast_lambda; /* Grokfast amplification, 0 = off (0) */
    opt_sched sched;
    uint64_t seed;        /* run seed: forward-gradient tangents, MeZO directions */
} opt_hparams;

/* What the last step measured (NAN where it does not apply). */
typedef struct opt_metrics {
    double loss;            /* loss at the pre-update theta (MeZO: mean of (L+ + L-)/2) */
    double grad_norm;       /* ||g|| at theta; forward gradient, MeZO: of the estimate */
    double update_norm;     /* ||theta_before - theta_after|| */
    double perturbed_loss;  /* SAM: L(theta + e); GAM: L at the last perturbed point */
    double lr;              /* learning rate of the step (schedule applied) */
} opt_metrics;

typedef struct opt opt;

/* Defaults as listed beside each field; lr and weight_decay NAN (method default). */
void opt_hparams_default(opt_hparams *hp);

/* The --optim names, space-separated, for help texts. */
const char *opt_names(void);

/* 0 when optimizer `name` exists and `base` (NULL or "": its default) may stand under
 * it; name NULL: whether `base` is an update rule. Else ERR_USAGE naming the value, as
 * opt_new would. Hyperparameter values are checked by opt_new. */
int opt_names_check(const char *name, const char *base, err *e);

/* Resolve the "method default" markers of hp (NAN lr and weight_decay, wd_exclude -1)
 * for optimizer `name` (its base rule's defaults for sam, gam, forward-grad).
 * ERR_USAGE for unknown names or a base that is not an update rule; hp is then
 * unchanged. */
int opt_defaults(const char *name, opt_hparams *hp);

/* New optimizer `name` for n parameters with hyperparameters hp (copied).
 * ERR_USAGE for unknown names or invalid hyperparameters (negative lr, momentum
 * outside [0,1), betas outside [0,1), nesterov without momentum, a base that is not an
 * update rule, ...), naming the value. Caller frees with opt_free. */
int opt_new(const char *name, const opt_hparams *hp, size_t n, opt **out, err *e);

/* One step on batch b (theta (n), updated in place). st, when non-NULL, receives the
 * loss/accuracy measured at the pre-update theta. Errors come from the model. */
int opt_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e);

/* Metrics of the last step. */
const opt_metrics *opt_last(const opt *o);

/* Steps taken so far. */
long opt_steps(const opt *o);

/* Checkpoint: opt_state_len() doubles hold (t, state); save copies them out, load
 * restores them into an optimizer made with the same name, hparams and n (ERR_USAGE
 * on a length mismatch or a t that is not a whole number >= 0). */
size_t opt_state_len(const opt *o);
void opt_state_save(const opt *o, double *buf);
int opt_state_load(opt *o, const double *buf, size_t len, err *e);

/* v (n) = the k-th random direction of step t (k < tangents or zo_samples): the
 * N(0, I) tangent forward gradient uses, or MeZO's z, exactly as the step draws it. */
void opt_direction(opt *o, long t, int k, double *v);

/* Free; NULL is fine. */
void opt_free(opt *o);

/* --- schedules (sched.c) --- */

/* Defaults: constant, no warm-up, step 30 x 0.1, lr_min 0, pct_start 0.3, decay 0. */
void sched_default(opt_sched *s);

/* Schedule kind by name ("constant", "step", "cosine", "onecycle", "exp"); -1 when
 * unknown. sched_name is the reverse. */
int sched_parse(const char *name);
const char *sched_name(enum sched_kind k);

/* ERR_USAGE when s cannot be evaluated (cosine/one-cycle without a horizon, warm-up
 * not shorter than the horizon, ...). */
int sched_check(const opt_sched *s, err *e);

/* Factor of the base learning rate at step t >= 1:
 *   warm(t) = t/warmup for t <= warmup, else 1 (constant, step, cosine);
 *   constant  warm(t)
 *   step      warm(t) * step_gamma^floor((t-1)/step_every)
 *   cosine    warm(t) for t <= warmup, then lr_min + (1-lr_min)(1 + cos(pi p))/2,
 *             p = (t - warmup)/(total - warmup)
 *   onecycle  torch.optim.lr_scheduler.OneCycleLR (anneal cos, div 25, final div 1e4,
 *             max lr = hp.lr) at step_num = t - 1; momentum is not cycled
 *   exp       exp(-(t - 1) decay) */
double sched_factor(const opt_sched *s, long t);

#endif
