/* model.h -- the one interface: a model is a function of a flat parameter vector.
 *
 * Everything that optimizes or measures sees a model through these calls, over one
 * contiguous double vector theta of length model->n, on a batch of samples:
 *
 *   model_loss      forward only                         -> mean loss, #correct
 *   model_grad      reverse mode                         -> g = dL/dtheta
 *   model_jvp       forward mode, one pass, no backward  -> <g, v>
 *   model_hvp       exact forward-over-reverse           -> H v (and g, optionally)
 *   model_features  penultimate activations (input of the last linear layer)
 *   model_lin_*     H v for many v at one fixed theta and batch (probes/hessian)
 *
 * The loss is always the *mean* over the batch's samples. A batch larger than the
 * model's chunk size is processed in physical chunks and combined as the
 * sample-weighted mean, so these calls work on 60,000 samples. With more than one
 * thread (core/pool.h) chunks are spread over threads; the partition depends only on
 * (batch size, chunk size, thread count), so for a given thread count the results
 * are bit-identical from run to run.
 *
 * A table of parameter blocks (name, offset, shape, role) travels with theta so that
 * per-layer work (filter normalization, adaptive sharpness, weight-decay exclusion)
 * needs no knowledge of the network. Dense networks lay theta out exactly as
 * PyTorch's named_parameters() of the equivalent nn.Sequential: "0.weight" [out,in]
 * row-major, "0.bias", "2.weight", ... so theta moves between basin and PyTorch.
 *
 * Implementations: networks on the core autodiff graph (dense: models/net.c;
 * convolutional "cnn" and "resnet": models/cnn.c, on net.c's executor) and 2-D test
 * functions with analytic derivatives (models/testfn.c), behind one method table. */
#ifndef BASIN_MODEL_H
#define BASIN_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "../core/ad.h"
#include "../core/err.h"

/* A batch: views of n samples, not owned. x is (n, d) row-major. Classification
 * batches carry labels y; regression batches carry targets t (n, tdim). A 2-D test
 * function ignores the batch (n may be 0). */
typedef struct batch {
    const double *x;
    const int *y;
    const double *t;
    size_t n;
} batch;

enum block_role { ROLE_WEIGHT = 0, ROLE_BIAS, ROLE_NORM };

typedef struct model_block {
    char name[48];          /* PyTorch parameter name, e.g. "2.weight" */
    size_t offset;          /* first element in theta */
    size_t size;            /* number of elements */
    int ndim;               /* 1..4 */
    int shape[4];           /* PyTorch shape; shape[0] = output rows/channels */
    enum block_role role;
} model_block;

/* What a call measured, besides its main output. */
typedef struct model_stats {
    double loss;      /* mean loss over the batch */
    double correct;   /* samples whose argmax output equals the label (0 for regression) */
    double jvp;       /* <grad, v>, set by model_jvp */
    size_t n;         /* samples evaluated */
} model_stats;

typedef struct model model;

typedef struct model_vt {
    int (*loss)(model *m, const double *theta, batch b, model_stats *st, err *e);
    int (*grad)(model *m, const double *theta, batch b, double *g, model_stats *st, err *e);
    int (*jvp)(model *m, const double *theta, const double *v, batch b, model_stats *st, err *e);
    int (*hvp)(model *m, const double *theta, const double *v, batch b, double *g,
               double *hv, model_stats *st, err *e);
    int (*features)(model *m, const double *theta, batch b, double *f, err *e);
    int (*init)(model *m, double *theta, uint64_t seed, err *e);
    void (*free)(model *m);
    /* Optional (NULL: callers evaluate model_loss point by point; probes/landscape.h).
     * st[k] = the loss and #correct of model_loss at theta0 + xs[k] d1 + ys[k] d2 on b,
     * for k < npts (d2 NULL: a line, ys ignored), equal to it to 1e-12 relative; the
     * batch has been checked by the caller. Bit-identical for a given thread count. */
    int (*plane)(model *m, const double *theta0, const double *d1, const double *d2,
                 const double *xs, const double *ys, size_t npts, batch b, model_stats *st,
                 err *e);
    /* Optional (NULL: model_lin falls back to hvp). The primal state behind model_lin:
     * lin_bytes is its size for batch b (0: none can be kept); lin_hvp is hvp with g =
     * NULL that allocates *state and records the primal pass when *state is NULL,
     * replays it after; lin_free frees a state. */
    size_t (*lin_bytes)(model *m, batch b);
    int (*lin_hvp)(model *m, const double *theta, const double *v, batch b, double *hv,
                   void **state, model_stats *st, err *e);
    void (*lin_free)(void *state);
} model_vt;

struct model {
    const model_vt *vt;
    char kind[32];          /* "mlp", "logreg", "rosenbrock", ... */
    size_t n;               /* length of theta */
    int nblocks;
    model_block *blocks;    /* (nblocks), owned */
    int in_dim;             /* input features expected per sample (0: no data) */
    int out_dim;            /* outputs (classes, or regression targets) */
    int feat_dim;           /* width of model_features rows */
    void *impl;             /* implementation state, owned */
};

/* --- the calls; each returns 0 or an err.h code with a message on e --- */

/* Mean loss (and #correct) of theta on b. */
int model_loss(model *m, const double *theta, batch b, model_stats *st, err *e);
/* g (n) = gradient of the mean loss; st may be NULL. */
int model_grad(model *m, const double *theta, batch b, double *g, model_stats *st, err *e);
/* st->jvp = <grad, v> by one forward-mode pass; never runs a backward pass. */
int model_jvp(model *m, const double *theta, const double *v, batch b, model_stats *st, err *e);
/* hv (n) = H v, exact; g (n) = gradient as a by-product when non-NULL. */
int model_hvp(model *m, const double *theta, const double *v, batch b, double *g,
              double *hv, model_stats *st, err *e);
/* f (b.n, feat_dim) = input of the last linear layer, row per sample. */
int model_features(model *m, const double *theta, batch b, double *f, err *e);
/* --- H v at one point, for many v ---
 * A linearization of the gradient at a fixed theta and batch (jax.linearize's idea):
 * the first model_lin_hvp runs a whole HVP and keeps its primal pass (each node's
 * value and adjoint, per chunk); later ones run only the tangent rules, about 30% fewer
 * FLOPs on an MLP, with the same bits as model_hvp. A model without a graph, or a
 * state over max_bytes, falls back to model_hvp (model_lin_bytes = 0). theta and the
 * batch's arrays are borrowed and must not change during its life. */
typedef struct model_lin model_lin;
int model_lin_new(model *m, const double *theta, batch b, size_t max_bytes, model_lin **out,
                  err *e);
/* hv (n) = H v at the linearization's theta and batch; st may be NULL. */
int model_lin_hvp(model_lin *l, const double *v, double *hv, model_stats *st, err *e);
/* Bytes its primal state takes at the thread count of its creation (the state is made
 * again if the pool's count changes); 0: a fallback. */
size_t model_lin_bytes(const model_lin *l);
void model_lin_free(model_lin *l);

/* Seeded initial theta, PyTorch's default initialization for each layer kind. */
int model_init(model *m, double *theta, uint64_t seed, err *e);
/* Free a model; NULL is fine. */
void model_free(model *m);

/* --- building models --- */

enum loss_kind { LOSS_CE = 0, LOSS_MSE };

typedef struct model_opts {
    const char *kind;       /* "logreg", "mlp", "cnn", "resnet", or a 2-D test function name:
                               "rosenbrock", "beale", "himmelblau", "rastrigin",
                               "quadratic:a,b" */
    int hidden[16];         /* hidden widths (mlp) */
    int nhidden;
    enum ad_act act;        /* hidden activation, default ReLU */
    double leaky_slope;     /* leaky ReLU negative slope, default 0.01 */
    int bias;               /* 1: layers have biases (default) */
    enum loss_kind loss;    /* CE (default) or MSE 0.5*||f - onehot(y)||^2 per sample */
    int in_dim, out_dim;    /* from the dataset */
    size_t chunk;           /* physical chunk size; 0 = the model's default (dense nets
                               256 rows, cnn 128, resnet 32: the arenas stay small) */
    /* convolutional models ("cnn", "resnet"; models/cnn.c) */
    int in_c, in_h, in_w;   /* one sample's image; all 0: one channel, square, in_dim = h*h */
    int channels[2];        /* cnn: output channels of its two convolutions (default 6,16) */
    int width;              /* resnet: channels of the stem and of every block (default 16) */
    int blocks;             /* resnet: residual blocks (default 9) */
    int skip;               /* resnet: 1 identity paths (default), 0 none (plain network) */
} model_opts;

/* Fill `o` with defaults: mlp, hidden 256,256, ReLU, biases, CE, chunk 0 (the model's
 * default), cnn channels 6,16, resnet width 16, 9 blocks, skips on. */
void model_opts_default(model_opts *o);

/* --- the model registry (models/registry.c): one row per --model kind, which every
 * list of models (help texts, checks, suggestions, the options that apply) reads --- */
typedef struct model_kind {
    const char *name;       /* as --model spells it */
    const char *args;       /* NULL, or the parameters after "name:" (quadratic's "a,b") */
    int (*make)(const struct model_kind *k, const model_opts *o, model **out, err *e);
    const void *def;        /* what make reads besides o (a test function's formulas) */
    const char *options;    /* the model options (cfg.h) that apply to it, space-separated */
    int data;               /* 1: a network trained on a data set; 0: a 2-D test function */
    const char *help;
} model_kind;

extern const model_kind model_kinds[];
extern const int model_nkinds;

/* The row of `kind` ("mlp", "quadratic:1,10": the name before ':' for kinds with
 * args); NULL when none. */
const model_kind *model_kind_find(const char *kind);

/* 0 when `kind` names a model model_new builds, else ERR_USAGE naming it, the nearest
 * known kind and the list (a test function's parameters are checked by model_new). */
int model_kind_check(const char *kind, err *e);

/* "a, b, c": the names of the kinds with data == data (-1: all), args spelt out
 * ("quadratic:a,b"), into buf. */
void model_kind_list(int data, char *buf, size_t cap);

/* 1 when model option `option` (a name of cfg's option table) applies to `kind`. */
int model_option_applies(const char *kind, const char *option);

/* Build the model named by o->kind. ERR_USAGE for unknown kinds or nonsense sizes. */
int model_new(const model_opts *o, model **out, err *e);

/* How a figure draws a 2-D test function: f as a gnuplot expression of x and y (its
 * parameters substituted), a title, its global minimizer (has_min: a single one), its
 * start and the window it is usually drawn in (x0, x1, y0, y1). */
typedef struct model_fn {
    char expr[256];
    char title[128];
    int has_min;
    double min[2], start[2], win[4];
} model_fn;

/* The drawing of test function `kind`; ERR_USAGE when kind is not one. */
int model_fn_info(const char *kind, model_fn *f, err *e);

/* Index of the block that holds theta element i, or -1. */
int model_block_of(const model *m, size_t i);

#endif
