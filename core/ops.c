/* ops.c -- the op table: forward, tangent, backward and tangent-of-backward rules.
 *
 * Notation per op: x, W, b inputs; y output; x' tangents; x_bar adjoints; R{.} the
 * R-operator (directional derivative along v) of an adjoint. Rules only touch the
 * buffers the nodes' flags call for: an input without AD_F_GRAD gets no adjoint, an
 * input without AD_F_TAN contributes no tangent term. A parameter's gradient buffer
 * may be absent (an HVP run that wants H v alone): rules test that buffer before
 * writing a parameter's gradient, and skip the products only it needs. Dense products
 * go through CBLAS (GSL's interface, linked to OpenBLAS). */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <gsl/gsl_math.h>

#include "ad_impl.h"

#define IN(n, k) (&g->nodes[(n)->in[k]])
#define HAS(n, f) (((n)->flags & (f)) != 0)

AD_VECTOR static void axpy(size_t n, double a, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* --- activations: value, first and second derivative --- */

double ad_act_eval(enum ad_act a, double s, double x, double *d1, double *d2)
{
    double f, p, q;
    switch (a) {
    case AD_ACT_RELU:       /* max(x, 0); derivative 0 at the kink, as PyTorch */
        *d1 = x > 0; *d2 = 0;
        return x > 0 ? x : 0;
    case AD_ACT_LEAKY_RELU: /* x > 0 ? x : s x */
        *d1 = x > 0 ? 1 : s; *d2 = 0;
        return x > 0 ? x : s * x;
    case AD_ACT_TANH:
        f = tanh(x); *d1 = 1 - f * f; *d2 = -2 * f * *d1;
        return f;
    case AD_ACT_SIGMOID:    /* s = 1/(1+e^-x), s' = s(1-s), s'' = s'(1-2s) */
        f = x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
        *d1 = f * (1 - f); *d2 = *d1 * (1 - 2 * f);
        return f;
    case AD_ACT_GELU:       /* x Phi(x), erf form (PyTorch's default) */
        p = 0.5 * (1 + erf(x * M_SQRT1_2));
        q = exp(-0.5 * x * x) * (M_2_SQRTPI * M_SQRT1_2 * 0.5); /* phi(x) */
        *d1 = p + x * q; *d2 = q * (2 - x * x);
        return x * p;
    case AD_ACT_SOFTPLUS:   /* log(1+e^x) = max(x,0) + log1p(e^-|x|); ' = sigmoid */
        f = x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
        *d1 = f; *d2 = f * (1 - f);
        return fmax(x, 0) + log1p(exp(-fabs(x)));
    case AD_ACT_IDENTITY:
    default:
        *d1 = 1; *d2 = 0;
        return x;
    }
}

static const char *const act_names[AD_ACT_COUNT] = {
    [AD_ACT_RELU] = "relu", [AD_ACT_LEAKY_RELU] = "leaky_relu", [AD_ACT_TANH] = "tanh",
    [AD_ACT_SIGMOID] = "sigmoid", [AD_ACT_GELU] = "gelu", [AD_ACT_SOFTPLUS] = "softplus",
    [AD_ACT_IDENTITY] = "identity",
};

const char *ad_act_name(enum ad_act a)
{
    return (unsigned)a < AD_ACT_COUNT ? act_names[a] : "?";
}

int ad_act_parse(const char *s)
{
    for (int a = 0; a < AD_ACT_COUNT; a++)
        if (strcmp(s, act_names[a]) == 0)
            return a;
    return -1;
}

/* --- inputs and parameters: their buffers are bound, nothing to compute --- */

static void nop(ad_graph *g, ad_node *n, size_t rows)
{
    (void)g; (void)n; (void)rows;
}

/* --- y = x W^T (nn.Linear without bias): x (r, in), W (out, in) ---
 * y' = x' W^T + x W'^T;  x_bar += y_bar W;  W_bar += y_bar^T x;
 * R{x_bar} += R{y_bar} W + y_bar W';  R{W_bar} += R{y_bar}^T x + y_bar^T x'. */
static void matmul_forward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *x = IN(n, 0), *w = IN(n, 1);
    size_t in = (size_t)w->cols, out = (size_t)w->rows;
    ad_gemm(g, 0, 1, r, out, in, 1, x->val, in, w->val, in, 0, n->val, out);
}

static void matmul_tangent(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *x = IN(n, 0), *w = IN(n, 1);
    size_t in = (size_t)w->cols, out = (size_t)w->rows;
    double beta = 0;
    if (HAS(x, AD_F_TAN)) {
        ad_gemm(g, 0, 1, r, out, in, 1, x->dot, in, w->val, in, 0, n->dot, out);
        beta = 1;
    }
    if (HAS(w, AD_F_TAN))
        ad_gemm(g, 0, 1, r, out, in, 1, x->val, in, w->dot, in, beta, n->dot, out);
}

static void matmul_backward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *x = IN(n, 0), *w = IN(n, 1);
    size_t in = (size_t)w->cols, out = (size_t)w->rows;
    if (HAS(x, AD_F_GRAD))
        ad_gemm(g, 0, 0, r, in, out, 1, n->grad, out, w->val, in, 1, x->grad, in);
    if (HAS(w, AD_F_GRAD) && w->grad)
        ad_gemm(g, 1, 0, out, in, r, 1, n->grad, out, x->val, in, 1, w->grad, in);
}

static void matmul_rbackward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *x = IN(n, 0), *w = IN(n, 1);
    size_t in = (size_t)w->cols, out = (size_t)w->rows;
    if (HAS(x, AD_F_GRAD)) {
        ad_gemm(g, 0, 0, r, in, out, 1, n->rgrad, out, w->val, in, 1, x->rgrad, in);
        if (HAS(w, AD_F_TAN))
            ad_gemm(g, 0, 0, r, in, out, 1, n->grad, out, w->dot, in, 1, x->rgrad, in);
    }
    if (HAS(w, AD_F_GRAD)) {
        ad_gemm(g, 1, 0, out, in, r, 1, n->rgrad, out, x->val, in, 1, w->rgrad, in);
        if (HAS(x, AD_F_TAN))
            ad_gemm(g, 1, 0, out, in, r, 1, n->grad, out, x->dot, in, 1, w->rgrad, in);
    }
}

/* --- y = x + b, b broadcast over rows ---
 * y' = x' + b';  x_bar += y_bar;  b_bar += sum_rows y_bar; R{} likewise (linear). */
/* y = x + b for r rows of c */
AD_VECTOR static void add_rows(const double *x, const double *b, double *y, size_t r, size_t c)
{
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++)
            y[i * c + j] = x[i * c + j] + b[j];
}

static void bias_forward(ad_graph *g, ad_node *n, size_t r)
{
    add_rows(IN(n, 0)->val, IN(n, 1)->val, n->val, r, (size_t)n->cols);
}

static void bias_tangent(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *x = IN(n, 0), *b = IN(n, 1);
    size_t c = (size_t)n->cols;
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++)
            n->dot[i * c + j] = (HAS(x, AD_F_TAN) ? x->dot[i * c + j] : 0)
                              + (HAS(b, AD_F_TAN) ? b->dot[j] : 0);
}

/* x_bar += y_bar and b_bar += column sums of y_bar, for adjoint buffers of one kind. */
static void bias_adjoint(ad_node *x, ad_node *b, const double *ybar, double *xbar,
                         double *bbar, size_t r, size_t c)
{
    if (HAS(x, AD_F_GRAD))
        axpy(r * c, 1, ybar, xbar);
    if (HAS(b, AD_F_GRAD) && bbar)
        for (size_t i = 0; i < r; i++)
            axpy(c, 1, ybar + i * c, bbar);
}

static void bias_backward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *x = IN(n, 0), *b = IN(n, 1);
    bias_adjoint(x, b, n->grad, x->grad, b->grad, r, (size_t)n->cols);
}

static void bias_rbackward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *x = IN(n, 0), *b = IN(n, 1);
    bias_adjoint(x, b, n->rgrad, x->rgrad, b->rgrad, r, (size_t)n->cols);
}

/* --- y = a + b (same shapes) --- */
static void add_forward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *a = IN(n, 0), *b = IN(n, 1);
    size_t m = ad_node_size(n, r);
    for (size_t i = 0; i < m; i++)
        n->val[i] = a->val[i] + b->val[i];
}

static void add_tangent(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *a = IN(n, 0), *b = IN(n, 1);
    size_t m = ad_node_size(n, r);
    for (size_t i = 0; i < m; i++)
        n->dot[i] = (HAS(a, AD_F_TAN) ? a->dot[i] : 0) + (HAS(b, AD_F_TAN) ? b->dot[i] : 0);
}

static void add_backward(ad_graph *g, ad_node *n, size_t r)
{
    size_t m = ad_node_size(n, r);
    for (int k = 0; k < 2; k++)
        if (HAS(IN(n, k), AD_F_GRAD))
            axpy(m, 1, n->grad, IN(n, k)->grad);
}

static void add_rbackward(ad_graph *g, ad_node *n, size_t r)
{
    size_t m = ad_node_size(n, r);
    for (int k = 0; k < 2; k++)
        if (HAS(IN(n, k), AD_F_GRAD))
            axpy(m, 1, n->rgrad, IN(n, k)->rgrad);
}

/* --- y = f(x) elementwise ---
 * y' = f'(x) x';  x_bar += f'(x) y_bar;  R{x_bar} += f'(x) R{y_bar} + f''(x) x' y_bar. */
/* ReLU's rules all pass a value where the gate x > 0 and zero elsewhere. A mask
 * instead of a branch: the signs of activations are random, and mispredicted
 * branches made these loops cost a fifth of the step's GEMM time. */
static inline double gated(double gate, double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    b &= -(uint64_t)(gate > 0);
    memcpy(&v, &b, sizeof v);
    return v;
}

AD_VECTOR static void relu_gate(const double *gate, const double *v, double *out, size_t m,
                                int accumulate)
{
    if (accumulate) {
        AD_IVDEP for (size_t i = 0; i < m; i++)
            out[i] += gated(gate[i], v[i]);
    } else {
        AD_IVDEP for (size_t i = 0; i < m; i++)
            out[i] = gated(gate[i], v[i]);
    }
}

void ad_act_apply(enum ad_act a, double slope, const double *x, double *y, size_t m)
{
    double d1, d2;
    if (a == AD_ACT_RELU) {
        relu_gate(x, x, y, m, 0);
        return;
    }
    for (size_t i = 0; i < m; i++)
        y[i] = ad_act_eval(a, slope, x[i], &d1, &d2);
}

static void act_forward(ad_graph *g, ad_node *n, size_t r)
{
    ad_act_apply(n->iarg, n->farg, IN(n, 0)->val, n->val, ad_node_size(n, r));
}

static void act_tangent(ad_graph *g, ad_node *n, size_t r)
{
    const double *x = IN(n, 0)->val, *xd = IN(n, 0)->dot;
    size_t m = ad_node_size(n, r);
    double d1, d2;
    if (n->iarg == AD_ACT_RELU) {
        relu_gate(x, xd, n->dot, m, 0);
        return;
    }
    for (size_t i = 0; i < m; i++) {
        ad_act_eval(n->iarg, n->farg, x[i], &d1, &d2);
        n->dot[i] = d1 * xd[i];
    }
}

static void act_backward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *x = IN(n, 0);
    size_t m = ad_node_size(n, r);
    double d1, d2;
    if (n->iarg == AD_ACT_RELU) {
        relu_gate(x->val, n->grad, x->grad, m, 1);
        return;
    }
    for (size_t i = 0; i < m; i++) {
        ad_act_eval(n->iarg, n->farg, x->val[i], &d1, &d2);
        x->grad[i] += d1 * n->grad[i];
    }
}

static void act_rbackward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *x = IN(n, 0);
    size_t m = ad_node_size(n, r);
    double d1, d2;
    if (n->iarg == AD_ACT_RELU) {   /* f'' = 0 */
        relu_gate(x->val, n->rgrad, x->rgrad, m, 1);
        return;
    }
    for (size_t i = 0; i < m; i++) {
        ad_act_eval(n->iarg, n->farg, x->val[i], &d1, &d2);
        x->rgrad[i] += d1 * n->rgrad[i] + d2 * x->dot[i] * n->grad[i];
    }
}

/* --- losses: scalar nodes; the loss node's own adjoint is 1 and R-adjoint 0 --- */

/* Index of the largest entry of z[0..c) (first on ties, as torch.argmax). */
static int argmax(const double *z, size_t c)
{
    size_t k = 0;
    for (size_t j = 1; j < c; j++)
        if (z[j] > z[k])
            k = j;
    return (int)k;
}

static void count_correct(ad_graph *g, const double *z, size_t r, size_t c)
{
    const int *y = g->bind->y;
    if (!y)
        return;
    for (size_t i = 0; i < r; i++)
        g->sums->correct += argmax(z + i * c, c) == y[i];
}

/* Softmax p of one row z (c); returns logsumexp(z). */
static double softmax_row(const double *z, double *p, size_t c)
{
    double mx = z[0], s = 0;
    for (size_t j = 1; j < c; j++)
        mx = fmax(mx, z[j]);
    for (size_t j = 0; j < c; j++)
        s += (p[j] = exp(z[j] - mx));
    for (size_t j = 0; j < c; j++)
        p[j] /= s;
    return mx + log(s);
}



/* L = sum_r scale (lse(z_r) - z_r[y_r]); L' = sum_r scale (p_r . z'_r - z'_r[y_r]). */
static void ce_forward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *z = IN(n, 0);
    size_t c = (size_t)z->cols;
    const int *y = g->bind->y;
    double p[AD_MAX_CLASSES], s = 0;
    for (size_t i = 0; i < r; i++)
        s += softmax_row(z->val + i * c, p, c) - z->val[i * c + (size_t)y[i]];
    n->val[0] = g->bind->scale * s;
    count_correct(g, z->val, r, c);
}

static void ce_tangent(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *z = IN(n, 0);
    size_t c = (size_t)z->cols;
    const int *y = g->bind->y;
    double p[AD_MAX_CLASSES], s = 0;
    for (size_t i = 0; i < r; i++) {
        const double *zd = z->dot + i * c;
        softmax_row(z->val + i * c, p, c);
        for (size_t j = 0; j < c; j++)
            s += p[j] * zd[j];
        s -= zd[y[i]];
    }
    n->dot[0] = g->bind->scale * s;
}

/* z_bar += L_bar scale (p - e_y) */
static void ce_backward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *z = IN(n, 0);
    size_t c = (size_t)z->cols;
    const int *y = g->bind->y;
    double a = n->grad[0] * g->bind->scale, p[AD_MAX_CLASSES];
    for (size_t i = 0; i < r; i++) {
        double *zb = z->grad + i * c;
        softmax_row(z->val + i * c, p, c);
        for (size_t j = 0; j < c; j++)
            zb[j] += a * p[j];
        zb[y[i]] -= a;
    }
}

/* R{z_bar} += L_bar scale (p .* z' - p (p . z')) + R{L_bar} scale (p - e_y) */
static void ce_rbackward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *z = IN(n, 0);
    size_t c = (size_t)z->cols;
    const int *y = g->bind->y;
    double a = n->grad[0] * g->bind->scale, ra = n->rgrad[0] * g->bind->scale;
    double p[AD_MAX_CLASSES];
    for (size_t i = 0; i < r; i++) {
        const double *zd = z->dot + i * c;
        double *zr = z->rgrad + i * c, pz = 0;
        softmax_row(z->val + i * c, p, c);
        for (size_t j = 0; j < c; j++)
            pz += p[j] * zd[j];
        for (size_t j = 0; j < c; j++)
            zr[j] += a * p[j] * (zd[j] - pz) + ra * p[j];
        zr[y[i]] -= ra;
    }
}

/* Target of row i, column j: the regression target, or onehot(y_i). */
static double mse_target(const ad_graph *g, size_t i, size_t j, size_t c)
{
    const ad_bind *b = g->bind;
    return b->t ? b->t[i * c + j] : (double)(b->y[i] == (int)j);
}

/* L = sum_r scale 0.5 ||z_r - t_r||^2 (Cohen et al.'s edge-of-stability loss). */
static void mse_forward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *z = IN(n, 0);
    size_t c = (size_t)z->cols;
    double s = 0;
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++) {
            double d = z->val[i * c + j] - mse_target(g, i, j, c);
            s += d * d;
        }
    n->val[0] = g->bind->scale * 0.5 * s;
    count_correct(g, z->val, r, c);
}

static void mse_tangent(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *z = IN(n, 0);
    size_t c = (size_t)z->cols;
    double s = 0;
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++)
            s += (z->val[i * c + j] - mse_target(g, i, j, c)) * z->dot[i * c + j];
    n->dot[0] = g->bind->scale * s;
}

/* z_bar += L_bar scale (z - t) */
static void mse_backward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *z = IN(n, 0);
    size_t c = (size_t)z->cols;
    double a = n->grad[0] * g->bind->scale;
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++)
            z->grad[i * c + j] += a * (z->val[i * c + j] - mse_target(g, i, j, c));
}

/* R{z_bar} += L_bar scale z' + R{L_bar} scale (z - t) */
static void mse_rbackward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *z = IN(n, 0);
    size_t c = (size_t)z->cols;
    double a = n->grad[0] * g->bind->scale, ra = n->rgrad[0] * g->bind->scale;
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++)
            z->rgrad[i * c + j] += a * z->dot[i * c + j]
                                 + ra * (z->val[i * c + j] - mse_target(g, i, j, c));
}

#define IN_VAL AD_READS_IN_VAL
#define GRAD AD_READS_GRAD
const ad_op_def ad_ops[AD_OP_COUNT] = {
    [AD_INPUT]    = {"input", nop, nop, nop, nop, NULL, NULL, 0},
    [AD_PARAM]    = {"param", nop, nop, nop, nop, NULL, NULL, 0},
    [AD_MATMUL_T] = {"matmul_t", matmul_forward, matmul_tangent, matmul_backward, matmul_rbackward,
                     NULL, NULL, IN_VAL | GRAD},
    [AD_BIAS]     = {"bias", bias_forward, bias_tangent, bias_backward, bias_rbackward, NULL, NULL,
                     0},
    [AD_ADD]      = {"add", add_forward, add_tangent, add_backward, add_rbackward, NULL, NULL, 0},
    [AD_ACT]      = {"act", act_forward, act_tangent, act_backward, act_rbackward, NULL, NULL,
                     IN_VAL | GRAD},
    [AD_LOSS_CE]  = {"loss_ce", ce_forward, ce_tangent, ce_backward, ce_rbackward, NULL, NULL,
                     IN_VAL | GRAD},
    [AD_LOSS_MSE] = {"loss_mse", mse_forward, mse_tangent, mse_backward, mse_rbackward, NULL, NULL,
                     IN_VAL | GRAD},
    [AD_CONV2D]   = AD_OP_ROW_FUSED(conv2d, IN_VAL | GRAD),
    [AD_MAXPOOL]  = AD_OP_ROW(maxpool, 0),         /* the argmax, in aux */
    [AD_AVGPOOL]  = AD_OP_ROW(avgpool, 0),
    [AD_GAP]      = AD_OP_ROW(gap, 0),
    [AD_GROUPNORM] = AD_OP_ROW(groupnorm, IN_VAL | GRAD),
};
_Static_assert(sizeof ad_ops / sizeof ad_ops[0] == AD_OP_COUNT, "one table entry per op");
