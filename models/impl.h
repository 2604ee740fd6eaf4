/* impl.h -- constructors of the model implementations behind model.h's method table.
 * Internal to models/: callers use model_new(). */
#ifndef BASIN_MODELS_IMPL_H
#define BASIN_MODELS_IMPL_H

#include "model.h"

/* Networks on the core autodiff graph: "logreg", "mlp" (models/net.c). */
int net_new(const model_opts *o, model **out, err *e);

/* Convolutional networks on the graph: "cnn", "resnet" (models/cnn.c); cnn_is()
 * tells whether a kind string names one. */
int cnn_new(const model_opts *o, model **out, err *e);
int cnn_is(const char *kind);

/* The executor every graph-backed model shares (models/net.c): one graph per pool
 * thread, made by `build` with `chunk` rows; batches cut into chunks and the threads'
 * sums added in thread order (model.h's determinism contract); `init` draws the
 * initial theta. Such a model's m->impl points to a malloc'd struct whose first
 * member is a net_exec; m->n, blocks, in_dim, out_dim and feat_dim are set before
 * net_exec_start(), which installs the shared method table and the workers. From
 * then on model_free() frees the workers and m->impl. */
typedef struct net_worker net_worker;
typedef struct net_exec {
    size_t chunk;
    ad_graph *(*build)(const model *m, err *e);
    int (*init)(const model *m, double *theta, uint64_t seed, err *e);
    int wide;               /* 1: a batch that fits one chunk runs as one chunk on the
                               caller, its matrix products split over the pool (dense
                               nets); 0: cut into a chunk per thread (convolutional
                               models, whose per-sample ops would then run on one core) */
    int nthreads;           /* workers allocated */
    net_worker *w;          /* (nthreads) */
} net_exec;

int net_exec_start(model *m, err *e);

/* 2-D test functions (models/testfn.c): "rosenbrock", "beale", "himmelblau",
 * "rastrigin", "quadratic:a,b". Returns ERR_USAGE with a message for other names;
 * testfn_is() tells whether a kind string names a test function. */
int testfn_new(const model_opts *o, model **out, err *e);
int testfn_is(const char *kind);

/* Allocate a model shell with `nblocks` zeroed blocks; the caller fills it. */
model *model_alloc(int nblocks, err *e);

#endif
