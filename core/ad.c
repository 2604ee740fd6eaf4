/* ad.c -- the autodiff engine: graph building, buffer planning, execution.
 * The ops' rules live in ops.c; the public contract is in ad.h. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ad_impl.h"
#include "pool.h"

enum { BUF_VAL = 0, BUF_DOT, BUF_GRAD, BUF_RGRAD, BUF_AUX, BUF_KINDS };
#define NO_BUF SIZE_MAX
#define ALIGN 8 /* doubles: 64-byte alignment of every buffer */

static atomic_size_t mem_current, mem_peak;
static atomic_long runs[AD_MODE_COUNT], splits;

size_t ad_mem_current(void) { return atomic_load(&mem_current); }
size_t ad_mem_peak(void) { return atomic_load(&mem_peak); }
void ad_mem_reset_peak(void) { atomic_store(&mem_peak, atomic_load(&mem_current)); }
long ad_runs(enum ad_mode mode) { return atomic_load(&runs[mode]); }
long ad_splits(void) { return atomic_load(&splits); }

static void mem_add(size_t bytes)
{
    size_t now = atomic_fetch_add(&mem_current, bytes) + bytes;
    size_t peak = atomic_load(&mem_peak);
    while (now > peak && !atomic_compare_exchange_weak(&mem_peak, &peak, now))
        ;
}

/* --- matrix products (ad_impl.h) --- */

/* Products below this many multiply-adds (~5 us at one core's DGEMM rate) run on the
 * calling thread: a pool hand-off would cost a sizeable part of them. */
#define SPLIT_MIN_MACS ((size_t)1 << 17)

typedef struct gemm_job {
    int ta, tb, by_rows;
    size_t M, N, K, lda, ldb, ldc;
    double alpha, beta;
    const double *A, *B;
    double *C;
} gemm_job;

static void gemm_call(const gemm_job *j, size_t M, size_t N, const double *A, const double *B,
                      double *C)
{
    if (M && N)
        cblas_dgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans,
                    j->tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)j->K, j->alpha, A,
                    (int)j->lda, B, (int)j->ldb, j->beta, C, (int)j->ldc);
}

/* Thread tid's block: columns (or rows) [lo, hi), column blocks cut at multiples of 8
 * (whole cache lines of C). */
static void gemm_thread(void *arg, int tid, int T)
{
    const gemm_job *j = arg;
    size_t len = j->by_rows ? j->M : j->N, step = j->by_rows ? 1 : 8;
    size_t lo = len * (size_t)tid / (size_t)T / step * step;
    size_t hi = tid + 1 == T ? len : len * (size_t)(tid + 1) / (size_t)T / step * step;
    if (j->by_rows)
        gemm_call(j, hi - lo, j->N, j->ta ? j->A + lo : j->A + lo * j->lda, j->B,
                  j->C + lo * j->ldc);
    else
        gemm_call(j, j->M, hi - lo, j->A, j->tb ? j->B + lo * j->ldb : j->B + lo, j->C + lo);
}

void ad_gemm(const ad_graph *g, int ta, int tb, size_t M, size_t N, size_t K, double alpha,
             const double *A, size_t lda, const double *B, size_t ldb, double beta, double *C,
             size_t ldc)
{
    gemm_job j = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .lda = lda, .ldb = ldb,
                  .ldc = ldc, .alpha = alpha, .beta = beta, .A = A, .B = B, .C = C};
    if (g && g->split && M * N * K >= SPLIT_MIN_MACS) {
        j.by_rows = N < 32;
        atomic_fetch_add(&splits, 1);
        pool_run(gemm_thread, &j);
    } else
        gemm_call(&j, M, N, A, B, C);
}

/* --- building --- */

ad_graph *ad_graph_new(size_t max_rows, err *e)
{
    ad_graph *g = err_calloc(e, 1, sizeof *g);
    if (!g)
        return NULL;
    g->max_rows = max_rows ? max_rows : 1;
    g->loss = g->feat = -1;
    return g;
}

void ad_graph_free(ad_graph *g)
{
    if (!g)
        return;
    for (int m = 0; m < AD_MODE_COUNT; m++) {
        if (g->plan[m].arena)
            atomic_fetch_sub(&mem_current, g->plan[m].size * sizeof(double));
        free(g->plan[m].arena);
        free(g->plan[m].off);
    }
    free(g->last_use);
    free(g->nodes);
    free(g);
}

static int fail(ad_graph *g, const char *what)
{
    if (!g->build_err.code)
        err_set(&g->build_err, ERR_USAGE, "graph: %s", what);
    return -1;
}

/* Append a node; inputs must exist. Flags propagate from inputs. */
static int push(ad_graph *g, int op, int a, int b, int batched, int rows, int cols)
{
    if (g->build_err.code)
        return -1;
    if ((a >= 0 && a >= g->nn) || (b >= 0 && b >= g->nn) || rows <= 0 || cols <= 0)
        return fail(g, "bad node inputs or shape");
    if (g->nn == g->cap) {
        int cap = g->cap ? 2 * g->cap : 32;
        ad_node *nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) {
            err_set(&g->build_err, ERR_SYS, "graph: out of memory");
            return -1;
        }
        g->nodes = nodes;
        g->cap = cap;
    }
    ad_node *n = &g->nodes[g->nn];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->in[0] = a;
    n->in[1] = b;
    n->in[2] = -1;
    n->nin = (a >= 0) + (b >= 0);
    n->batched = batched;
    n->rows = rows;
    n->cols = cols;
    for (int k = 0; k < n->nin; k++)
        n->flags |= g->nodes[n->in[k]].flags;
    return g->nn++;
}

static const ad_node *node(const ad_graph *g, int i)
{
    return i >= 0 && i < g->nn ? &g->nodes[i] : NULL;
}

/* Give node i (just pushed, with two inputs) a third input c. */
static int push_input(ad_graph *g, int i, int c)
{
    if (i < 0)
        return -1;
    ad_node *n = &g->nodes[i];
    n->in[n->nin++] = c;
    n->flags |= g->nodes[c].flags;
    return i;
}

int ad_input(ad_graph *g, int cols)
{
    return push(g, AD_INPUT, -1, -1, 1, 1, cols);
}

int ad_param(ad_graph *g, size_t offset, int out, int in)
{
    int i = push(g, AD_PARAM, -1, -1, 0, out, in);
    if (i >= 0) {
        g->nodes[i].offset = offset;
        g->nodes[i].flags = AD_F_TAN | AD_F_GRAD;
    }
    return i;
}

int ad_matmul_t(ad_graph *g, int x, int w)
{
    const ad_node *X = node(g, x), *W = node(g, w);
    if (!X || !W || !X->batched || W->batched || X->cols != W->cols)
        return fail(g, "matmul_t: x (rows, in) and W (out, in) do not match");
    return push(g, AD_MATMUL_T, x, w, 1, 1, W->rows);
}

int ad_bias(ad_graph *g, int x, int b)
{
    const ad_node *X = node(g, x), *B = node(g, b);
    if (!X || !B || !X->batched || B->batched || B->rows * B->cols != X->cols)
        return fail(g, "bias: b must have one element per column of x");
    return push(g, AD_BIAS, x, b, 1, 1, X->cols);
}

int ad_add(ad_graph *g, int a, int b)
{
    const ad_node *A = node(g, a), *B = node(g, b);
    if (!A || !B || A->batched != B->batched || A->rows != B->rows || A->cols != B->cols)
        return fail(g, "add: shapes differ");
    return push(g, AD_ADD, a, b, A->batched, A->rows, A->cols);
}

int ad_act(ad_graph *g, int x, enum ad_act kind, double slope)
{
    const ad_node *X = node(g, x);
    if (!X || (unsigned)kind >= AD_ACT_COUNT)
        return fail(g, "act: bad input or activation");
    int i = push(g, AD_ACT, x, -1, X->batched, X->rows, X->cols);
    if (i >= 0) {
        g->nodes[i].iarg = kind;
        g->nodes[i].farg = slope;
    }
    return i;
}

static int loss(ad_graph *g, int op, int z)
{
    const ad_node *Z = node(g, z);
    if (!Z || !Z->batched || Z->cols > AD_MAX_CLASSES)
        return fail(g, "loss: input must be batched with at most 4096 columns");
    return push(g, op, z, -1, 0, 1, 1);
}

int ad_loss_ce(ad_graph *g, int z) { return loss(g, AD_LOSS_CE, z); }
int ad_loss_mse(ad_graph *g, int z) { return loss(g, AD_LOSS_MSE, z); }

/* --- image ops --- */

ad_img ad_window_out(ad_img in, int c, int kh, int kw, int stride, int pad)
{
    if (stride <= 0 || kh <= 0 || kw <= 0 || pad < 0 || in.h + 2 * pad < kh || in.w + 2 * pad < kw)
        return (ad_img){0, 0, 0};
    return (ad_img){c, (in.h + 2 * pad - kh) / stride + 1, (in.w + 2 * pad - kw) / stride + 1};
}

static long img_size(ad_img m)
{
    return m.c > 0 && m.h > 0 && m.w > 0 ? (long)m.c * m.h * m.w : 0;
}

/* A batched x whose rows are images `in`. */
static const ad_node *image(const ad_graph *g, int x, ad_img in)
{
    const ad_node *X = node(g, x);
    return X && X->batched && img_size(in) == X->cols ? X : NULL;
}

/* Push a windowed image op and record its geometry and private memory. */
static int push_window(ad_graph *g, int op, int x, int w, ad_img in, ad_img out, int kh,
                       int kw, int stride, int pad)
{
    if (img_size(out) <= 0)
        return fail(g, "window larger than the padded image, or a bad stride or padding");
    int i = push(g, op, x, w, 1, 1, (int)img_size(out));
    if (i >= 0) {
        ad_node *n = &g->nodes[i];
        n->img_in = in;
        n->img_out = out;
        n->kh = kh;
        n->kw = kw;
        n->stride = stride;
        n->pad = pad;
    }
    return i;
}

int ad_conv2d(ad_graph *g, int x, ad_img in, int w, int b, int kh, int kw, int stride, int pad)
{
    const ad_node *W = node(g, w), *B = node(g, b);
    if (!image(g, x, in) || !W || W->batched || kh <= 0 || kw <= 0
        || W->cols != in.c * kh * kw || (b >= 0 && (!B || B->batched || B->rows * B->cols != W->rows)))
        return fail(g, "conv2d: x (c*h*w), w (out, c*kh*kw) and b (out) do not match");
    ad_img out = ad_window_out(in, W->rows, kh, kw, stride, pad);
    size_t wcols = (size_t)W->cols;   /* push may move the nodes W points into */
    int i = push_window(g, AD_CONV2D, x, w, in, out, kh, kw, stride, pad);
    if (i >= 0)     /* im2col columns of one sample: (c*kh*kw, oh*ow) */
        g->nodes[i].scratch = wcols * (size_t)out.h * (size_t)out.w;
    return b >= 0 ? push_input(g, i, b) : i;
}

static int pool(ad_graph *g, int op, int x, ad_img in, int k, int stride, int pad)
{
    if (!image(g, x, in) || k <= 0 || pad > k / 2)
        return fail(g, "pool: x is not (c*h*w), or padding exceeds half the window");
    return push_window(g, op, x, -1, in, ad_window_out(in, in.c, k, k, stride, pad), k, k,
                       stride, pad);
}

int ad_maxpool2d(ad_graph *g, int x, ad_img in, int k, int stride, int pad)
{
    int i = pool(g, AD_MAXPOOL, x, in, k, stride, pad);
    if (i >= 0)     /* argmax of each output element, an index into the row */
        g->nodes[i].aux_cols = g->nodes[i].cols;
    return i;
}

int ad_avgpool2d(ad_graph *g, int x, ad_img in, int k, int stride, int pad)
{
    return pool(g, AD_AVGPOOL, x, in, k, stride, pad);
}

int ad_gap(ad_graph *g, int x, ad_img in)
{
    if (!image(g, x, in))
        return fail(g, "gap: x is not (c*h*w)");
    int i = push(g, AD_GAP, x, -1, 1, 1, in.c);
    if (i >= 0) {
        g->nodes[i].img_in = in;
        g->nodes[i].img_out = (ad_img){in.c, 1, 1};
    }
    return i;
}

int ad_groupnorm(ad_graph *g, int x, ad_img in, int gamma, int beta)
{
    const ad_node *G = node(g, gamma), *B = node(g, beta);
    if (!image(g, x, in) || !G || !B || G->batched || B->batched
        || G->rows * G->cols != in.c || B->rows * B->cols != in.c)
        return fail(g, "groupnorm: x (c*h*w), gamma (c) and beta (c) do not match");
    int i = push(g, AD_GROUPNORM, x, gamma, 1, 1, (int)img_size(in));
    if (i >= 0) {
        g->nodes[i].img_in = g->nodes[i].img_out = in;
        g->nodes[i].aux_cols = 2;   /* mean and 1/sqrt(var + eps) of each row */
    }
    return push_input(g, i, beta);
}

int ad_set_features(ad_graph *g, int i)
{
    const ad_node *n = node(g, i);
    if (!n || !n->batched)
        return fail(g, "features: node must be batched");
    g->feat = i;
    return i;
}

/* --- planning: buffer liveness over the schedule, placed in one arena ---
 * Step s < nn is node s's forward; step 2nn-1-i is node i's backward. */

typedef struct interval {
    size_t start, end, size;
    size_t *slot;           /* where the chosen offset goes */
} interval;

static int by_start(const void *a, const void *b)
{
    const interval *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* Place the intervals: each at the lowest aligned offset that overlaps no interval
 * already placed whose lifetime intersects its own. Returns the arena size. */
static size_t place(interval *iv, int k, err *e, int *status)
{
    qsort(iv, (size_t)k, sizeof *iv, by_start);
    size_t total = 0;
    size_t *lo = malloc((size_t)(k ? k : 1) * 2 * sizeof *lo);
    if (!lo) {
        *status = err_set(e, ERR_SYS, "graph plan: out of memory");
        return 0;
    }
    for (int i = 0; i < k; i++) {
        int m = 0;  /* live, placed intervals as (offset, end-offset) pairs */
        for (int j = 0; j < i; j++)
            if (iv[j].end >= iv[i].start) {
                lo[2 * m] = *iv[j].slot;
                lo[2 * m + 1] = *iv[j].slot + iv[j].size;
                m++;
            }
        size_t off = 0;
        for (int moved = 1; moved;) {   /* first fit: bump past any overlap */
            moved = 0;
            for (int j = 0; j < m; j++)
                if (off < lo[2 * j + 1] && lo[2 * j] < off + iv[i].size) {
                    off = lo[2 * j + 1];
                    moved = 1;
                }
        }
        *iv[i].slot = off;
        if (off + iv[i].size > total)
            total = off + iv[i].size;
    }
    free(lo);
    return total;
}

static int plan_mode(ad_graph *g, enum ad_mode mode, err *e)
{
    int nn = g->nn, k = 0, status = 0;
    int back = mode == AD_MODE_GRAD || mode == AD_MODE_HVP;
    int tan = mode == AD_MODE_JVP || mode == AD_MODE_HVP;
    ad_plan *p = &g->plan[mode];
    p->off = malloc((size_t)nn * BUF_KINDS * sizeof *p->off);
    interval *iv = malloc(((size_t)nn * BUF_KINDS + 1) * sizeof *iv);
    if (!p->off || !iv) {
        free(iv);
        return err_set(e, ERR_SYS, "graph plan: out of memory");
    }
    for (int i = 0; i < nn; i++) {
        const ad_node *n = &g->nodes[i];
        size_t base = (size_t)i * BUF_KINDS, bwd = 2 * (size_t)nn - 1 - (size_t)i;
        size_t lu = g->last_use[i] >= 0 ? (size_t)g->last_use[i] : (size_t)i;
        size_t sz = (ad_node_size(n, g->max_rows) + ALIGN - 1) / ALIGN * ALIGN;
        size_t aux = ((size_t)n->aux_cols * g->max_rows + ALIGN - 1) / ALIGN * ALIGN;
        for (int b = 0; b < BUF_KINDS; b++)
            p->off[base + b] = NO_BUF;
        if (n->op == AD_INPUT || n->op == AD_PARAM)
            continue;   /* bound to the caller's buffers */
        int want[BUF_KINDS] = {
            [BUF_VAL] = 1,
            [BUF_DOT] = tan && (n->flags & AD_F_TAN),
            [BUF_GRAD] = back && (n->flags & AD_F_GRAD),
            [BUF_RGRAD] = back && tan && (n->flags & AD_F_GRAD),
            [BUF_AUX] = n->aux_cols > 0,
        };
        for (int b = 0; b < BUF_KINDS; b++) {
            if (!want[b])
                continue;
            interval *v = &iv[k++];
            v->size = b == BUF_AUX ? aux : sz;
            v->slot = &p->off[base + b];
            if (b == BUF_GRAD || b == BUF_RGRAD) {  /* first written by the last consumer */
                v->start = 2 * (size_t)nn - 1 - lu;
                v->end = bwd;
            } else if (b == BUF_AUX) {  /* read by the node's own rules only */
                v->start = (size_t)i;
                v->end = back ? bwd : (size_t)i;
            } else {
                v->start = (size_t)i;
                v->end = back ? bwd : lu;
            }
        }
    }
    if (g->scratch) {   /* the shared scratch buffer lives through the whole schedule */
        interval *v = &iv[k++];
        *v = (interval){.start = 0, .end = 2 * (size_t)nn, .slot = &p->scratch_off,
                        .size = (g->scratch + ALIGN - 1) / ALIGN * ALIGN};
    }
    p->size = place(iv, k, e, &status);
    free(iv);
    return status;
}

int ad_graph_plan(ad_graph *g, int loss_node, err *e)
{
    if (g->build_err.code) {
        if (e)
            *e = g->build_err;
        return g->build_err.code;
    }
    const ad_node *L = node(g, loss_node);
    if (!L || (L->op != AD_LOSS_CE && L->op != AD_LOSS_MSE))
        return err_set(e, ERR_USAGE, "graph: the output must be a loss node");
    g->loss = loss_node;
    g->last_use = malloc((size_t)g->nn * sizeof *g->last_use);
    if (!g->last_use)
        return err_set(e, ERR_SYS, "graph plan: out of memory");
    for (int i = 0; i < g->nn; i++) {
        ad_node *n = &g->nodes[i];
        int reads = ad_ops[n->op].reads;
        if (n->scratch > g->scratch)
            g->scratch = n->scratch;
        g->last_use[i] = -1;
        for (int k = 0; k < n->nin; k++) {
            ad_node *x = &g->nodes[n->in[k]];
            g->last_use[n->in[k]] = i;   /* increasing i: the last one wins */
            if ((reads & AD_READS_IN_VAL) && x->op != AD_INPUT && x->op != AD_PARAM)
                x->keep |= AD_KEEP_VAL;
        }
        if ((reads & AD_READS_GRAD) && (n->flags & AD_F_GRAD))
            n->keep |= AD_KEEP_GRAD;
    }
    g->nodes[loss_node].keep |= AD_KEEP_VAL;   /* the run's loss sum reads it */
    for (int m = 0; m < AD_MODE_COUNT; m++) {
        int rc = plan_mode(g, m, e);
        if (rc)
            return rc;
    }
    return 0;
}

size_t ad_graph_workspace(const ad_graph *g, enum ad_mode mode)
{
    return g->plan[mode].arena ? g->plan[mode].size * sizeof(double) : 0;
}

/* --- running --- */

static double *buf(ad_plan *p, int i, int b)
{
    size_t o = p->off[(size_t)i * BUF_KINDS + b];
    return o == NO_BUF ? NULL : p->arena + o;
}

/* A primal store: one double (the chunk's #correct), then for every computed node what
 * it keeps (value, adjoint: ad_node.keep) and its op memory, each ALIGN-rounded. What
 * it does not keep stays in the arena: written and read by a whole run alone. */
static size_t rounded(size_t n)
{
    return (n + ALIGN - 1) / ALIGN * ALIGN;
}

size_t ad_primal_size(const ad_graph *g, size_t rows)
{
    size_t s = ALIGN;
    for (int i = 0; i < g->nn; i++) {
        const ad_node *n = &g->nodes[i];
        s += rounded(ad_node_size(n, rows)) * (size_t)(!!(n->keep & AD_KEEP_VAL)
                                                      + !!(n->keep & AD_KEEP_GRAD))
           + rounded((size_t)n->aux_cols * rows);
    }
    return s;
}

/* Point every node's buffers at the arena, the primal store or the caller's vectors. */
static void bind_buffers(ad_graph *g, ad_plan *p, const ad_bind *b, int tan, int back)
{
    double *store = b->primal ? b->primal + ALIGN : NULL;
    for (int i = 0; i < g->nn; i++) {
        ad_node *n = &g->nodes[i];
        if (n->op == AD_PARAM) {
            n->val = (double *)(b->theta + n->offset);
            n->dot = tan ? (double *)(b->v + n->offset) : NULL;
            n->grad = back && b->g ? b->g + n->offset : NULL;
            n->rgrad = back && tan ? b->hv + n->offset : NULL;
        } else if (n->op == AD_INPUT) {
            n->val = (double *)b->x;
            n->dot = n->grad = n->rgrad = NULL;
        } else {
            n->val = buf(p, i, BUF_VAL);
            n->dot = buf(p, i, BUF_DOT);
            n->grad = buf(p, i, BUF_GRAD);
            n->rgrad = buf(p, i, BUF_RGRAD);
            n->aux = buf(p, i, BUF_AUX);
            if (store) {
                size_t sz = rounded(ad_node_size(n, b->rows));
                if (n->keep & AD_KEEP_VAL) {
                    n->val = store;
                    store += sz;
                }
                if (n->keep & AD_KEEP_GRAD) {
                    n->grad = store;
                    store += sz;
                }
                n->aux = n->aux_cols ? store : NULL;
                store += rounded((size_t)n->aux_cols * b->rows);
            }
        }
    }
    g->scratch_buf = g->scratch ? p->arena + p->scratch_off : NULL;
}

int ad_run(ad_graph *g, enum ad_mode mode, const ad_bind *b, ad_sums *sums, err *e)
{
    int tan = mode == AD_MODE_JVP || mode == AD_MODE_HVP;
    int back = mode == AD_MODE_GRAD || mode == AD_MODE_HVP;
    if (g->loss < 0)
        return err_set(e, ERR_USAGE, "graph: run before plan");
    if (b->rows > g->max_rows || !b->theta || !b->x || (tan && !b->v)
        || (mode == AD_MODE_GRAD && !b->g) || (mode == AD_MODE_HVP && !b->hv)
        || (!b->y && !b->t) || (b->primal && mode != AD_MODE_HVP))
        return err_set(e, ERR_USAGE, "graph: bad binding (rows %zu, capacity %zu)",
                       b->rows, g->max_rows);
    if (b->feat && g->feat < 0)
        return err_set(e, ERR_USAGE, "graph: the model exposes no features");
    ad_plan *p = &g->plan[mode];
    if (!p->arena) {
        p->arena = aligned_alloc(64, (p->size ? p->size : ALIGN) * sizeof(double));
        if (!p->arena)
            return err_set(e, ERR_SYS, "graph: out of memory for a %zu-byte workspace",
                           p->size * sizeof(double));
        mem_add(p->size * sizeof(double));
    }
    atomic_fetch_add(&runs[mode], 1);
    bind_buffers(g, p, b, tan, back);
    g->bind = b;
    g->sums = sums;
    g->split = b->split && pool_threads() > 1;
    size_t rows = b->rows;
    int replay = b->primal && b->replay;
    double correct0 = sums->correct;
    for (int i = 0; i < g->nn; i++) {
        ad_node *n = &g->nodes[i];
        const ad_op_def *op = &ad_ops[n->op];
        int both = tan && (n->flags & AD_F_TAN);
        if (replay) {
            if (both)
                op->tangent(g, n, rows);
        } else if (both && op->forward_tangent)
            op->forward_tangent(g, n, rows);
        else {
            op->forward(g, n, rows);
            if (both)
                op->tangent(g, n, rows);
        }
        if (b->feat && i == g->feat) {
            memcpy(b->feat, n->val, rows * (size_t)n->cols * sizeof(double));
            return 0;
        }
    }
    if (replay)
        sums->correct += b->primal[0];
    else if (b->primal)
        b->primal[0] = sums->correct - correct0;
    ad_node *L = &g->nodes[g->loss];
    sums->loss += L->val[0];
    if (tan)
        sums->jvp += L->dot[0];
    if (!back)
        return 0;
    L->grad[0] = 1;
    if (L->rgrad)
        L->rgrad[0] = 0;
    for (int i = g->nn - 1; i >= 0; i--) {
        ad_node *n = &g->nodes[i];
        if (!(n->flags & AD_F_GRAD) || n->op == AD_PARAM || (g->last_use[i] < 0 && i != g->loss))
            continue;   /* no adjoint needed, or a node the loss does not use */
        for (int k = 0; k < n->nin; k++) {  /* zero adjoints at their first write */
            ad_node *x = &g->nodes[n->in[k]];
            if (x->op != AD_PARAM && (x->flags & AD_F_GRAD) && g->last_use[n->in[k]] == i) {
                if (!replay)
                    memset(x->grad, 0, ad_node_size(x, rows) * sizeof(double));
                if (x->rgrad)
                    memset(x->rgrad, 0, ad_node_size(x, rows) * sizeof(double));
            }
        }
        const ad_op_def *op = &ad_ops[n->op];
        if (replay)
            op->rbackward(g, n, rows);
        else if (mode == AD_MODE_HVP && op->backward_both)
            op->backward_both(g, n, rows);
        else {
            op->backward(g, n, rows);
            if (mode == AD_MODE_HVP)
                op->rbackward(g, n, rows);
        }
    }
    return 0;
}
