/* impl.h -- constructors of the model implementations behind model.h's method table.
 * Internal to models/: callers use model_new(). */
#ifndef BASIN_MODELS_IMPL_H
#define BASIN_MODELS_IMPL_H

#include "model.h"

/* The constructors of the registry's rows (registry.c). */
/* Networks on the core autodiff graph: "logreg", "mlp" (models/net.c). */
int net_new(const model_kind *k, const model_opts *o, model **out, err *e);

/* Convolutional networks on the graph: "cnn", "resnet" (models/cnn.c). */
int cnn_new(const model_kind *k, const model_opts *o, model **out, err *e);

/* The executor every graph-backed model shares (models/exec.c): one graph per pool
 * thread, made by `build` with `chunk` rows; batches cut into chunks and the threads'
 * sums added in thread order (model.h's determinism contract); `init` draws the
 * initial theta; `plane` is the model's optional landscape hook (model_vt.plane). Such
 * a model's m->impl points to a malloc'd struct whose first member is a model_exec;
 * m->n, blocks, in_dim, out_dim and feat_dim are set before model_exec_start(), which
 * installs the shared method table and the workers. From then on model_free() frees
 * the workers and m->impl. */
typedef struct model_exec_worker model_exec_worker;
typedef struct model_exec {
    size_t chunk;
    ad_graph *(*build)(const model *m, err *e);
    int (*init)(const model *m, double *theta, uint64_t seed, err *e);
    int (*plane)(model *m, const double *theta0, const double *d1, const double *d2,
                 const double *xs, const double *ys, size_t npts, batch b, model_stats *st,
                 err *e);
    int wide;               /* 1: a batch that fits one chunk runs as one chunk on the
                               caller, its matrix products split over the pool (dense
                               nets); 0: cut into a chunk per thread (convolutional
                               models, whose per-sample ops would then run on one core) */
    int nthreads;           /* workers allocated */
    model_exec_worker *w;   /* (nthreads) */
} model_exec;

int model_exec_start(model *m, err *e);

/* 2-D test functions (models/testfn.c): a model_kind's def is one of these. */
typedef struct testfn_def testfn_def;
extern const testfn_def testfn_rosenbrock, testfn_beale, testfn_himmelblau, testfn_rastrigin,
    testfn_quadratic;
int testfn_new(const model_kind *k, const model_opts *o, model **out, err *e);
/* model_fn_info of a test function's row k for the kind string `kind`. */
int testfn_info(const model_kind *k, const char *kind, model_fn *f, err *e);

/* Allocate a model shell with `nblocks` zeroed blocks; the caller fills it. */
model *model_alloc(int nblocks, err *e);

#endif
