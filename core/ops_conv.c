/* ops_conv.c -- the image ops' rules: conv2d, max-pool, average-pool, global average
 * pooling and group normalization with one group (the op table is in ops.c).
 *
 * A batched row is one sample as an NCHW image (ad.h); geometry, window, stride and
 * padding are in the node (img_in, img_out, kh, kw, stride, pad). Notation as in
 * ops.c: x' tangents, x_bar adjoints, R{.} tangents of adjoints. The same flag rules
 * hold: an input without AD_F_GRAD gets no adjoint, one without AD_F_TAN adds no
 * tangent term.
 *
 * Memory: conv2d works sample by sample on im2col columns (c*kh*kw, oh*ow) in the
 * graph's shared scratch buffer, so the columns of one sample stay in cache and the
 * arena never holds a whole chunk of them; max-pool keeps its argmax and group norm
 * each row's mean and 1/sigma in the node's aux buffer, from forward to backward. */
#include <math.h>
#include <string.h>

#include "ad_impl.h"

#define IN(n, k) (&g->nodes[(n)->in[k]])
#define HAS(n, f) (((n)->flags & (f)) != 0)

/* --- windows: the input positions a kh x kw window at output (p, q) reads --- */

/* Output columns q whose input column q*stride - pad + j lies in [0, w): [q0, q1). */
static void valid_cols(const ad_node *n, int j, int *q0, int *q1)
{
    int s = n->stride, a = n->pad - j, b = n->img_in.w - 1 + n->pad - j;
    *q1 = b < 0 ? 0 : b / s + 1;
    if (*q1 > n->img_out.w)
        *q1 = n->img_out.w;
    *q0 = a <= 0 ? 0 : (a + s - 1) / s;
    if (*q0 > *q1)
        *q0 = *q1;
}

/* im2col of one sample, and its adjoint. Column matrix col (c*kh*kw, oh*ow):
 * col[(ci, i, j), (p, q)] = x[ci, p*s - pad + i, q*s - pad + j], 0 in the padding.
 * back = 0: col = im2col(x);  back = 1: x += col2im(col) (the transpose). */
static void columns(const ad_node *n, double *x, double *col, int back)
{
    ad_img in = n->img_in, out = n->img_out;
    int s = n->stride, pad = n->pad;
    size_t ohw = (size_t)out.h * (size_t)out.w;
    for (int c = 0; c < in.c; c++)
        for (int i = 0; i < n->kh; i++)
            for (int j = 0; j < n->kw; j++) {
                double *row = col + ((size_t)(c * n->kh + i) * (size_t)n->kw + (size_t)j) * ohw;
                int q0, q1;
                valid_cols(n, j, &q0, &q1);
                for (int p = 0; p < out.h; p++) {
                    double *r = row + (size_t)p * (size_t)out.w;
                    int ih = p * s - pad + i;
                    if (ih < 0 || ih >= in.h) {
                        if (!back)
                            memset(r, 0, (size_t)out.w * sizeof *r);
                        continue;
                    }
                    double *xr = x + ((size_t)c * (size_t)in.h + (size_t)ih) * (size_t)in.w;
                    int off = j - pad;  /* input column of q is q*s + off */
                    if (back && s == 1) {   /* contiguous: vectorizes */
                        for (int q = q0; q < q1; q++)
                            xr[q + off] += r[q];
                    } else if (back) {
                        for (int q = q0; q < q1; q++)
                            xr[q * s + off] += r[q];
                    } else {
                        for (int q = 0; q < q0; q++)
                            r[q] = 0;
                        if (s == 1)
                            memcpy(r + q0, xr + q0 + off, (size_t)(q1 - q0) * sizeof *r);
                        else
                            for (int q = q0; q < q1; q++)
                                r[q] = xr[q * s + off];
                        for (int q = q1; q < out.w; q++)
                            r[q] = 0;
                    }
                }
            }
}

/* --- conv2d: per sample, Y (out, oh*ow) = W (out, c*kh*kw) col(X) + b ---
 * Y' = W col(X') + W' col(X) + b';  W_bar += Y_bar col(X)^T;
 * X_bar += col2im(W^T Y_bar);  b_bar += row sums of Y_bar;
 * R{W_bar} += R{Y_bar} col(X)^T + Y_bar col(X')^T;
 * R{X_bar} += col2im(W^T R{Y_bar} + W'^T Y_bar);  R{b_bar} += row sums of R{Y_bar}.
 * The columns are rebuilt per sample and rule; the fused rules (forward with tangent,
 * backward with rbackward) build col(X) and col(X') once per sample for both. */

typedef struct conv_ctx {
    ad_node *n, *x, *w, *b;     /* b NULL: no bias */
    size_t co, ck, ohw;         /* output channels, c*kh*kw, output pixels */
    double *col;                /* (ck, ohw) scratch */
    const ad_graph *g;          /* for ad_gemm */
} conv_ctx;

static conv_ctx conv_ctx_of(ad_graph *g, ad_node *n)
{
    ad_node *w = IN(n, 1);
    return (conv_ctx){n, IN(n, 0), w, n->nin > 2 ? IN(n, 2) : NULL, (size_t)w->rows,
                      (size_t)w->cols, (size_t)n->img_out.h * (size_t)n->img_out.w,
                      g->scratch_buf, g};
}

/* y (co, ohw) = b broadcast over each channel's pixels */
static void fill_bias(double *y, const double *b, const conv_ctx *c)
{
    for (size_t o = 0; o < c->co; o++)
        for (size_t k = 0; k < c->ohw; k++)
            y[o * c->ohw + k] = b[o];
}

/* b_bar (co) += row sums of y_bar (co, ohw) */
static void sum_bias(double *bbar, const double *ybar, const conv_ctx *c)
{
    for (size_t o = 0; o < c->co; o++) {
        double s = 0;
        for (size_t k = 0; k < c->ohw; k++)
            s += ybar[o * c->ohw + k];
        bbar[o] += s;
    }
}

/* Sample s: Y (val) and/or Y' (dot). */
static void conv_fwd(const conv_ctx *c, size_t s, int val, int dot)
{
    ad_node *n = c->n, *x = c->x, *w = c->w, *b = c->b;
    size_t xo = s * (size_t)x->cols, yo = s * (size_t)n->cols;
    double beta = 0;
    if (dot && b && HAS(b, AD_F_TAN)) {
        fill_bias(n->dot + yo, b->dot, c);
        beta = 1;
    }
    if (val || (dot && HAS(w, AD_F_TAN))) {
        columns(n, x->val + xo, c->col, 0);
        if (val) {
            if (b)
                fill_bias(n->val + yo, b->val, c);
            ad_gemm(c->g, 0, 0, c->co, c->ohw, c->ck, 1, w->val, c->ck, c->col, c->ohw, b ? 1 : 0,
                    n->val + yo, c->ohw);
        }
        if (dot && HAS(w, AD_F_TAN)) {
            ad_gemm(c->g, 0, 0, c->co, c->ohw, c->ck, 1, w->dot, c->ck, c->col, c->ohw, beta,
                    n->dot + yo, c->ohw);
            beta = 1;
        }
    }
    if (dot && HAS(x, AD_F_TAN)) {
        columns(n, x->dot + xo, c->col, 0);
        ad_gemm(c->g, 0, 0, c->co, c->ohw, c->ck, 1, w->val, c->ck, c->col, c->ohw, beta,
                n->dot + yo, c->ohw);
        beta = 1;
    }
    if (dot && beta == 0)
        memset(n->dot + yo, 0, (size_t)n->cols * sizeof *n->dot);
}

/* Sample s: the adjoints (grad) and/or their tangents (rgrad). */
static void conv_back(const conv_ctx *c, size_t s, int grad, int rgrad)
{
    ad_node *n = c->n, *x = c->x, *w = c->w, *b = c->b;
    size_t xo = s * (size_t)x->cols, yo = s * (size_t)n->cols;
    const double *yb = n->grad + yo, *ryb = rgrad ? n->rgrad + yo : NULL;
    if (HAS(w, AD_F_GRAD)) {
        columns(n, x->val + xo, c->col, 0);
        if (grad && w->grad)
            ad_gemm(c->g, 0, 1, c->co, c->ck, c->ohw, 1, yb, c->ohw, c->col, c->ohw, 1, w->grad, c->ck);
        if (rgrad)
            ad_gemm(c->g, 0, 1, c->co, c->ck, c->ohw, 1, ryb, c->ohw, c->col, c->ohw, 1, w->rgrad, c->ck);
        if (rgrad && HAS(x, AD_F_TAN)) {
            columns(n, x->dot + xo, c->col, 0);
            ad_gemm(c->g, 0, 1, c->co, c->ck, c->ohw, 1, yb, c->ohw, c->col, c->ohw, 1, w->rgrad, c->ck);
        }
    }
    if (HAS(x, AD_F_GRAD) && grad) {
        ad_gemm(c->g, 1, 0, c->ck, c->ohw, c->co, 1, w->val, c->ck, yb, c->ohw, 0, c->col, c->ohw);
        columns(n, x->grad + xo, c->col, 1);
    }
    if (HAS(x, AD_F_GRAD) && rgrad) {
        ad_gemm(c->g, 1, 0, c->ck, c->ohw, c->co, 1, w->val, c->ck, ryb, c->ohw, 0, c->col, c->ohw);
        if (HAS(w, AD_F_TAN))
            ad_gemm(c->g, 1, 0, c->ck, c->ohw, c->co, 1, w->dot, c->ck, yb, c->ohw, 1, c->col, c->ohw);
        columns(n, x->rgrad + xo, c->col, 1);
    }
    if (b && HAS(b, AD_F_GRAD)) {
        if (grad && b->grad)
            sum_bias(b->grad, yb, c);
        if (rgrad)
            sum_bias(b->rgrad, ryb, c);
    }
}

void ad_conv2d_forward(ad_graph *g, ad_node *n, size_t r)
{
    conv_ctx c = conv_ctx_of(g, n);
    for (size_t s = 0; s < r; s++)
        conv_fwd(&c, s, 1, 0);
}

void ad_conv2d_forward_tangent(ad_graph *g, ad_node *n, size_t r)
{
    conv_ctx c = conv_ctx_of(g, n);
    for (size_t s = 0; s < r; s++)
        conv_fwd(&c, s, 1, 1);
}

void ad_conv2d_tangent(ad_graph *g, ad_node *n, size_t r)
{
    conv_ctx c = conv_ctx_of(g, n);
    for (size_t s = 0; s < r; s++)
        conv_fwd(&c, s, 0, 1);
}

void ad_conv2d_backward(ad_graph *g, ad_node *n, size_t r)
{
    conv_ctx c = conv_ctx_of(g, n);
    for (size_t s = 0; s < r; s++)
        conv_back(&c, s, 1, 0);
}

void ad_conv2d_rbackward(ad_graph *g, ad_node *n, size_t r)
{
    conv_ctx c = conv_ctx_of(g, n);
    for (size_t s = 0; s < r; s++)
        conv_back(&c, s, 0, 1);
}

void ad_conv2d_backward_both(ad_graph *g, ad_node *n, size_t r)
{
    conv_ctx c = conv_ctx_of(g, n);
    for (size_t s = 0; s < r; s++)
        conv_back(&c, s, 1, 1);
}

/* --- max-pool: y[c,p,q] = x[argmax over the window], padding never chosen ---
 * Given the argmax (aux, an index into the row) the op is a linear selection S:
 * y' = S x';  x_bar += S^T y_bar;  R{x_bar} += S^T R{y_bar} (S does not move with v). */
void ad_maxpool_forward(ad_graph *g, ad_node *n, size_t r)
{
    const ad_node *x = IN(n, 0);
    ad_img in = n->img_in, out = n->img_out;
    int s = n->stride, pad = n->pad, k = n->kh;
    for (size_t row = 0; row < r; row++) {
        const double *xr = x->val + row * (size_t)x->cols;
        double *y = n->val + row * (size_t)n->cols, *am = n->aux + row * (size_t)n->cols;
        for (int c = 0; c < in.c; c++)
            for (int p = 0; p < out.h; p++)
                for (int q = 0; q < out.w; q++) {
                    int h0 = p * s - pad, w0 = q * s - pad;
                    int h1 = h0 + k < in.h ? h0 + k : in.h, w1 = w0 + k < in.w ? w0 + k : in.w;
                    h0 = h0 > 0 ? h0 : 0;
                    w0 = w0 > 0 ? w0 : 0;
                    /* first maximum in row-major window order, as PyTorch */
                    size_t best = ((size_t)c * (size_t)in.h + (size_t)h0) * (size_t)in.w + (size_t)w0;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) {
                            size_t idx = ((size_t)c * (size_t)in.h + (size_t)ih) * (size_t)in.w + (size_t)iw;
                            if (xr[idx] > xr[best])
                                best = idx;
                        }
                    size_t o = ((size_t)c * (size_t)out.h + (size_t)p) * (size_t)out.w + (size_t)q;
                    y[o] = xr[best];
                    am[o] = (double)best;
                }
    }
}

/* y (r, cols) = S x, gathering through the stored argmax */
static void select_rows(const ad_node *n, const ad_node *x, const double *src, double *y, size_t r)
{
    for (size_t row = 0; row < r; row++)
        for (size_t o = 0; o < (size_t)n->cols; o++)
            y[row * (size_t)n->cols + o] =
                src[row * (size_t)x->cols + (size_t)n->aux[row * (size_t)n->cols + o]];
}

/* xbar (r, x cols) += S^T ybar, scattering through the stored argmax */
static void scatter_rows(const ad_node *n, const ad_node *x, const double *ybar, double *xbar,
                         size_t r)
{
    for (size_t row = 0; row < r; row++)
        for (size_t o = 0; o < (size_t)n->cols; o++)
            xbar[row * (size_t)x->cols + (size_t)n->aux[row * (size_t)n->cols + o]] +=
                ybar[row * (size_t)n->cols + o];
}

void ad_maxpool_tangent(ad_graph *g, ad_node *n, size_t r)
{
    select_rows(n, IN(n, 0), IN(n, 0)->dot, n->dot, r);
}

void ad_maxpool_backward(ad_graph *g, ad_node *n, size_t r)
{
    scatter_rows(n, IN(n, 0), n->grad, IN(n, 0)->grad, r);
}

void ad_maxpool_rbackward(ad_graph *g, ad_node *n, size_t r)
{
    scatter_rows(n, IN(n, 0), n->rgrad, IN(n, 0)->rgrad, r);
}

/* --- average pool, count_include_pad: y[c,p,q] = sum over the window / (k*k) ---
 * Linear (A): y' = A x';  x_bar += A^T y_bar;  R{x_bar} += A^T R{y_bar}. */

/* back = 0: y = A x;  back = 1: x += A^T y. One row each, (c*h*w) and (c*oh*ow). */
static void avg_apply(const ad_node *n, double *x, double *y, int back)
{
    ad_img in = n->img_in, out = n->img_out;
    int s = n->stride, pad = n->pad, k = n->kh;
    double inv = 1.0 / (k * k);
    for (int c = 0; c < in.c; c++)
        for (int p = 0; p < out.h; p++)
            for (int q = 0; q < out.w; q++) {
                int h0 = p * s - pad, w0 = q * s - pad;
                int h1 = h0 + k < in.h ? h0 + k : in.h, w1 = w0 + k < in.w ? w0 + k : in.w;
                h0 = h0 > 0 ? h0 : 0;
                w0 = w0 > 0 ? w0 : 0;
                double *yo = y + ((size_t)c * (size_t)out.h + (size_t)p) * (size_t)out.w + (size_t)q;
                double acc = 0, share = back ? *yo * inv : 0;
                for (int ih = h0; ih < h1; ih++) {
                    double *xr = x + ((size_t)c * (size_t)in.h + (size_t)ih) * (size_t)in.w;
                    for (int iw = w0; iw < w1; iw++) {
                        if (back)
                            xr[iw] += share;
                        else
                            acc += xr[iw];
                    }
                }
                if (!back)
                    *yo = acc * inv;
            }
}

static void avg_rows(const ad_node *n, const ad_node *x, double *xb, double *yb, size_t r, int back)
{
    for (size_t row = 0; row < r; row++)
        avg_apply(n, xb + row * (size_t)x->cols, yb + row * (size_t)n->cols, back);
}

void ad_avgpool_forward(ad_graph *g, ad_node *n, size_t r)
{
    avg_rows(n, IN(n, 0), IN(n, 0)->val, n->val, r, 0);
}

void ad_avgpool_tangent(ad_graph *g, ad_node *n, size_t r)
{
    avg_rows(n, IN(n, 0), IN(n, 0)->dot, n->dot, r, 0);
}

void ad_avgpool_backward(ad_graph *g, ad_node *n, size_t r)
{
    avg_rows(n, IN(n, 0), IN(n, 0)->grad, n->grad, r, 1);
}

void ad_avgpool_rbackward(ad_graph *g, ad_node *n, size_t r)
{
    avg_rows(n, IN(n, 0), IN(n, 0)->rgrad, n->rgrad, r, 1);
}

/* --- global average pool: y[c] = mean over (h, w) of x[c] ---
 * Linear (M): y' = M x';  x_bar += M^T y_bar;  R{x_bar} += M^T R{y_bar}. */

/* back = 0: y = M x;  back = 1: x += M^T y, over r rows. */
static void gap_rows(const ad_node *n, double *x, double *y, size_t r, int back)
{
    size_t c = (size_t)n->img_in.c, hw = (size_t)n->img_in.h * (size_t)n->img_in.w;
    double inv = 1.0 / (double)hw;
    for (size_t row = 0; row < r; row++)
        for (size_t k = 0; k < c; k++) {
            double *xc = x + (row * c + k) * hw, *yk = y + row * c + k, acc = 0;
            if (back) {
                for (size_t i = 0; i < hw; i++)
                    xc[i] += *yk * inv;
                continue;
            }
            for (size_t i = 0; i < hw; i++)
                acc += xc[i];
            *yk = acc * inv;
        }
}

void ad_gap_forward(ad_graph *g, ad_node *n, size_t r)
{
    gap_rows(n, IN(n, 0)->val, n->val, r, 0);
}

void ad_gap_tangent(ad_graph *g, ad_node *n, size_t r)
{
    gap_rows(n, IN(n, 0)->dot, n->dot, r, 0);
}

void ad_gap_backward(ad_graph *g, ad_node *n, size_t r)
{
    gap_rows(n, IN(n, 0)->grad, n->grad, r, 1);
}

void ad_gap_rbackward(ad_graph *g, ad_node *n, size_t r)
{
    gap_rows(n, IN(n, 0)->rgrad, n->rgrad, r, 1);
}

/* --- group norm, one group (Wu & He 2018, eq. 1-3 with G = 1) ---
 * Per row of N = c*h*w elements: mu = mean(x), var = mean((x - mu)^2) (biased),
 * s = 1/sqrt(var + eps), xh = (x - mu) s, y = gamma[c] xh + beta[c]; mean() below is
 * over the row's N elements.
 *   xh' = s (x' - mean(x') - xh mean(xh x')),    s' = -s mean(xh x') s
 *   y'  = gamma' xh + gamma xh' + beta'
 * With gb = gamma y_bar (the adjoint of xh), the Jacobian of xh is the symmetric
 * s (I - 11^T/N - xh xh^T/N), so
 *   x_bar += s (gb - mean(gb) - xh mean(gb xh)),
 *   gamma_bar[c] += sum_c y_bar xh,  beta_bar[c] += sum_c y_bar,
 * and its tangent, with R{gb} = gamma' y_bar + gamma R{y_bar}:
 *   R{x_bar} += s' (gb - mean(gb) - xh mean(gb xh))
 *             + s (R{gb} - mean(R{gb}) - xh' mean(gb xh) - xh mean(R{gb} xh + gb xh'))
 *   R{gamma_bar}[c] += sum_c (R{y_bar} xh + y_bar xh'),  R{beta_bar}[c] += sum_c R{y_bar}.
 * aux holds (mu, s) of each row. */
#define GN_EPS 1e-5

typedef struct gn_row {
    const double *x, *xd;   /* (N) the row and its tangent (NULL: no tangent) */
    double mu, s;           /* mean and 1/sigma */
    double a, b;            /* mean(x') and mean(xh x'); 0 without tangent */
} gn_row;

/* The row's statistics from aux, and its tangent's two means when it has one. */
static gn_row gn_load(const ad_node *n, const ad_node *x, size_t row, size_t N)
{
    gn_row q = {.x = x->val + row * N, .xd = HAS(x, AD_F_TAN) ? x->dot + row * N : NULL,
                .mu = n->aux[2 * row], .s = n->aux[2 * row + 1]};
    if (q.xd) {
        for (size_t i = 0; i < N; i++) {
            q.a += q.xd[i];
            q.b += (q.x[i] - q.mu) * q.s * q.xd[i];
        }
        q.a /= (double)N;
        q.b /= (double)N;
    }
    return q;
}

/* xh and xh' of element i */
static double gn_xh(const gn_row *q, size_t i) { return (q->x[i] - q->mu) * q->s; }
static double gn_xhd(const gn_row *q, size_t i)
{
    return q->xd ? q->s * (q->xd[i] - q->a - gn_xh(q, i) * q->b) : 0;
}

void ad_groupnorm_forward(ad_graph *g, ad_node *n, size_t r)
{
    const ad_node *x = IN(n, 0), *gm = IN(n, 1), *bt = IN(n, 2);
    size_t N = (size_t)n->cols, hw = N / (size_t)n->img_in.c;
    for (size_t row = 0; row < r; row++) {
        const double *xr = x->val + row * N;
        double *y = n->val + row * N, mu = 0, var = 0;
        for (size_t i = 0; i < N; i++)
            mu += xr[i];
        mu /= (double)N;
        for (size_t i = 0; i < N; i++)
            var += (xr[i] - mu) * (xr[i] - mu);
        double s = 1 / sqrt(var / (double)N + GN_EPS);
        n->aux[2 * row] = mu;
        n->aux[2 * row + 1] = s;
        for (size_t i = 0; i < N; i++)
            y[i] = gm->val[i / hw] * (xr[i] - mu) * s + bt->val[i / hw];
    }
}

void ad_groupnorm_tangent(ad_graph *g, ad_node *n, size_t r)
{
    const ad_node *x = IN(n, 0), *gm = IN(n, 1), *bt = IN(n, 2);
    size_t N = (size_t)n->cols, hw = N / (size_t)n->img_in.c;
    for (size_t row = 0; row < r; row++) {
        gn_row q = gn_load(n, x, row, N);
        double *yd = n->dot + row * N;
        for (size_t i = 0; i < N; i++) {
            size_t c = i / hw;
            yd[i] = gm->val[c] * gn_xhd(&q, i)
                  + (HAS(gm, AD_F_TAN) ? gm->dot[c] * gn_xh(&q, i) : 0)
                  + (HAS(bt, AD_F_TAN) ? bt->dot[c] : 0);
        }
    }
}

/* gamma_bar[c] += sum_c yb * xh (+ sum_c yb2 * xh'), beta_bar[c] += sum_c yb */
static void gn_affine_adjoint(const gn_row *q, const double *yb, const double *yb2,
                              double *gbar, double *bbar, size_t N, size_t hw)
{
    for (size_t i = 0; i < N; i++) {
        size_t c = i / hw;
        if (gbar)
            gbar[c] += yb[i] * gn_xh(q, i) + (yb2 ? yb2[i] * gn_xhd(q, i) : 0);
        if (bbar)
            bbar[c] += yb[i];
    }
}

void ad_groupnorm_backward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *x = IN(n, 0), *gm = IN(n, 1), *bt = IN(n, 2);
    size_t N = (size_t)n->cols, hw = N / (size_t)n->img_in.c;
    for (size_t row = 0; row < r; row++) {
        gn_row q = {.x = x->val + row * N, .mu = n->aux[2 * row], .s = n->aux[2 * row + 1]};
        const double *yb = n->grad + row * N;
        gn_affine_adjoint(&q, yb, NULL, HAS(gm, AD_F_GRAD) ? gm->grad : NULL,
                          HAS(bt, AD_F_GRAD) ? bt->grad : NULL, N, hw);
        if (!HAS(x, AD_F_GRAD))
            continue;
        double m1 = 0, m2 = 0, *xb = x->grad + row * N;
        for (size_t i = 0; i < N; i++) {
            double gb = gm->val[i / hw] * yb[i];
            m1 += gb;
            m2 += gb * gn_xh(&q, i);
        }
        m1 /= (double)N;
        m2 /= (double)N;
        for (size_t i = 0; i < N; i++)
            xb[i] += q.s * (gm->val[i / hw] * yb[i] - m1 - gn_xh(&q, i) * m2);
    }
}

void ad_groupnorm_rbackward(ad_graph *g, ad_node *n, size_t r)
{
    ad_node *x = IN(n, 0), *gm = IN(n, 1), *bt = IN(n, 2);
    size_t N = (size_t)n->cols, hw = N / (size_t)n->img_in.c;
    int gtan = HAS(gm, AD_F_TAN);
    for (size_t row = 0; row < r; row++) {
        gn_row q = gn_load(n, x, row, N);
        const double *yb = n->grad + row * N, *ryb = n->rgrad + row * N;
        gn_affine_adjoint(&q, ryb, yb, HAS(gm, AD_F_GRAD) ? gm->rgrad : NULL,
                          HAS(bt, AD_F_GRAD) ? bt->rgrad : NULL, N, hw);
        if (!HAS(x, AD_F_GRAD))
            continue;
        double m1 = 0, m2 = 0, rm1 = 0, rm2 = 0, *rxb = x->rgrad + row * N;
        for (size_t i = 0; i < N; i++) {
            size_t c = i / hw;
            double gb = gm->val[c] * yb[i], xh = gn_xh(&q, i);
            double rgb = gm->val[c] * ryb[i] + (gtan ? gm->dot[c] * yb[i] : 0);
            m1 += gb;
            m2 += gb * xh;
            rm1 += rgb;
            rm2 += rgb * xh + gb * gn_xhd(&q, i);
        }
        m1 /= (double)N;
        m2 /= (double)N;
        rm1 /= (double)N;
        rm2 /= (double)N;
        double sd = -q.s * q.b;     /* s' / s */
        for (size_t i = 0; i < N; i++) {
            size_t c = i / hw;
            double gb = gm->val[c] * yb[i], xh = gn_xh(&q, i);
            double rgb = gm->val[c] * ryb[i] + (gtan ? gm->dot[c] * yb[i] : 0);
            rxb[i] += q.s * (sd * (gb - m1 - xh * m2)
                             + rgb - rm1 - gn_xhd(&q, i) * m2 - xh * rm2);
        }
    }
}
