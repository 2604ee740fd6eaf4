/* ad_impl.h -- the graph's internals, shared by the engine (ad.c) and the op table
 * (ops.c). Not part of the public interface. */
#ifndef BASIN_AD_IMPL_H
#define BASIN_AD_IMPL_H

#include <gsl/gsl_cblas.h>

#include "ad.h"

enum { AD_F_TAN = 1,    /* the node's tangent may be nonzero (depends on theta) */
       AD_F_GRAD = 2 }; /* the node needs a gradient (depends on theta) */

/* What an op's tangent and rbackward rules read of the primal pass (ad_op_def.reads),
 * and so what a primal store keeps of a node (ad_node.keep): its value when a consumer
 * reads its inputs' values (or it is the loss), its adjoint when its own rules read
 * it; op memory (aux) is always kept. */
enum { AD_READS_IN_VAL = 1, AD_READS_GRAD = 2 };
enum { AD_KEEP_VAL = 1, AD_KEEP_GRAD = 2 };

typedef struct ad_node {
    int op;               /* enum ad_opcode */
    int in[3], nin;       /* input node indices */
    int batched;          /* 1: a row per sample; 0: a parameter block */
    int rows, cols;       /* params: (rows, cols); batched: cols per row */
    int flags;            /* AD_F_* */
    int iarg;             /* op argument: activation kind */
    double farg;          /* op argument: leaky slope */
    size_t offset;        /* AD_PARAM: first element in theta */
    /* image ops: input and output geometry, window, stride and padding */
    ad_img img_in, img_out;
    int kh, kw, stride, pad;
    /* op-private memory, planned like the other buffers: `aux_cols` doubles per row
     * that live from the node's forward rule to its backward rules (max-pool
     * argmax, group-norm statistics), and `scratch` doubles that one rule call may
     * use and that nothing keeps (im2col columns); the graph has one scratch buffer
     * of the largest node's size */
    int aux_cols;
    size_t scratch;
    int keep;             /* what a primal store holds of it: AD_KEEP_* (ad_graph_plan) */
    /* buffers bound for the current execution; NULL when the mode has none */
    double *val, *dot, *grad, *rgrad, *aux;
} ad_node;

typedef struct ad_plan {
    size_t *off;          /* (5 * nodes) arena offsets in doubles, SIZE_MAX: none */
    size_t scratch_off;   /* the shared scratch buffer's offset */
    size_t size;          /* arena size in doubles */
    double *arena;        /* allocated on first run */
} ad_plan;

struct ad_graph {
    ad_node *nodes;
    int nn, cap;
    size_t max_rows;
    int loss, feat;       /* loss node; feature node or -1 */
    int *last_use;        /* (nn) largest consumer index, -1 if none */
    ad_plan plan[AD_MODE_COUNT];
    err build_err;        /* first builder error (sticky) */
    size_t scratch;       /* doubles of the shared scratch buffer: max over nodes */
    /* per-execution context read by the ops */
    const ad_bind *bind;
    ad_sums *sums;
    double *scratch_buf;  /* (scratch) bound for the current execution */
    int split;            /* threads the matrix products are split over (ad_bind.split) */
};

/* One op's rules; n is the node, rows the chunk's rows. Each rule reads its inputs'
 * buffers and writes (forward, tangent) or accumulates into (backward, rbackward)
 * the buffers the node's flags call for. */
typedef struct ad_op_def {
    const char *name;
    void (*forward)(ad_graph *g, ad_node *n, size_t rows);
    void (*tangent)(ad_graph *g, ad_node *n, size_t rows);
    void (*backward)(ad_graph *g, ad_node *n, size_t rows);
    void (*rbackward)(ad_graph *g, ad_node *n, size_t rows);
    /* optional (NULL for most ops): forward with tangent, and backward with
     * rbackward, each pair in one call, for ops whose two rules share work (conv2d's
     * im2col columns). The engine calls them instead of the pair wherever it runs
     * both; tangent and rbackward alone still serve replays of a primal store. */
    void (*forward_tangent)(ad_graph *g, ad_node *n, size_t rows);
    void (*backward_both)(ad_graph *g, ad_node *n, size_t rows);
    int reads;            /* AD_READS_*: what tangent and rbackward read of the primal pass */
} ad_op_def;

extern const ad_op_def ad_ops[AD_OP_COUNT];

/* The image ops' rules live in core/ops_conv.c; AD_RULES declares an op's four rules
 * and AD_OP_ROW makes its table row (AD_FUSED_RULES, AD_OP_ROW_FUSED: with the fused
 * pairs as well). */
#define AD_RULES(op)                                                   \
    void ad_##op##_forward(ad_graph *g, ad_node *n, size_t rows);     \
    void ad_##op##_tangent(ad_graph *g, ad_node *n, size_t rows);     \
    void ad_##op##_backward(ad_graph *g, ad_node *n, size_t rows);    \
    void ad_##op##_rbackward(ad_graph *g, ad_node *n, size_t rows);
#define AD_OP_ROW(op, reads)                                                        \
    {#op, ad_##op##_forward, ad_##op##_tangent, ad_##op##_backward, ad_##op##_rbackward, \
     NULL, NULL, reads}
#define AD_FUSED_RULES(op)                                                    \
    AD_RULES(op)                                                              \
    void ad_##op##_forward_tangent(ad_graph *g, ad_node *n, size_t rows);    \
    void ad_##op##_backward_both(ad_graph *g, ad_node *n, size_t rows);
#define AD_OP_ROW_FUSED(op, reads)                                            \
    {#op, ad_##op##_forward, ad_##op##_tangent, ad_##op##_backward,           \
     ad_##op##_rbackward, ad_##op##_forward_tangent, ad_##op##_backward_both, reads}
AD_FUSED_RULES(conv2d)
AD_RULES(maxpool)
AD_RULES(avgpool)
AD_RULES(gap)
AD_RULES(groupnorm)

/* C (M,N) = alpha op(A) op(B) + beta C, row-major, through CBLAS (ta, tb: transpose).
 * When the execution splits its products (g->split > 1) and this one is large, C's
 * columns (or, for narrow C, its rows) are cut into g->split contiguous blocks, one per
 * pool thread; each element is still computed by one call over all of K. */
void ad_gemm(const ad_graph *g, int ta, int tb, size_t M, size_t N, size_t K, double alpha,
             const double *A, size_t lda, const double *B, size_t ldb, double beta, double *C,
             size_t ldc);

/* Elements of node n for a chunk of `rows` rows. */
static inline size_t ad_node_size(const ad_node *n, size_t rows)
{
    return n->batched ? rows * (size_t)n->cols : (size_t)n->rows * (size_t)n->cols;
}

#endif
