/* trainer.h -- the mini-batch training loop shared by `basin train` and `basin run`,
 * as init / iterate (GSL style: the caller owns the loop, its logging and stopping).
 *
 * Step t (1-based) draws the next mini-batch of the epoch's order (a permutation of
 * the training split from the RNG_ORDER stream, reshuffled at the start of every
 * epoch unless --no-shuffle; the last short batch is kept) and asks the optimizer for
 * one update. Everything the trajectory depends on besides theta and the optimizer
 * state -- the step count, the order stream's raw state and, within an epoch, its
 * permutation (at an epoch's start, step 0 included, the next step draws one from the
 * stream) -- is the trainer's "aux" state, so (theta, optimizer state, aux) saved after
 * any step, or before the first, and restored into a fresh trainer continue the run bit
 * for bit. */
#ifndef BASIN_TRAINER_H
#define BASIN_TRAINER_H

#include <gsl/gsl_rng.h>
#include "session.h"

typedef struct trainer {
    session *s;             /* opened; theta is updated in place */
    opt *o;
    gsl_rng *order;         /* RNG_ORDER stream of the seed */
    size_t *idx;            /* (n) this epoch's order */
    double *xb, *tb;        /* (bsz, d), (bsz, tdim): the gathered batch */
    int *yb;                /* (bsz) */
    size_t n, bsz, per_epoch;
    long total;             /* steps of the run (--steps, or epochs * per_epoch) */
    long step;              /* updates done */
} trainer;

/* Set up training of the opened session s, whose cfg has exactly one of epochs and
 * steps set (the caller checks): batch buffers, the order stream, the optimizer (its
 * schedule horizon set to the run's steps). ERR_USAGE for bad optimizer settings.
 * Caller: trainer_free. */
int trainer_init(trainer *t, session *s, err *e);

/* One update (t->step < t->total): theta changes in place; st receives the loss and
 * #correct of the batch at the pre-update theta. A non-finite loss is not an error
 * here: the caller decides (train fails, run marks the run DIVERGED). */
int trainer_step(trainer *t, model_stats *st, err *e);

/* Epochs completed (fractional): step / per_epoch. */
double trainer_epoch(const trainer *t);

/* The aux state: trainer_aux_size() bytes written by trainer_aux_save() and read by
 * trainer_aux_load(), which checks they come from a run of the same shape
 * (ERR_DATA otherwise). */
size_t trainer_aux_size(const trainer *t);
void trainer_aux_save(const trainer *t, void *buf);
int trainer_aux_load(trainer *t, const void *buf, size_t len, err *e);

/* Free what trainer_init made (not the session); safe on a zeroed trainer. */
void trainer_free(trainer *t);

#endif
