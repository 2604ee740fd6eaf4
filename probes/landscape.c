/* landscape.c -- landscape directions and grids, interpolation barriers, and weight
 * matching with a linear-assignment solver (landscape.h). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_randist.h>

#include "../core/rng.h"
#include "landscape.h"

/* --- axes --- */

int land_axis_parse(const char *text, land_axis *a, err *e)
{
    char *p, *q, *r;
    errno = 0;
    double lo = strtod(text, &p);
    double hi = *p == ':' ? strtod(p + 1, &q) : 0;
    long n = *p == ':' && *q == ':' ? strtol(q + 1, &r, 10) : 0;
    if (*p != ':' || q == p + 1 || *q != ':' || r == q + 1 || *r || errno || !isfinite(lo)
        || !isfinite(hi) || n < 1 || n > 100000)
        return err_set(e, ERR_USAGE, "'%s' is not an axis FROM:TO:POINTS (like -1:1:51, "
                       "1 to 100000 points)", text);
    *a = (land_axis){.lo = lo, .hi = hi, .n = (int)n};
    return 0;
}

double land_axis_at(land_axis a, int i)
{
    if (a.n > 1 && i == a.n - 1)
        return a.hi;
    return a.n > 1 ? a.lo + i * ((a.hi - a.lo) / (a.n - 1)) : a.lo;
}

/* --- directions --- */

/* A network's bias or normalization block (a 1-D block of a model with data; the one
 * block of a 2-D test function is its weight). */
static int is_biasbn(const model *m, const model_block *bl)
{
    return bl->role != ROLE_WEIGHT || (bl->ndim <= 1 && m->in_dim > 0);
}

void land_normalize(const model *m, const double *theta, enum land_norm norm, int ignore_biasbn,
                    double *d)
{
    for (int k = 0; k < m->nblocks; k++) {
        const model_block *bl = &m->blocks[k];
        double *db = d + bl->offset;
        const double *wb = theta + bl->offset;
        if (is_biasbn(m, bl)) {
            if (ignore_biasbn)
                memset(db, 0, bl->size * sizeof *db);
            else
                memcpy(db, wb, bl->size * sizeof *db);
            continue;
        }
        if (norm == LAND_NORM_LAYER) {
            double s = cblas_dnrm2((int)bl->size, wb, 1) / cblas_dnrm2((int)bl->size, db, 1);
            cblas_dscal((int)bl->size, s, db, 1);
        } else if (norm == LAND_NORM_FILTER) {
            size_t rows = bl->ndim >= 2 ? (size_t)bl->shape[0] : 1, len = bl->size / rows;
            for (size_t i = 0; i < rows; i++) {
                double s = cblas_dnrm2((int)len, wb + i * len, 1)
                           / (cblas_dnrm2((int)len, db + i * len, 1) + 1e-10);
                cblas_dscal((int)len, s, db + i * len, 1);
            }
        }
    }
}

int land_directions(const model *m, const double *theta, uint64_t seed, enum land_norm norm,
                    int ignore_biasbn, double *d1, double *d2, err *e)
{
    gsl_rng *r = rng_stream(seed, RNG_DIRECTIONS, 0);
    if (!r)
        return err_set(e, ERR_SYS, "landscape: out of memory");
    for (int t = 0; t < 2; t++) {
        double *d = t ? d2 : d1;
        if (!d)
            continue;
        for (size_t i = 0; i < m->n; i++)
            d[i] = gsl_ran_gaussian(r, 1.0);
        land_normalize(m, theta, norm, ignore_biasbn, d);
    }
    rng_free(r);
    return 0;
}

/* --- trajectory PCA --- */

/* Columns of the centred rows per dsyrk call: m x PCA_BLOCK doubles of workspace. */
#define PCA_BLOCK 2048

/* G (m x m, full) = C C^T for the centred rows C = D - 1 mu^T, one block of columns
 * at a time, in column order. */
static int pca_gram(const double *D, int m, size_t n, const double *mu, double *G, err *e)
{
    size_t bw = n < PCA_BLOCK ? n : PCA_BLOCK;
    double *W = err_malloc(e, (size_t)m * bw * sizeof *W);   /* (m, bw) */
    if (!W)
        return ERR_SYS;
    memset(G, 0, (size_t)m * (size_t)m * sizeof *G);
    for (size_t j0 = 0; j0 < n; j0 += bw) {
        size_t w = n - j0 < bw ? n - j0 : bw;
        for (int i = 0; i < m; i++)
            for (size_t j = 0; j < w; j++)
                W[(size_t)i * w + j] = D[(size_t)i * n + j0 + j] - mu[j0 + j];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, m, (int)w, 1.0, W, (int)w, 1.0, G, m);
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < i; j++)
            G[(size_t)i * m + j] = G[(size_t)j * m + i];
    free(W);
    return 0;
}

int land_pca(const double *D, int m, size_t n, double *pc1, double *pc2, double *x, double *y,
             land_pca_result *r, err *e)
{
    if (m < 3)
        return err_set(e, ERR_USAGE, "pca: %d snapshots; two principal directions need at least 3",
                       m);
    double *mu = err_calloc(e, n, sizeof *mu), *G = err_malloc(e, (size_t)m * m * sizeof *G);
    gsl_vector *val = gsl_vector_alloc((size_t)m);
    gsl_matrix *vec = gsl_matrix_alloc((size_t)m, (size_t)m);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc((size_t)m);
    int rc = mu && G && val && vec && ws ? 0 : err_set(e, ERR_SYS, "pca: out of memory");
    for (int i = 0; !rc && i < m; i++)
        cblas_daxpy((int)n, 1.0 / m, D + (size_t)i * n, 1, mu, 1);
    rc = rc ? rc : pca_gram(D, m, n, mu, G, e);
    double trace = 0;
    for (int i = 0; !rc && i < m; i++)
        trace += G[(size_t)i * m + i];
    gsl_matrix_view gv = gsl_matrix_view_array(G, (size_t)m, (size_t)m);
    if (!rc && gsl_eigen_symmv(&gv.matrix, val, vec, ws))
        rc = err_set(e, ERR_DATA, "pca: the eigensolver failed on the %d x %d Gram matrix", m, m);
    if (!rc) {
        gsl_eigen_symmv_sort(val, vec, GSL_EIGEN_SORT_VAL_DESC);
        double l1 = gsl_vector_get(val, 0), l2 = gsl_vector_get(val, 1);
        if (!(l2 > m * DBL_EPSILON * l1) || !(trace > 0))
            rc = err_set(e, ERR_DATA, "pca: the %d snapshots span fewer than 2 dimensions about "
                         "their mean (variances %g, %g)", m, l1 / (m - 1), l2 / (m - 1));
    }
    double *pc[2] = {pc1, pc2}, *proj[2] = {x, y};
    for (int k = 0; !rc && k < 2; k++) {
        double *u = vec->data + k, sum = 0, lk = gsl_vector_get(val, (size_t)k);
        for (int i = 0; i < m; i++)
            sum += u[(size_t)i * vec->tda];
        /* C^T u = D^T u - mu (1^T u); 1^T u = 0 up to rounding (G 1 = 0) */
        cblas_dgemv(CblasRowMajor, CblasTrans, m, (int)n, 1.0, D, (int)n, u, (int)vec->tda, 0.0,
                    pc[k], 1);
        cblas_daxpy((int)n, -sum, mu, 1, pc[k], 1);
        double nrm = cblas_dnrm2((int)n, pc[k], 1);
        size_t big = cblas_idamax((int)n, pc[k], 1);
        cblas_dscal((int)n, (pc[k][big] < 0 ? -1.0 : 1.0) / nrm, pc[k], 1);
        r->explained[k] = lk / trace;
        r->variance[k] = lk / (m - 1);
        if (proj[k])
            cblas_dgemv(CblasRowMajor, CblasNoTrans, m, (int)n, 1.0, D, (int)n, pc[k], 1, 0.0,
                        proj[k], 1);
    }
    free(mu);
    free(G);
    gsl_vector_free(val);
    gsl_matrix_free(vec);
    gsl_eigen_symmv_free(ws);
    return rc;
}

/* --- grids --- */

int land_grid(model *m, const double *theta0, const double *d1, const double *d2, land_axis x,
              land_axis y, batch b, double *loss, double *acc, err *e)
{
    size_t ny = d2 ? (size_t)y.n : 1, npts = (size_t)x.n * ny;
    double *xs = err_malloc(e, npts * sizeof *xs), *ys = err_malloc(e, npts * sizeof *ys);
    model_stats *st = err_malloc(e, npts * sizeof *st);
    double *th = m->vt->plane ? NULL : err_malloc(e, m->n * sizeof *th);
    int rc = xs && ys && st && (m->vt->plane || th) ? 0 : ERR_SYS;
    for (size_t k = 0; k < npts && !rc; k++) {
        xs[k] = land_axis_at(x, (int)(k / ny));
        ys[k] = d2 ? land_axis_at(y, (int)(k % ny)) : 0;
    }
    if (!rc && m->vt->plane) {
        model_stats s0;     /* checks the batch, as every model call does */
        rc = model_loss(m, theta0, b, &s0, e);
        rc = rc ? rc : m->vt->plane(m, theta0, d1, d2, xs, ys, npts, b, st, e);
    }
    for (size_t k = 0; k < npts && !rc && !m->vt->plane; k++) {
        for (size_t i = 0; i < m->n; i++)
            th[i] = theta0[i] + xs[k] * d1[i] + (d2 ? ys[k] * d2[i] : 0);
        rc = model_loss(m, th, b, &st[k], e);
    }
    for (size_t k = 0; k < npts && !rc; k++) {
        loss[k] = st[k].loss;
        acc[k] = st[k].n ? st[k].correct / (double)st[k].n : 0;
    }
    free(xs);
    free(ys);
    free(st);
    free(th);
    return rc;
}

/* --- interpolation --- */

int land_interpolate(model *m, const double *theta_a, const double *theta_b, land_axis alpha,
                     batch b, double *loss, double *acc, land_barrier *r, err *e)
{
    double *d = err_malloc(e, m->n * sizeof *d);
    if (!d)
        return ERR_SYS;
    for (size_t i = 0; i < m->n; i++)
        d[i] = theta_b[i] - theta_a[i];
    model_stats sa, sb;
    int rc = model_loss(m, theta_a, b, &sa, e);
    rc = rc ? rc : model_loss(m, theta_b, b, &sb, e);
    rc = rc ? rc : land_grid(m, theta_a, d, NULL, alpha, alpha, b, loss, acc, e);
    free(d);
    if (rc)
        return rc;
    *r = (land_barrier){.loss_a = sa.loss, .loss_b = sb.loss,
                        .err_a = sa.n ? 1 - sa.correct / (double)sa.n : 1,
                        .err_b = sb.n ? 1 - sb.correct / (double)sb.n : 1};
    for (int i = 0; i < alpha.n; i++) {     /* the endpoints contribute 0 */
        double a = land_axis_at(alpha, i);
        if (a < 0 || a > 1)
            continue;
        r->loss = fmax(r->loss, loss[i] - ((1 - a) * r->loss_a + a * r->loss_b));
        r->error = fmax(r->error, (1 - acc[i]) - ((1 - a) * r->err_a + a * r->err_b));
    }
    return 0;
}

/* --- linear assignment --- */

/* Hungarian algorithm with row and column potentials on the cost -S (minimization),
 * one shortest augmenting path per row; 1-based internally, column 0 a sentinel. */
int land_assign(int n, const double *S, int *perm, err *e)
{
    size_t N = (size_t)n + 1;
    double *u = err_calloc(e, N, sizeof *u), *v = err_calloc(e, N, sizeof *v);
    double *minv = err_malloc(e, N * sizeof *minv);
    int *p = err_calloc(e, N, sizeof *p), *way = err_calloc(e, N, sizeof *way);
    char *used = err_malloc(e, N);
    int rc = u && v && minv && p && way && used ? 0 : ERR_SYS;
    for (int i = 1; i <= n && !rc; i++) {
        int j0 = 0;
        p[0] = i;
        for (size_t j = 0; j < N; j++) {
            minv[j] = INFINITY;
            used[j] = 0;
        }
        do {    /* grow the alternating tree from row i until a free column is reached */
            used[j0] = 1;
            int i0 = p[j0], j1 = 0;
            double delta = INFINITY;
            for (int j = 1; j <= n; j++) {
                if (used[j])
                    continue;
                double cur = -S[(size_t)(i0 - 1) * (size_t)n + (size_t)(j - 1)] - u[i0] - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (int j = 0; j <= n; j++) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {    /* augment along the path */
            int j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
    for (int j = 1; j <= n && !rc; j++)
        perm[p[j] - 1] = j - 1;
    free(u);
    free(v);
    free(minv);
    free(p);
    free(way);
    free(used);
    return rc;
}

/* --- weight matching --- */

typedef struct layer {
    const model_block *w, *b;   /* weight (out, in); bias (out) or NULL */
} layer;

/* The layers of a dense chain, or ERR_USAGE. L (nblocks) receives them. */
static int dense_layers(const model *m, layer *L, int *nl, err *e)
{
    int k = 0, n = 0;
    while (k < m->nblocks) {
        const model_block *w = &m->blocks[k++];
        if (w->role != ROLE_WEIGHT || w->ndim != 2 || (n && w->shape[1] != L[n - 1].w->shape[0]))
            return err_set(e, ERR_USAGE, "weight matching: the %s model is not a chain of dense "
                           "layers (block %s); it supports mlp and logreg", m->kind, w->name);
        const model_block *b = k < m->nblocks && m->blocks[k].role == ROLE_BIAS
                               && m->blocks[k].size == (size_t)w->shape[0] ? &m->blocks[k++] : NULL;
        L[n++] = (layer){w, b};
    }
    *nl = n;
    return 0;
}

/* S (h x h) = the weight-matching objective of layer l's hidden units: S[i][j] =
 * <unit i of a, unit j of b> over incoming weights (b's inputs permuted by the layer
 * below), bias, and outgoing weights (b's outputs permuted by the layer above).
 * perm[l] maps a position to b's unit; perm[-1] and perm[nl-1] are identities (NULL). */
static void match_objective(const layer *L, int l, int nl, const double *ta, const double *tb,
                            int *const *perm, double *S, double *buf)
{
    const model_block *w = L[l].w, *wn = L[l + 1].w;
    int h = w->shape[0], in = w->shape[1], out = wn->shape[0];
    /* buf (h x in) = W_l^b with columns permuted: buf[j][k] = W_l^b[j][perm_{l-1}(k)] */
    for (int j = 0; j < h; j++)
        for (int k = 0; k < in; k++)
            buf[(size_t)j * in + k] = tb[w->offset + (size_t)j * in + (size_t)(l ? perm[l - 1][k] : k)];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, h, h, in, 1.0, ta + w->offset, in, buf,
                in, 0.0, S, h);
    if (L[l].b)
        cblas_dger(CblasRowMajor, h, h, 1.0, ta + L[l].b->offset, 1, tb + L[l].b->offset, 1, S, h);
    /* buf (out x h) = W_{l+1}^b with rows permuted: buf[k][j] = W_{l+1}^b[perm_{l+1}(k)][j] */
    for (int k = 0; k < out; k++)
        memcpy(buf + (size_t)k * h,
               tb + wn->offset + (size_t)(l + 1 < nl - 1 ? perm[l + 1][k] : k) * h, (size_t)h * sizeof *buf);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, h, h, out, 1.0, ta + wn->offset, h, buf, h,
                1.0, S, h);
}

/* out = theta_b with every hidden layer's units permuted (perm[l][i]: b's unit at
 * position i), weights' rows and the next layer's columns alike. */
static void apply_perms(const layer *L, int nl, const double *tb, int *const *perm, double *out)
{
    for (int l = 0; l < nl; l++) {
        const model_block *w = L[l].w;
        int rows = w->shape[0], cols = w->shape[1];
        for (int i = 0; i < rows; i++) {
            int src = l < nl - 1 ? perm[l][i] : i;
            for (int k = 0; k < cols; k++)
                out[w->offset + (size_t)i * cols + k] =
                    tb[w->offset + (size_t)src * cols + (size_t)(l ? perm[l - 1][k] : k)];
            if (L[l].b)
                out[L[l].b->offset + i] = tb[L[l].b->offset + src];
        }
    }
}

int land_match_weights(const model *m, const double *theta_a, const double *theta_b,
                       double *out, int max_sweeps, int *sweeps, err *e)
{
    layer *L = err_malloc(e, (size_t)(m->nblocks ? m->nblocks : 1) * sizeof *L);
    int nl = 0, rc = L ? dense_layers(m, L, &nl, e) : ERR_SYS, hmax = 0, inmax = 0, done = 0;
    for (int l = 0; l < nl; l++) {
        hmax = L[l].w->shape[0] > hmax ? L[l].w->shape[0] : hmax;
        inmax = L[l].w->shape[1] > inmax ? L[l].w->shape[1] : inmax;
    }
    size_t H = (size_t)hmax, I = (size_t)(inmax > hmax ? inmax : hmax);
    int **perm = rc ? NULL : err_calloc(e, (size_t)nl, sizeof *perm);
    int *cand = rc ? NULL : err_malloc(e, H * sizeof *cand);
    double *S = rc ? NULL : err_malloc(e, H * H * sizeof *S);
    double *buf = rc ? NULL : err_malloc(e, H * I * sizeof *buf);
    double *tb = rc ? NULL : err_malloc(e, m->n * sizeof *tb);
    rc = rc ? rc : perm && cand && S && buf && tb ? 0 : ERR_SYS;
    for (int l = 0; l < nl - 1 && !rc; l++) {
        perm[l] = err_malloc(e, (size_t)L[l].w->shape[0] * sizeof **perm);
        if (!perm[l])
            rc = ERR_SYS;
        for (int i = 0; i < L[l].w->shape[0] && !rc; i++)
            perm[l][i] = i;
    }
    if (!rc)
        memcpy(tb, theta_b, m->n * sizeof *tb);     /* out may alias theta_b */
    int improved = 1;
    while (!rc && improved && done < max_sweeps) {
        improved = 0;
        for (int l = 0; l < nl - 1 && !rc; l++) {
            int h = L[l].w->shape[0];
            match_objective(L, l, nl, theta_a, tb, perm, S, buf);
            if ((rc = land_assign(h, S, cand, e)))
                break;
            double now = 0, best = 0;
            for (int i = 0; i < h; i++) {
                now += S[(size_t)i * h + (size_t)perm[l][i]];
                best += S[(size_t)i * h + (size_t)cand[i]];
            }
            if (best > now + 1e-12 * fabs(now)) {
                memcpy(perm[l], cand, (size_t)h * sizeof *cand);
                improved = 1;
            }
        }
        done++;
    }
    if (!rc)
        apply_perms(L, nl, tb, perm, out);
    if (sweeps)
        *sweeps = done;
    for (int l = 0; perm && l < nl - 1; l++)
        free(perm[l]);
    free(perm);
    free(cand);
    free(S);
    free(buf);
    free(tb);
    free(L);
    return rc;
}
