/* opt.h -- optimizers behind one method table, over flat parameter vectors.
 *
 * An optimizer owns one contiguous state buffer (momentum, moments, ...) of
 * `state_size(n)` doubles, and performs whole steps: it asks the model for what it
 * needs (one gradient for SGD; two for SAM; losses only for MeZO) on the batch it is
 * given, and updates theta in place. Steps count from 1 (t is incremented before the
 * update, as in PyTorch). Conventions follow ../shared/REFERENCE-optimizers.md. */
#ifndef BASIN_OPT_H
#define BASIN_OPT_H

#include <stddef.h>
#include "../models/model.h"

typedef struct opt_hparams {
    double lr;            /* learning rate (the schedule multiplies it) */
    double momentum;      /* SGD momentum mu, 0 = plain SGD */
    double dampening;     /* SGD dampening tau */
    double weight_decay;  /* coupled L2 (SGD) */
    int nesterov;         /* SGD Nesterov momentum */
} opt_hparams;

typedef struct opt opt;

typedef struct opt_method {
    const char *name;
    size_t (*state_size)(size_t n);
    /* One step on batch b: theta updated in place, st receives the loss/accuracy the
     * step measured at the pre-update theta. */
    int (*step)(opt *o, model *m, double *theta, batch b, model_stats *st, err *e);
} opt_method;

struct opt {
    const opt_method *method;
    opt_hparams hp;
    size_t n;         /* parameters */
    long t;           /* steps taken */
    double lr;        /* learning rate of the current step (hp.lr times schedule) */
    double *state;    /* (state_size(n)) */
    double *work;     /* (n) scratch: the gradient */
};

/* Defaults as torch.optim: lr 0.01, no momentum, no decay. */
void opt_hparams_default(opt_hparams *hp);

/* New optimizer `name` ("sgd") for n parameters. ERR_USAGE for unknown names or
 * invalid hyperparameters (negative lr, momentum outside [0,1), nesterov without
 * momentum), naming the value. Caller frees with opt_free. */
int opt_new(const char *name, const opt_hparams *hp, size_t n, opt **out, err *e);

/* One step (see opt_method.step). */
int opt_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e);

void opt_free(opt *o);

#endif
