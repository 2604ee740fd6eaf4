/* impl.h -- constructors of the model implementations behind model.h's method table.
 * Internal to models/: callers use model_new(). */
#ifndef BASIN_MODELS_IMPL_H
#define BASIN_MODELS_IMPL_H

#include "model.h"

/* Networks on the core autodiff graph: "logreg", "mlp" (models/net.c). */
int net_new(const model_opts *o, model **out, err *e);

/* 2-D test functions (models/testfn.c): "rosenbrock", "beale", "himmelblau",
 * "rastrigin", "quadratic:a,b". Returns ERR_USAGE with a message for other names;
 * testfn_is() tells whether a kind string names a test function. */
int testfn_new(const model_opts *o, model **out, err *e);
int testfn_is(const char *kind);

/* Allocate a model shell with `nblocks` zeroed blocks; the caller fills it. */
model *model_alloc(int nblocks, err *e);

#endif
