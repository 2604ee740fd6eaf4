/* collapse.c -- neural-collapse metrics NC1-NC4 (collapse.h) as a two-pass accumulator
 * over feature rows; dense products through CBLAS, the eigensolve of Sigma_B by GSL. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_eigen.h>

#include "collapse.h"

#define NC_ROWS 256     /* rows per internal slice of pass 2 (the workspace's height) */

struct nc_acc {
    int p, C;
    const double *W, *b;    /* (C x p), (C) or NULL: borrowed */
    size_t *count;          /* (C) samples per class */
    double *mean;           /* (C x p) class sums, then the class means mu_c */
    double *sw;             /* (p x p) upper triangle of sum (h - mu_y)(h - mu_y)^T */
    double *dev;            /* (NC_ROWS x p) workspace: centred rows */
    double *z;              /* (NC_ROWS x C) workspace: logits */
    size_t n1, n2;          /* samples seen by pass 1, pass 2 */
    size_t wrong, mismatch; /* prediction != label; prediction != nearest class mean */
    double margin;          /* sum of z_y - max_{c != y} z_c */
    int means_done;
};

int nc_acc_new(int p, int C, const double *W, const double *b, nc_acc **out, err *e)
{
    *out = NULL;
    if (C < 2 || p < 1)
        return err_set(e, ERR_USAGE, "collapse: needs at least 2 classes and 1 feature "
                       "(got %d classes, %d features)", C, p);
    nc_acc *a = err_calloc(e, 1, sizeof *a);
    if (!a)
        return ERR_SYS;
    size_t P = (size_t)p, K = (size_t)C;
    *a = (nc_acc){.p = p, .C = C, .W = W, .b = b};
    a->count = err_calloc(e, K, sizeof *a->count);
    a->mean = err_calloc(e, K * P, sizeof *a->mean);
    a->sw = err_calloc(e, P * P, sizeof *a->sw);
    a->dev = err_malloc(e, NC_ROWS * P * sizeof *a->dev);
    a->z = err_malloc(e, NC_ROWS * K * sizeof *a->z);
    if (!a->count || !a->mean || !a->sw || !a->dev || !a->z) {
        nc_acc_free(a);
        return ERR_SYS;
    }
    *out = a;
    return 0;
}

void nc_acc_free(nc_acc *a)
{
    if (!a)
        return;
    free(a->count);
    free(a->mean);
    free(a->sw);
    free(a->dev);
    free(a->z);
    free(a);
}

void nc_acc_means(nc_acc *a, const double *h, const int *y, size_t n)
{
    size_t P = (size_t)a->p;
    for (size_t i = 0; i < n; i++) {
        double *s = a->mean + (size_t)y[i] * P;
        for (size_t k = 0; k < P; k++)
            s[k] += h[i * P + k];
        a->count[y[i]]++;
    }
    a->n1 += n;
}

int nc_acc_means_done(nc_acc *a, err *e)
{
    size_t P = (size_t)a->p;
    for (int c = 0; c < a->C; c++) {
        if (!a->count[c])
            return err_set(e, ERR_DATA, "collapse: class %d has no sample among the %zu "
                           "(every class needs one for its mean)", c, a->n1);
        for (size_t k = 0; k < P; k++)
            a->mean[(size_t)c * P + k] /= (double)a->count[c];
    }
    a->means_done = 1;
    return 0;
}

/* Index of the first maximum of z (C). */
static int argmax(const double *z, int C)
{
    int best = 0;
    for (int c = 1; c < C; c++)
        if (z[c] > z[best])
            best = c;
    return best;
}

/* Index of the first class mean nearest to h (p). */
static int nearest_mean(const nc_acc *a, const double *h)
{
    size_t P = (size_t)a->p;
    int best = 0;
    double bestd = INFINITY;
    for (int c = 0; c < a->C; c++) {
        const double *mu = a->mean + (size_t)c * P;
        double d = 0;
        for (size_t k = 0; k < P; k++)
            d += (h[k] - mu[k]) * (h[k] - mu[k]);
        if (d < bestd) {
            bestd = d;
            best = c;
        }
    }
    return best;
}

/* Pass 2 on at most NC_ROWS rows. */
static void second_slice(nc_acc *a, const double *h, const int *y, size_t n)
{
    size_t P = (size_t)a->p, K = (size_t)a->C;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < P; k++)
            a->dev[i * P + k] = h[i * P + k] - a->mean[(size_t)y[i] * P + k];
    /* sw += dev^T dev (upper triangle) */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, a->p, (int)n, 1.0, a->dev, a->p, 1.0,
                a->sw, a->p);
    /* z = h W^T + b */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, a->C, a->p, 1.0, h, a->p,
                a->W, a->p, 0.0, a->z, a->C);
    for (size_t i = 0; i < n; i++) {
        double *z = a->z + i * K;
        if (a->b)
            for (size_t c = 0; c < K; c++)
                z[c] += a->b[c];
        int pred = argmax(z, a->C);
        double other = -INFINITY;
        for (int c = 0; c < a->C; c++)
            if (c != y[i] && z[c] > other)
                other = z[c];
        a->margin += z[y[i]] - other;
        a->wrong += pred != y[i];
        a->mismatch += pred != nearest_mean(a, h + i * P);
    }
}

void nc_acc_second(nc_acc *a, const double *h, const int *y, size_t n)
{
    for (size_t r = 0; r < n; r += NC_ROWS) {
        size_t k = n - r < NC_ROWS ? n - r : NC_ROWS;
        second_slice(a, h + r * (size_t)a->p, y + r, k);
    }
    a->n2 += n;
}

/* std/mean of the norms of the C rows of X (C x p), std unbiased. */
static double equinorm(const double *X, int C, int p)
{
    double mean = 0, var = 0;
    for (int c = 0; c < C; c++)
        mean += cblas_dnrm2(p, X + (size_t)c * (size_t)p, 1);
    mean /= C;
    for (int c = 0; c < C; c++) {
        double d = cblas_dnrm2(p, X + (size_t)c * (size_t)p, 1) - mean;
        var += d * d;
    }
    return sqrt(var / (C - 1)) / mean;
}

/* Mean over ordered pairs c != c' of |cos(x_c, x_c') + 1/(C-1)|, x_c the rows of X. */
static double equiangular(const double *X, int C, int p)
{
    double sum = 0;
    for (int c = 0; c < C; c++)
        for (int d = 0; d < C; d++) {
            if (c == d)
                continue;
            const double *u = X + (size_t)c * (size_t)p, *v = X + (size_t)d * (size_t)p;
            double cosv = cblas_ddot(p, u, 1, v, 1) / (cblas_dnrm2(p, u, 1) * cblas_dnrm2(p, v, 1));
            sum += fabs(cosv + 1.0 / (C - 1));
        }
    return sum / ((double)C * (C - 1));
}

/* Tr(Sigma_W Sigma_B^+) with Sigma_B^+ from the top min(C-1, p) eigenpairs of Sigma_B:
 * sum_j v_j^T Sigma_W v_j / lambda_j. sw (p x p, full), mt = M~ (C x p). */
static int trace_sw_sbinv(const nc_acc *a, const double *sw, const double *mt, double *out,
                          err *e)
{
    int p = a->p, C = a->C, rc = 0;
    gsl_matrix *sb = gsl_matrix_alloc((size_t)p, (size_t)p);
    gsl_matrix *vec = gsl_matrix_alloc((size_t)p, (size_t)p);
    gsl_vector *val = gsl_vector_alloc((size_t)p), *t = gsl_vector_alloc((size_t)p);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc((size_t)p);
    if (!sb || !vec || !val || !t || !ws) {
        rc = err_set(e, ERR_SYS, "collapse: out of memory for a %d x %d eigenproblem", p, p);
        goto done;
    }
    /* Sigma_B = M~^T M~ / C (p x p): upper triangle, then mirrored */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, p, C, 1.0 / C, mt, p, 0.0, sb->data,
                sb->tda);
    for (int i = 0; i < p; i++)
        for (int j = 0; j < i; j++)
            gsl_matrix_set(sb, (size_t)i, (size_t)j, gsl_matrix_get(sb, (size_t)j, (size_t)i));
    if (gsl_eigen_symmv(sb, val, vec, ws)) {
        rc = err_set(e, ERR_DATA, "collapse: the eigensolver failed on Sigma_B");
        goto done;
    }
    gsl_eigen_symmv_sort(val, vec, GSL_EIGEN_SORT_VAL_DESC);
    int k = C - 1 < p ? C - 1 : p;
    double tr = 0;
    for (int j = 0; j < k; j++) {
        gsl_vector_view v = gsl_matrix_column(vec, (size_t)j);
        /* t = Sigma_W v_j */
        cblas_dsymv(CblasRowMajor, CblasUpper, p, 1.0, sw, p, v.vector.data, (int)v.vector.stride,
                    0.0, t->data, 1);
        tr += cblas_ddot(p, v.vector.data, (int)v.vector.stride, t->data, 1)
              / gsl_vector_get(val, (size_t)j);
    }
    *out = tr;
done:
    gsl_matrix_free(sb);
    gsl_matrix_free(vec);
    gsl_vector_free(val);
    gsl_vector_free(t);
    gsl_eigen_symmv_free(ws);
    return rc;
}

int nc_acc_result(nc_acc *a, nc_result *r, err *e)
{
    if (!a->means_done || a->n2 != a->n1)
        return err_set(e, ERR_DATA, "collapse: pass 2 saw %zu samples, pass 1 %zu", a->n2, a->n1);
    int p = a->p, C = a->C;
    size_t P = (size_t)p, K = (size_t)C, N = a->n1;
    double *sw = err_malloc(e, P * P * sizeof *sw), *mt = err_malloc(e, K * P * sizeof *mt);
    if (!sw || !mt) {
        free(sw);
        free(mt);
        return ERR_SYS;
    }
    memset(r, 0, sizeof *r);
    r->n = N;
    r->p = p;
    r->C = C;
    for (size_t i = 0; i < P; i++)
        for (size_t j = i; j < P; j++)
            sw[i * P + j] = sw[j * P + i] = a->sw[i * P + j] / (double)N;
    for (size_t i = 0; i < P; i++)
        r->within_class_trace += sw[i * P + i];
    /* M~ = M - mu_G, mu_G the mean of the class means */
    for (size_t k = 0; k < P; k++) {
        double g = 0;
        for (size_t c = 0; c < K; c++)
            g += a->mean[c * P + k];
        g /= (double)C;
        for (size_t c = 0; c < K; c++)
            mt[c * P + k] = a->mean[c * P + k] - g;
    }
    double tr = 0;
    int rc = trace_sw_sbinv(a, sw, mt, &tr, e);
    if (!rc) {
        r->nc1_notebook = tr;
        r->nc1 = tr / C;
        r->nc2_equinorm_means = equinorm(mt, C, p);
        r->nc2_equinorm_weights = equinorm(a->W, C, p);
        r->nc2_equiangular_means = equiangular(mt, C, p);
        r->nc2_equiangular_weights = equiangular(a->W, C, p);
        double nw = cblas_dnrm2(C * p, a->W, 1), nm = cblas_dnrm2(C * p, mt, 1);
        for (size_t c = 0; c < K; c++)      /* W^T is p x C: entry (k, c) is W[c][k] */
            for (size_t k = 0; k < P; k++) {
                double d = a->W[c * P + k] / nw - mt[c * P + k] / nm;
                r->nc3 += d * d;
            }
        r->nc4 = (double)a->mismatch / (double)N;
        r->error = (double)a->wrong / (double)N;
        r->margin = a->margin / (double)N;
    }
    free(sw);
    free(mt);
    return rc;
}

int nc_compute(const double *h, const int *y, size_t n, int p, int C, const double *W,
               const double *b, nc_result *r, err *e)
{
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= C)
            return err_set(e, ERR_DATA, "collapse: label %d of sample %zu is outside [0, %d)",
                           y[i], i, C);
    nc_acc *a;
    int rc = nc_acc_new(p, C, W, b, &a, e);
    if (rc)
        return rc;
    nc_acc_means(a, h, y, n);
    rc = nc_acc_means_done(a, e);
    if (!rc) {
        nc_acc_second(a, h, y, n);
        rc = nc_acc_result(a, r, e);
    }
    nc_acc_free(a);
    return rc;
}

int nc_model(model *m, const double *theta, batch b, size_t slice, nc_result *r, err *e)
{
    if (!b.y || !b.n)
        return err_set(e, ERR_USAGE, "collapse: needs a labelled classification set");
    int wk = -1, bk = -1;
    for (int k = 0; k < m->nblocks; k++)
        if (m->blocks[k].role == ROLE_WEIGHT && m->blocks[k].ndim == 2)
            wk = k;
    const model_block *W = wk >= 0 ? &m->blocks[wk] : NULL;
    if (!W || W->shape[0] != m->out_dim || W->shape[1] != m->feat_dim)
        return err_set(e, ERR_USAGE, "collapse: the %s model has no last linear layer of shape "
                       "(%d, %d) on its features", m->kind, m->out_dim, m->feat_dim);
    char bias[sizeof W->name + 4];  /* "k.weight" -> "k.bias" */
    size_t len = strlen(W->name);
    snprintf(bias, sizeof bias, "%.*sbias", (int)(len >= 6 ? len - 6 : len), W->name);
    for (int k = 0; k < m->nblocks; k++)
        if (m->blocks[k].role == ROLE_BIAS && m->blocks[k].size == (size_t)m->out_dim
            && strcmp(m->blocks[k].name, bias) == 0)
            bk = k;
    slice = slice ? slice : 4096;
    double *f = err_malloc(e, slice * (size_t)m->feat_dim * sizeof *f);
    nc_acc *a = NULL;
    int rc = f ? nc_acc_new(m->feat_dim, m->out_dim, theta + W->offset,
                            bk >= 0 ? theta + m->blocks[bk].offset : NULL, &a, e) : ERR_SYS;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (size_t i = 0; i < b.n && !rc; i += slice) {
            batch s = {.x = b.x + i * (size_t)m->in_dim, .y = b.y + i, .n = b.n - i < slice ? b.n - i : slice};
            if ((rc = model_features(m, theta, s, f, e)))
                break;
            if (pass == 0)
                nc_acc_means(a, f, s.y, s.n);
            else
                nc_acc_second(a, f, s.y, s.n);
        }
        if (!rc && pass == 0)
            rc = nc_acc_means_done(a, e);
    }
    if (!rc)
        rc = nc_acc_result(a, r, e);
    nc_acc_free(a);
    free(f);
    return rc;
}
