/* ad.h -- a static autodiff graph in double precision: values, gradients (reverse
 * mode), tangents (forward mode) and exact Hessian-vector products (forward-over-
 * reverse, Pearlmutter's R-operator).
 *
 * A graph is built once per model for a maximum number of batch rows and executed for
 * every chunk of every batch; nothing is allocated per step. Nodes are either batched
 * (a row per sample: inputs, activations) or parameters (views into theta). Each op
 * in the table (core/ops.c) supplies four rules:
 *   forward    y = f(x)
 *   tangent    y' = J x'                     (forward mode)
 *   backward   x_bar += J^T y_bar            (reverse mode)
 *   rbackward  R{x_bar} += J^T R{y_bar} + R{J^T} y_bar   (tangent of backward)
 * so that one forward pass with tangents followed by one backward pass with
 * R-adjoints yields g and H v exactly. The graph ends in one scalar loss node.
 *
 * Memory: for each execution mode the graph plans its buffers once, by liveness over
 * the schedule (forward steps, then backward steps), and places them in one arena.
 * Forward-only modes (loss, jvp, features) therefore release each activation as
 * soon as its consumers have run: forward-mode training keeps no activations for a
 * backward pass. The arenas' bytes are counted (ad_mem_*), the workspace figure the
 * benchmarks report. Parameters, tangents and parameter gradients are never in the
 * arena: they are the caller's flat vectors, bound at run time.
 *
 * An HVP at a fixed theta and data repeats its primal pass for every v; a caller that
 * applies H many times (Lanczos) keeps the pass in a primal store (ad_bind.primal)
 * and replays it: later runs cost the tangent rules alone (jax.linearize's idea).
 *
 * Errors while building are sticky: builder calls return -1 after the first error and
 * ad_graph_plan() reports it. A graph is used by one thread at a time. */
#ifndef BASIN_AD_H
#define BASIN_AD_H

#include <stddef.h>
#include "err.h"

/* Elementwise activations (node argument of AD_ACT). */
enum ad_act { AD_ACT_RELU = 0, AD_ACT_LEAKY_RELU, AD_ACT_TANH, AD_ACT_SIGMOID,
              AD_ACT_GELU, AD_ACT_SOFTPLUS, AD_ACT_IDENTITY, AD_ACT_COUNT };

/* The op table's entries, in the order of core/ops.c. */
enum ad_opcode {
    AD_INPUT = 0,   /* batched data input (rows, cols): no tangent, no gradient */
    AD_PARAM,       /* parameter block: a view of theta at an offset */
    AD_MATMUL_T,    /* y = x W^T: x (rows, in), W (out, in) -> (rows, out), as nn.Linear */
    AD_BIAS,        /* y = x + b, b (cols) broadcast over rows */
    AD_ADD,         /* y = a + b, same shapes */
    AD_ACT,         /* y = act(x) elementwise */
    AD_LOSS_CE,     /* scalar: sum_r scale * (logsumexp(z_r) - z_r[y_r]) */
    AD_LOSS_MSE,    /* scalar: sum_r scale * 0.5 * ||z_r - t_r||^2, t_r = onehot(y_r) or targets */
    AD_CONV2D,      /* image ops (core/ops_conv.c): nn.Conv2d, weight (out, in*kh*kw) [+ bias] */
    AD_MAXPOOL,     /* nn.MaxPool2d (first maximum on ties) */
    AD_AVGPOOL,     /* nn.AvgPool2d (count_include_pad: divides by k*k) */
    AD_GAP,         /* global average pool: (c, h, w) -> (c) */
    AD_GROUPNORM,   /* nn.GroupNorm(1, c): normalize over c*h*w, per-channel affine */
    AD_OP_COUNT
};

/* Execution modes; each has its own buffer plan. */
enum ad_mode { AD_MODE_LOSS = 0, AD_MODE_GRAD, AD_MODE_JVP, AD_MODE_HVP, AD_MODE_COUNT };

typedef struct ad_graph ad_graph;

/* What one execution binds: the caller's flat vectors and one chunk of data. */
typedef struct ad_bind {
    const double *theta;  /* (n) parameters */
    const double *v;      /* (n) tangent direction: JVP and HVP modes */
    double *g;            /* (n) gradient accumulator (+=): GRAD mode, and HVP mode when
                             non-NULL (NULL: H v alone, without the products only g needs) */
    double *hv;           /* (n) H v accumulator (+=): HVP mode */
    const double *x;      /* (rows, input cols) */
    const int *y;         /* (rows) labels, or NULL */
    const double *t;      /* (rows, outputs) regression targets, or NULL */
    size_t rows;          /* rows in this chunk, <= the graph's capacity */
    double scale;         /* weight of each row's loss: 1 / (samples in the whole batch) */
    double *feat;         /* (rows, cols of the feature node): filled when non-NULL */
    /* HVP mode, optional: a store of ad_primal_size(rows) doubles that holds this
     * chunk's primal pass (every node's value, adjoint and op memory) in place of the
     * arena. replay = 0 runs the whole HVP and fills it; replay = 1 says it holds the
     * pass of an earlier run at the same theta and data (x, y, t, rows, scale): only
     * the tangent rules run, with the same bits as a whole run. */
    double *primal;
    int replay;
    /* 1: split each large matrix product of this run over the pool's threads (blocks
     * of the product's columns, or rows when it is narrow; each element is computed by
     * one thread over all of K), so that one chunk keeps every core busy. Only a caller
     * outside pool_run may set it (pool_run is not reentrant). */
    int split;
} ad_bind;

/* Sums a run adds to (never overwrites), so chunks accumulate. */
typedef struct ad_sums {
    double loss;      /* sum over rows of scale * loss_r */
    double jvp;       /* its directional derivative along v (JVP/HVP modes) */
    double correct;   /* rows whose argmax output equals the label */
} ad_sums;

/* --- building --- */

/* New empty graph for at most `max_rows` rows per execution. NULL: out of memory. */
ad_graph *ad_graph_new(size_t max_rows, err *e);
void ad_graph_free(ad_graph *g);

/* Builders return the new node's index, or -1 after an error (sticky, reported by
 * ad_graph_plan). Shapes: per-row widths for batched nodes. */
int ad_input(ad_graph *g, int cols);
int ad_param(ad_graph *g, size_t offset, int out, int in); /* in = 1 for vectors */
int ad_matmul_t(ad_graph *g, int x, int w);
int ad_bias(ad_graph *g, int x, int b);
int ad_add(ad_graph *g, int a, int b);
int ad_act(ad_graph *g, int x, enum ad_act kind, double slope);
/* Widest loss input: classes of ce, targets of mse (the loss rules keep a row of softmax
 * on the stack). Datasets refuse labels that would need more (models/data.c). */
#define AD_MAX_CLASSES 4096
int ad_loss_ce(ad_graph *g, int z);
int ad_loss_mse(ad_graph *g, int z);

/* --- image ops: a batched row holds one sample as an NCHW image ---
 * A node of cols = c*h*w is at once the image and its flattening in nn.Flatten's
 * order, so flatten/reshape is the identity on rows: no op and no copy. The image
 * geometry is given to each builder and checked against the input's cols. */
typedef struct ad_img { int c, h, w; } ad_img;

/* Geometry of a kh x kw window sliding over `in` with `stride` and `pad` zeros on
 * every side, floor mode (as PyTorch), with `c` output channels. A field <= 0 means
 * the window does not fit. */
ad_img ad_window_out(ad_img in, int c, int kh, int kw, int stride, int pad);

/* nn.Conv2d: y = w * x (+ b). w a parameter (out, in.c*kh*kw) = PyTorch's
 * [out, in, kh, kw] row-major; b a parameter of `out` elements, or -1 for none.
 * Output image ad_window_out(in, out, kh, kw, stride, pad). */
int ad_conv2d(ad_graph *g, int x, ad_img in, int w, int b, int kh, int kw, int stride, int pad);
/* nn.MaxPool2d(k, stride, pad) (padding never wins; pad <= k/2) and nn.AvgPool2d(k,
 * stride, pad) with count_include_pad (every window divides by k*k). */
int ad_maxpool2d(ad_graph *g, int x, ad_img in, int k, int stride, int pad);
int ad_avgpool2d(ad_graph *g, int x, ad_img in, int k, int stride, int pad);
/* Global average pooling: (c, h, w) -> (c), the mean of each channel. */
int ad_gap(ad_graph *g, int x, ad_img in);
/* nn.GroupNorm(1, in.c), eps 1e-5: each row normalized over all c*h*w elements with
 * the biased variance, then y = gamma[c] xhat + beta[c]; gamma, beta parameters of
 * in.c elements. */
int ad_groupnorm(ad_graph *g, int x, ad_img in, int gamma, int beta);

/* Mark the node whose rows are the model's features (model_features). */
int ad_set_features(ad_graph *g, int node);

/* Finish building: `loss` is the scalar output. Plans every mode's buffers. */
int ad_graph_plan(ad_graph *g, int loss, err *e);

/* --- running --- */

/* Execute one chunk in `mode`, adding to *sums and to the bound accumulators.
 * ERR_USAGE if rows exceed the capacity or a needed binding is NULL; ERR_SYS if an
 * arena cannot be allocated. In AD_MODE_LOSS with b->feat set, the run stops after
 * the feature node and copies its rows. */
int ad_run(ad_graph *g, enum ad_mode mode, const ad_bind *b, ad_sums *sums, err *e);

/* Doubles of an ad_bind.primal store for a chunk of `rows` rows. */
size_t ad_primal_size(const ad_graph *g, size_t rows);

/* Bytes the arena of `mode` holds (0 before its first run): the plan's peak. */
size_t ad_graph_workspace(const ad_graph *g, enum ad_mode mode);

/* Counters over all graphs of the process: workspace bytes allocated now, and the
 * peak since the last reset. Thread-safe. */
size_t ad_mem_current(void);
size_t ad_mem_peak(void);
void ad_mem_reset_peak(void);

/* Per-mode execution counters (how many runs of each mode since process start),
 * so tests can prove e.g. that forward-gradient training never runs a backward pass. */
long ad_runs(enum ad_mode mode);

/* Matrix products split over the pool since process start (ad_bind.split), so tests
 * can prove that a split path ran. */
long ad_splits(void);

/* Name of an activation ("relu", "leaky_relu", "tanh", "sigmoid", "gelu",
 * "softplus", "identity"), and the reverse lookup (-1 when unknown). */
const char *ad_act_name(enum ad_act a);
int ad_act_parse(const char *s);

/* Scalar activation value and first two derivatives at x (tests use these). */
double ad_act_eval(enum ad_act a, double slope, double x, double *d1, double *d2);

/* The hot elementwise loops (activations, bias, the landscape's plane) are compiled
 * twice by GCC on x86-64, for AVX2 and for the baseline, and the loader picks one
 * (function multiversioning): a binary for any x86-64 runs them 4 doubles at a time
 * where it can. Elementwise only: no sum is reordered, the bits are the same. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define AD_VECTOR __attribute__((target_clones("avx2", "default")))
#else
#define AD_VECTOR
#endif
/* Before such a loop whose output may be one of its inputs, element for element (in
 * place): GCC's run-time overlap check would send that case to the scalar loop. */
#if defined(__GNUC__) && !defined(__clang__)
#define AD_IVDEP _Pragma("GCC ivdep")
#else
#define AD_IVDEP
#endif

/* y[i] = act(x[i]) for m elements, with the bits of the graph's AD_ACT forward rule
 * (y may be x). */
void ad_act_apply(enum ad_act a, double slope, const double *x, double *y, size_t m);

#endif
