/* probe_sched.h -- the probes `basin run` carries out during training: the [probes]
 * keys of an experiment file (cfg.h's probe_plan), written to the store beside the
 * run's metrics, linked to the run and the step.
 *
 * Schedule: a probe set to run every N steps runs at step 0, at every step k with
 * k % N == 0, and at the last step, on theta after k updates -- that is, before update
 * k + 1, where the edge-of-stability code measures.
 *
 * Samples: every probe of a run sees one subset of the training split, drawn once:
 * probe-samples samples chosen by gsl_ran_choose from rng_stream(seed, RNG_PROBE, 5)
 * and kept in split order, or the whole split when probe-samples is 0 (or not smaller
 * than it). It is recorded by what determines it: the run's configuration (data
 * options, seed, probe-samples), stored with the run. Random vectors come from
 * rng_stream(seed, RNG_PROBE, sub): sub 0 eigenpairs, 1 trace, 2 density, 3 sharpness,
 * 4 preconditioned eigenpairs -- the same at every step, and so the same after a
 * resume. The probes only read theta, the optimizer state and the data and draw from
 * no training stream: a run's trajectory is bit-identical with and without them.
 *
 * What a probe step k writes (metric keys: results/README.md; lr is the learning rate
 * of update k + 1, the one the thresholds are about, or of the last update at the last
 * step):
 *   hessian-every    hessian_eigs rows ("lanczos", the hessian-top largest), metrics
 *                    lambda_max, eos_threshold = 2/lr, eos_ratio = lr lambda_max / 2,
 *                    eos_threshold_momentum = (2 + 2 beta)/lr for SGD with heavy-ball
 *                    momentum beta > 0, grad_overlap = the share of the probe
 *                    gradient's squared norm in the span of the eigenvectors (the
 *                    first overlap-top of them when set: the top-C subspace of Gur-Ari
 *                    et al. beside a longer spectrum); for adam
 *                    and adamw (also as the base rule of sam, gam, forward-grad) after
 *                    step 0: precond_sharpness = lambda_max(P^-1 H) with the
 *                    preconditioner of the last update, P = (1 - beta1^t)
 *                    (sqrt(v / (1 - beta2^t)) + eps) (Cohen et al. 2022; the
 *                    1 - beta1^t factor is Adam's first-moment bias correction, which
 *                    sharp_adam_scaling leaves out), and precond_threshold =
 *                    (2 + 2 beta1) / ((1 - beta1) lr)
 *   trace-every      a trace row (estimate, stderr, samples) and metric trace
 *   density-every    density rows: the nodes of the SLQ run, weights summing to 1
 *   sharpness-every  a sharpness row (kind sharp_<kind>, dashes as underscores) and the
 *                    metric of that key
 *   collapse-every   neural collapse (probes/collapse.h, nc_model) on the probe samples,
 *                    as metrics: nc1, nc1_notebook, nc2_equinorm_means,
 *                    nc2_equinorm_weights, nc2_equiangular_means, nc2_equiangular_weights,
 *                    nc3, nc4, within_class_trace, nc_error (1 - accuracy of the network
 *                    on those samples) and nc_margin (mean of z_y - max_{c != y} z_c);
 *                    and a collapse row (split train) whose nc2 is
 *                    nc2_equiangular_means (the table has one nc2 column)
 * Eigenvalue residuals, iteration counts and convergence are not stored (the tables
 * have no column for them); `basin hessian --init RUN@STEP` reports them. */
#ifndef BASIN_PROBE_SCHED_H
#define BASIN_PROBE_SCHED_H

#include <signal.h>

#include "../probes/hessian.h"
#include "../probes/sharp.h"
#include "../results/store.h"
#include "trainer.h"

typedef struct probe_sched probe_sched;

/* The probes t->s->c.probes schedules for the training of t (initialized; its session
 * and optimizer are borrowed for the schedule's life). stop (may be NULL) is watched
 * during the probes: once it is non-zero (a signal's number), the running probe ends
 * before its next Hessian-vector product, or before the next probe, with ERR_SYS.
 * *out = NULL, and 0 returned, when no probe is scheduled. ERR_USAGE when hessian-top
 * exceeds the model's parameters. Caller: probe_sched_free. */
int probe_sched_new(const trainer *t, const volatile sig_atomic_t *stop, probe_sched **out,
                    err *e);

/* 1 when some probe is due at t->step. */
int probe_sched_due(const probe_sched *p, const trainer *t);

/* Run the probes due at t->step and write their rows for run `run` to st. A probe
 * that fails numerically (ERR_DATA: a non-finite H v, loss or feature, as a blowing-up
 * run gives) is skipped -- the others still run, and the step gets a metric
 * probes_skipped (how many) -- so that probes never change a run's outcome. Other
 * failures of a probe (ERR_SYS: out of memory, or stopped) return their code with the
 * message on pe; a store error returns minus its code with the message on e (the
 * runner's convention). */
int probe_sched_run(probe_sched *p, const trainer *t, store *st, const char *run, err *pe,
                    err *e);

/* How many probes were skipped over the schedule's life, with *first = "step K:
 * probe: reason" of the first one ("" when none; p may be NULL). */
long probe_sched_skipped(const probe_sched *p, const char **first);

/* NULL is fine. */
void probe_sched_free(probe_sched *p);

/* Rows shared with the probe commands' --db (cmd_probe.c). */

/* key (32 bytes) = the metric key and sharpness-table kind of sharpness kind k:
 * "sharp_" and its name, dashes as underscores ("sharp_worst_l2"). */
void probe_sharp_key(enum sharp_kind k, char *key);

/* The density rows of run `run` at `step`: the nodes of all SLQ runs of q, each run's
 * weights divided by the number of runs (so they sum to 1). */
int probe_put_density(store *st, const char *run, long step, const hess_slq_result *q, err *e);

#endif
