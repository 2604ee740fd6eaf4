/* hessian.c -- Lanczos, power iteration, Hutchinson and SLQ on a symmetric operator
 * (hessian.h). Dense eigenproblems (the small tridiagonal T) go to GSL. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>

#include "../core/rng.h"
#include "hessian.h"

/* --- small vector helpers --- */

static double dot(const double *a, const double *b, size_t n)
{
    return cblas_ddot((int)n, a, 1, b, 1);
}

static double norm(const double *a, size_t n)
{
    return cblas_dnrm2((int)n, a, 1);
}

/* --- operators --- */

int hess_op_apply(hess_op *op, const double *v, double *hv, err *e)
{
    op->applies++;
    return op->apply(op->ctx, v, hv, e);
}

typedef struct op_model {
    hess_op op;           /* first: hess_op_free frees the whole struct */
    model_lin *lin;
} op_model;

static int model_apply(void *ctx, const double *v, double *hv, err *e)
{
    op_model *o = ctx;
    return model_lin_hvp(o->lin, v, hv, NULL, e);
}

static void model_release(void *ctx)
{
    op_model *o = ctx;
    model_lin_free(o->lin);
}

hess_op *hess_op_model(model *m, const double *theta, batch b, err *e)
{
    op_model *o = err_calloc(e, 1, sizeof *o);
    if (!o)
        return NULL;
    *o = (op_model){.op = {.n = m->n, .apply = model_apply, .ctx = o, .release = model_release}};
    if (model_lin_new(m, theta, b, HESS_LIN_MAX_BYTES, &o->lin, e)) {
        free(o);
        return NULL;
    }
    return &o->op;
}

typedef struct op_block {
    hess_op op;
    hess_op *parent;
    size_t offset;
    double *full, *hfull; /* (parent n) each: v embedded with zeros, and H of it */
    double work[];
} op_block;

static int block_apply(void *ctx, const double *v, double *hv, err *e)
{
    op_block *o = ctx;
    memcpy(o->full + o->offset, v, o->op.n * sizeof *v);
    int rc = hess_op_apply(o->parent, o->full, o->hfull, e);
    if (!rc)
        memcpy(hv, o->hfull + o->offset, o->op.n * sizeof *hv);
    return rc;
}

hess_op *hess_op_block(hess_op *parent, size_t offset, size_t size, err *e)
{
    if (size == 0 || offset > parent->n || size > parent->n - offset) {
        err_set(e, ERR_USAGE, "block [%zu, %zu) is outside the %zu parameters", offset,
                offset + size, parent->n);
        return NULL;
    }
    op_block *o = err_calloc(e, 1, sizeof *o + 2 * parent->n * sizeof(double));
    if (!o)
        return NULL;
    o->op = (hess_op){.n = size, .apply = block_apply, .ctx = o};
    o->parent = parent;
    o->offset = offset;
    o->full = o->work;    /* zero outside the block forever: only the block is written */
    o->hfull = o->work + parent->n;
    return &o->op;
}

typedef struct op_scaled {
    hess_op op;
    hess_op *parent;
    const double *d;
    double *t;            /* (n) d * v */
    double work[];
} op_scaled;

static int scaled_apply(void *ctx, const double *v, double *hv, err *e)
{
    op_scaled *o = ctx;
    size_t n = o->op.n;
    for (size_t i = 0; i < n; i++)
        o->t[i] = o->d[i] * v[i];
    int rc = hess_op_apply(o->parent, o->t, hv, e);
    for (size_t i = 0; !rc && i < n; i++)
        hv[i] *= o->d[i];
    return rc;
}

hess_op *hess_op_scaled(hess_op *parent, const double *d, err *e)
{
    op_scaled *o = err_calloc(e, 1, sizeof *o + parent->n * sizeof(double));
    if (!o)
        return NULL;
    o->op = (hess_op){.n = parent->n, .apply = scaled_apply, .ctx = o};
    o->parent = parent;
    o->d = d;
    o->t = o->work;
    return &o->op;
}

void hess_op_free(hess_op *op)
{
    if (op && op->release)
        op->release(op->ctx);
    free(op);
}

/* --- Lanczos --- */

int hess_lanczos_new(size_t n, int max_iter, hess_lanczos **out, err *e)
{
    *out = NULL;
    if (n == 0 || max_iter < 1)
        return err_set(e, ERR_USAGE, "lanczos: needs n >= 1 and max_iter >= 1 (got %zu, %d)", n,
                       max_iter);
    if ((size_t)max_iter > n)
        max_iter = (int)n;
    hess_lanczos *L = err_calloc(e, 1, sizeof *L);
    if (!L)
        return ERR_SYS;
    size_t k = (size_t)max_iter;
    L->n = n;
    L->max_iter = max_iter;
    L->q = err_calloc(e, k + 1, sizeof *L->q);
    L->alpha = err_calloc(e, k, sizeof(double));
    L->beta = err_calloc(e, k, sizeof(double));
    L->ritz = err_calloc(e, k, sizeof(double));
    L->est = err_calloc(e, k, sizeof(double));
    L->s = err_calloc(e, k * k, sizeof(double));
    L->w = err_calloc(e, n, sizeof(double));
    L->tri = err_calloc(e, k * k + k * k + k, sizeof(double));
    L->ws = gsl_eigen_symmv_alloc(k);
    if (!L->ws)
        err_set(e, ERR_SYS, "lanczos: out of memory for the %zu x %zu tridiagonal", k, k);
    if (!L->q || !L->alpha || !L->beta || !L->ritz || !L->est || !L->s || !L->w || !L->tri
        || !L->ws) {
        hess_lanczos_free(L);
        return ERR_SYS;
    }
    *out = L;
    return 0;
}

void hess_lanczos_free(hess_lanczos *L)
{
    if (!L)
        return;
    if (L->q)
        for (int j = 0; j <= L->max_iter; j++)
            free(L->q[j]);
    free(L->q);
    free(L->alpha);
    free(L->beta);
    free(L->ritz);
    free(L->est);
    free(L->s);
    free(L->w);
    free(L->tri);
    if (L->ws)
        gsl_eigen_symmv_free(L->ws);
    free(L);
}

static int basis_vector(hess_lanczos *L, int j, err *e)
{
    if (!L->q[j] && !(L->q[j] = err_malloc(e, L->n * sizeof(double))))
        return err_wrap(e, "lanczos: basis vector %d (%zu parameters)", j + 1, L->n);
    return 0;
}

int hess_lanczos_init(hess_lanczos *L, const double *v0, err *e)
{
    double nv = norm(v0, L->n);
    if (!(nv > 0) || !isfinite(nv))
        return err_set(e, ERR_USAGE, "lanczos: the start vector has norm %g", nv);
    int rc = basis_vector(L, 0, e);
    if (rc)
        return rc;
    for (size_t i = 0; i < L->n; i++)
        L->q[0][i] = v0[i] / nv;
    L->m = 0;
    L->breakdown = 0;
    return 0;
}

/* Ritz values (ascending), vectors of T and residual estimates after m steps, in the
 * workspace made for max_iter steps (GSL reads only the m x m it is given). */
static int ritz(hess_lanczos *L, err *e)
{
    int m = L->m, rc = 0;
    size_t mm = (size_t)m * (size_t)m;
    double *tb = L->tri, *sb = tb + mm, *eb = sb + mm;
    memset(tb, 0, mm * sizeof *tb);
    gsl_matrix_view T = gsl_matrix_view_array(tb, (size_t)m, (size_t)m);
    gsl_matrix_view S = gsl_matrix_view_array(sb, (size_t)m, (size_t)m);
    gsl_vector_view ev = gsl_vector_view_array(eb, (size_t)m);
    for (int j = 0; j < m; j++) {
        tb[(size_t)j * m + j] = L->alpha[j];
        if (j + 1 < m)
            tb[(size_t)j * m + j + 1] = tb[(size_t)(j + 1) * m + j] = L->beta[j];
    }
    if (gsl_eigen_symmv(&T.matrix, &ev.vector, &S.matrix, L->ws)
        || gsl_eigen_symmv_sort(&ev.vector, &S.matrix, GSL_EIGEN_SORT_VAL_ASC))
        rc = err_set(e, ERR_DATA, "lanczos: the tridiagonal eigenproblem failed (non-finite T?)");
    for (int i = 0; !rc && i < m; i++) {
        L->ritz[i] = eb[i];
        for (int j = 0; j < m; j++)
            L->s[j * m + i] = sb[(size_t)j * m + i];
        L->est[i] = L->beta[m - 1] * fabs(L->s[(m - 1) * m + i]);
    }
    return rc;
}

int hess_lanczos_iterate(hess_lanczos *L, hess_op *op, err *e)
{
    if (L->breakdown || L->m >= L->max_iter)
        return err_set(e, ERR_USAGE, "lanczos: no step left (%d steps taken%s)", L->m,
                       L->breakdown ? ", invariant subspace found" : "");
    int j = L->m, rc;
    size_t n = L->n;
    double *w = L->w;
    if ((rc = hess_op_apply(op, L->q[j], w, e)))
        return rc;
    double hnorm = norm(w, n);
    if (!isfinite(hnorm))
        return err_set(e, ERR_DATA, "lanczos: H v is not finite at step %d", j + 1);
    L->alpha[j] = dot(w, L->q[j], n);
    cblas_daxpy((int)n, -L->alpha[j], L->q[j], 1, w, 1);
    if (j > 0)
        cblas_daxpy((int)n, -L->beta[j - 1], L->q[j - 1], 1, w, 1);
    /* Full reorthogonalization: Gram-Schmidt against the whole basis, twice ("twice is
     * enough", Parlett), keeps Q orthonormal to rounding so no ghost Ritz values. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i <= j; i++)
            cblas_daxpy((int)n, -dot(w, L->q[i], n), L->q[i], 1, w, 1);
    double b = norm(w, n);
    L->beta[j] = b;
    L->m = j + 1;
    /* beta at rounding level relative to ||H q_j||: span(Q) is invariant. */
    if (b <= 1e-12 * hnorm || L->m == (int)n)
        L->breakdown = 1;
    else if (L->m < L->max_iter) {
        if ((rc = basis_vector(L, j + 1, e)))
            return rc;
        for (size_t i = 0; i < n; i++)
            L->q[j + 1][i] = w[i] / b;
    }
    return ritz(L, e);
}

double hess_lanczos_bound(const hess_lanczos *L, int i)
{
    double gap = INFINITY;
    if (i > 0)
        gap = L->ritz[i] - L->ritz[i - 1];
    if (i + 1 < L->m)
        gap = fmin(gap, L->ritz[i + 1] - L->ritz[i]);
    if (!isfinite(gap))    /* one Ritz value: no gap estimate yet */
        return L->est[i];
    return fmin(L->est[i], L->est[i] * L->est[i] / gap);
}

int hess_lanczos_test(const hess_lanczos *L, int top, int bottom, double tol, enum hess_stop stop)
{
    int m = L->m;
    if (m == 0)
        return GSL_CONTINUE;
    if (L->breakdown)
        return GSL_SUCCESS;
    if (m < top + bottom)
        return GSL_CONTINUE;
    double scale = fmax(fabs(L->ritz[0]), fabs(L->ritz[m - 1]));
    for (int p = 0; p < top + bottom; p++) {
        int i = p < top ? m - 1 - p : p - top;
        double err = stop == HESS_STOP_GAP ? hess_lanczos_bound(L, i) : L->est[i];
        if (!(err <= tol * scale))
            return GSL_CONTINUE;
    }
    return GSL_SUCCESS;
}

void hess_lanczos_vector(const hess_lanczos *L, int i, double *y)
{
    int m = L->m;
    memset(y, 0, L->n * sizeof *y);
    for (int j = 0; j < m; j++)
        cblas_daxpy((int)L->n, L->s[j * m + i], L->q[j], 1, y, 1);
}

/* --- power iteration --- */

int hess_power_new(size_t n, hess_power **out, err *e)
{
    hess_power *P = err_calloc(e, 1, sizeof *P);
    double *buf = err_calloc(e, 2 * n, sizeof(double));
    if (!P || !buf) {
        free(P);
        free(buf);
        *out = NULL;
        return ERR_SYS;
    }
    P->n = n;
    P->v = buf;
    P->hv = buf + n;
    *out = P;
    return 0;
}

void hess_power_free(hess_power *P)
{
    if (P)
        free(P->v);
    free(P);
}

/* PyHessian's normalization(): v / (||v|| + 1e-6). */
static void pyh_normalize(double *v, size_t n)
{
    cblas_dscal((int)n, 1.0 / (norm(v, n) + 1e-6), v, 1);
}

void hess_power_init(hess_power *P, const double *v0)
{
    memcpy(P->v, v0, P->n * sizeof *v0);
    pyh_normalize(P->v, P->n);
    P->eig = P->prev = 0;
    P->iter = 0;
}

int hess_power_iterate(hess_power *P, hess_op *op, const double *found, int nfound, err *e)
{
    size_t n = P->n;
    for (int i = 0; i < nfound; i++)      /* orthnormal(): modified Gram-Schmidt */
        cblas_daxpy((int)n, -dot(P->v, found + (size_t)i * n, n), found + (size_t)i * n, 1, P->v, 1);
    pyh_normalize(P->v, n);
    int rc = hess_op_apply(op, P->v, P->hv, e);
    if (rc)
        return rc;
    P->prev = P->eig;
    P->eig = dot(P->hv, P->v, n);
    P->rq = P->eig / dot(P->v, P->v, n);
    if (!isfinite(P->eig))
        return err_set(e, ERR_DATA, "power iteration: v.Hv is not finite at step %d", P->iter + 1);
    memcpy(P->v, P->hv, n * sizeof *P->v);
    pyh_normalize(P->v, n);
    P->iter++;
    return 0;
}

int hess_power_test(const hess_power *P, double tol)
{
    if (P->iter >= 2 && fabs(P->prev - P->eig) / (fabs(P->prev) + 1e-6) < tol)
        return GSL_SUCCESS;
    return GSL_CONTINUE;
}

/* --- eigenpairs --- */

void hess_eig_opts_default(hess_eig_opts *o)
{
    *o = (hess_eig_opts){.method = HESS_LANCZOS, .stop = HESS_STOP_RESIDUAL, .top = 1, .bottom = 0, .tol = 1e-3,
                         .max_iter = 100, .seed = 0, .sub = 0};
}

void hess_eigs_result_free(hess_eigs_result *r)
{
    if (!r)
        return;
    free(r->values);
    free(r->resid);
    free(r->est);
    free(r->vectors);
    memset(r, 0, sizeof *r);
}

static void normal_vector(gsl_rng *rng, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = gsl_ran_gaussian(rng, 1.0);
}

static int eigs_lanczos(hess_op *op, const hess_eig_opts *o, gsl_rng *rng, hess_eigs_result *r,
                        err *e)
{
    hess_lanczos *L = NULL;
    int rc = hess_lanczos_new(op->n, o->max_iter, &L, e);
    if (rc)
        return rc;
    normal_vector(rng, L->w, op->n);
    rc = hess_lanczos_init(L, L->w, e);
    int st = GSL_CONTINUE;
    while (!rc && st == GSL_CONTINUE && L->m < L->max_iter && !L->breakdown) {
        rc = hess_lanczos_iterate(L, op, e);
        st = rc ? st : hess_lanczos_test(L, o->top, o->bottom, o->tol, o->stop);
    }
    if (!rc) {
        int m = L->m;
        r->ntop = o->top < m ? o->top : m;
        r->nbottom = o->bottom < m ? o->bottom : m;
        r->k = r->ntop + r->nbottom;
        r->iterations = m;
        r->converged = st == GSL_SUCCESS;
        for (int p = 0; p < r->k; p++) {
            int i = p < r->ntop ? m - 1 - p : p - r->ntop;
            r->values[p] = L->ritz[i];
            r->est[p] = L->est[i];
            hess_lanczos_vector(L, i, r->vectors + (size_t)p * op->n);
        }
    }
    hess_lanczos_free(L);
    return rc;
}

static int eigs_power(hess_op *op, const hess_eig_opts *o, gsl_rng *rng, hess_eigs_result *r,
                      err *e)
{
    size_t n = op->n;
    hess_power *P = NULL;
    int rc = hess_power_new(n, &P, e);
    r->converged = 1;
    for (int p = 0; !rc && p < o->top; p++) {
        normal_vector(rng, P->hv, n);
        hess_power_init(P, P->hv);
        int st = GSL_CONTINUE;
        while (!rc && st == GSL_CONTINUE && P->iter < o->max_iter) {
            rc = hess_power_iterate(P, op, r->vectors, p, e);
            st = rc ? st : hess_power_test(P, o->tol);
        }
        /* PyHessian keeps the previous estimate when its rule fires. */
        r->values[p] = st == GSL_SUCCESS ? P->prev : P->eig;
        r->est[p] = NAN;
        r->converged &= st == GSL_SUCCESS;
        r->iterations += P->iter;
        memcpy(r->vectors + (size_t)p * n, P->v, n * sizeof *P->v);
    }
    if (!rc) {
        r->ntop = r->k = o->top;
        for (int p = 0; p < r->k; p++) {   /* unit vectors for the report */
            double *y = r->vectors + (size_t)p * n;
            cblas_dscal((int)n, 1.0 / norm(y, n), y, 1);
        }
    }
    hess_power_free(P);
    return rc;
}

int hess_eigs(hess_op *op, const hess_eig_opts *o, hess_eigs_result *r, err *e)
{
    memset(r, 0, sizeof *r);
    size_t n = op->n, k = (size_t)o->top + (size_t)o->bottom;
    if (o->top < 0 || o->bottom < 0 || k < 1)
        return err_set(e, ERR_USAGE, "eigenpairs: ask for --top K >= 1 and/or --bottom K >= 1");
    if (k > n)
        return err_set(e, ERR_USAGE, "eigenpairs: %zu asked of an operator of size %zu", k, n);
    if (o->method == HESS_POWER && o->bottom > 0)
        return err_set(e, ERR_USAGE, "power iteration finds the largest-magnitude eigenvalues "
                                     "only: use --method lanczos for --bottom");
    if (!(o->tol > 0) || o->max_iter < 1)
        return err_set(e, ERR_USAGE, "eigenpairs: tol must be > 0 and max_iter >= 1");
    r->n = n;
    r->tol = o->tol;
    r->seed = o->seed;
    r->values = err_calloc(e, k, sizeof(double));
    r->resid = err_calloc(e, k, sizeof(double));
    r->est = err_calloc(e, k, sizeof(double));
    r->vectors = err_calloc(e, k * n, sizeof(double));
    double *hy = err_malloc(e, n * sizeof *hy);
    gsl_rng *rng = rng_stream(o->seed, RNG_PROBE, o->sub);
    long applies0 = op->applies;
    int rc = r->values && r->resid && r->est && r->vectors && hy && rng ? 0 : ERR_SYS;
    if (rc && !rng)
        err_set(e, ERR_SYS, "eigenpairs: out of memory for the random stream");
    else if (rc)
        err_wrap(e, "eigenpairs: %zu eigenvectors of %zu", k, n);
    if (!rc)
        rc = o->method == HESS_POWER ? eigs_power(op, o, rng, r, e) : eigs_lanczos(op, o, rng, r, e);
    for (int p = 0; !rc && p < r->k; p++) {   /* the true residual, one application each */
        const double *y = r->vectors + (size_t)p * n;
        rc = hess_op_apply(op, y, hy, e);
        cblas_daxpy((int)n, -r->values[p], y, 1, hy, 1);
        r->resid[p] = norm(hy, n);
    }
    r->applies = op->applies - applies0;
    free(hy);
    rng_free(rng);
    if (rc)
        hess_eigs_result_free(r);
    return rc;
}

/* --- Hutchinson --- */

int hess_trace_new(size_t n, hess_trace **out, err *e)
{
    hess_trace *T = err_calloc(e, 1, sizeof *T);
    double *buf = err_calloc(e, 2 * n, sizeof(double));
    if (!T || !buf) {
        free(T);
        free(buf);
        *out = NULL;
        return ERR_SYS;
    }
    T->n = n;
    T->v = buf;
    T->hv = buf + n;
    *out = T;
    return 0;
}

void hess_trace_free(hess_trace *T)
{
    if (T)
        free(T->v);
    free(T);
}

void hess_trace_init(hess_trace *T)
{
    T->k = 0;
    T->mean = T->prev = T->m2 = 0;
}

/* Rademacher entries, one uniform_int draw each, in index order. */
static void rademacher(gsl_rng *rng, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = gsl_rng_uniform_int(rng, 2) ? 1.0 : -1.0;
}

int hess_trace_iterate(hess_trace *T, hess_op *op, gsl_rng *rng, err *e)
{
    rademacher(rng, T->v, T->n);
    int rc = hess_op_apply(op, T->v, T->hv, e);
    if (rc)
        return rc;
    double x = dot(T->v, T->hv, T->n);
    if (!isfinite(x))
        return err_set(e, ERR_DATA, "hutchinson: v.Hv is not finite at sample %ld", T->k + 1);
    T->k++;
    T->prev = T->mean;
    double d = x - T->mean;
    T->mean += d / (double)T->k;
    T->m2 += d * (x - T->mean);
    return 0;
}

int hess_trace_test(const hess_trace *T, double tol, long min_samples)
{
    if (T->k >= 1 && T->k >= min_samples && fabs(T->mean - T->prev) / (fabs(T->prev) + 1e-6) < tol)
        return GSL_SUCCESS;
    return GSL_CONTINUE;
}

double hess_trace_stderr(const hess_trace *T)
{
    return T->k < 2 ? NAN : sqrt(T->m2 / (double)(T->k - 1) / (double)T->k);
}

int hess_trace_run(hess_op *op, double tol, long min_samples, long max_samples, uint64_t seed,
                   uint64_t sub, hess_trace_result *r, err *e)
{
    memset(r, 0, sizeof *r);
    if (max_samples < 1 || !(tol > 0))
        return err_set(e, ERR_USAGE, "hutchinson: needs tol > 0 and at least one sample");
    hess_trace *T = NULL;
    gsl_rng *rng = rng_stream(seed, RNG_PROBE, sub);
    int rc = rng ? hess_trace_new(op->n, &T, e) : err_set(e, ERR_SYS, "hutchinson: out of memory");
    if (!rc)
        hess_trace_init(T);
    int st = GSL_CONTINUE;
    while (!rc && st == GSL_CONTINUE && T->k < max_samples) {
        rc = hess_trace_iterate(T, op, rng, e);
        st = rc ? st : hess_trace_test(T, tol, min_samples);
    }
    if (!rc)
        *r = (hess_trace_result){.trace = T->mean, .stderr_ = hess_trace_stderr(T), .samples = T->k,
                                 .converged = st == GSL_SUCCESS, .tol = tol, .seed = seed};
    hess_trace_free(T);
    rng_free(rng);
    return rc;
}

/* --- SLQ --- */

void hess_slq_result_free(hess_slq_result *r)
{
    if (!r)
        return;
    free(r->count);
    free(r->nodes);
    free(r->weights);
    free(r->quad);
    memset(r, 0, sizeof *r);
}

int hess_slq(hess_op *op, int steps, int runs, uint64_t seed, uint64_t sub, hess_slq_result *r,
             err *e)
{
    memset(r, 0, sizeof *r);
    if (steps < 1 || runs < 1)
        return err_set(e, ERR_USAGE, "slq: needs steps >= 1 and runs >= 1 (got %d, %d)", steps, runs);
    if ((size_t)steps > op->n)
        steps = (int)op->n;
    size_t cells = (size_t)runs * (size_t)steps;
    r->runs = runs;
    r->steps = steps;
    r->seed = seed;
    r->count = err_calloc(e, (size_t)runs, sizeof *r->count);
    r->nodes = err_calloc(e, cells, sizeof(double));
    r->weights = err_calloc(e, cells, sizeof(double));
    r->quad = err_calloc(e, (size_t)runs, sizeof(double));
    hess_lanczos *L = NULL;
    gsl_rng *rng = rng_stream(seed, RNG_PROBE, sub);
    long applies0 = op->applies;
    int rc = r->count && r->nodes && r->weights && r->quad && rng ? 0 : ERR_SYS;
    rc = rc ? err_set(e, ERR_SYS, "slq: out of memory") : hess_lanczos_new(op->n, steps, &L, e);
    for (int k = 0; !rc && k < runs; k++) {
        rademacher(rng, L->w, op->n);
        rc = hess_lanczos_init(L, L->w, e);
        while (!rc && L->m < steps && !L->breakdown)
            rc = hess_lanczos_iterate(L, op, e);
        if (rc)
            break;
        int m = L->m;
        r->count[k] = m;
        r->quad[k] = L->alpha[0];
        for (int i = 0; i < m; i++) {
            r->nodes[(size_t)k * steps + i] = L->ritz[i];
            r->weights[(size_t)k * steps + i] = L->s[i] * L->s[i];   /* first row of S */
        }
    }
    r->applies = op->applies - applies0;
    hess_lanczos_free(L);
    rng_free(rng);
    if (rc)
        hess_slq_result_free(r);
    return rc;
}

void hess_density(const hess_slq_result *r, int npts, double *grid, double *density)
{
    double lo = 0, hi = 0;
    for (int k = 0; k < r->runs; k++) {
        const double *x = r->nodes + (size_t)k * r->steps;
        lo += x[0];                       /* nodes are ascending */
        hi += x[r->count[k] - 1];
    }
    lo = lo / r->runs - 0.01;
    hi = hi / r->runs + 0.01;
    double s = 1e-5 * fmax(1.0, hi - lo);  /* a variance, as PyHessian's sigma_squared */
    double dx = (hi - lo) / (npts - 1), c = 1.0 / sqrt(2 * M_PI * s), total = 0;
    for (int j = 0; j < npts; j++) {
        double x = lo + j * dx, acc = 0;
        for (int k = 0; k < r->runs; k++)
            for (int i = 0; i < r->count[k]; i++) {
                double d = x - r->nodes[(size_t)k * r->steps + i];
                acc += r->weights[(size_t)k * r->steps + i] * c * exp(-d * d / (2 * s));
            }
        grid[j] = x;
        density[j] = acc / r->runs;
        total += density[j];
    }
    for (int j = 0; j < npts && total > 0; j++)
        density[j] /= total * dx;
}

double hess_overlap(const double *g, const double *vecs, int k, size_t n)
{
    double gg = dot(g, g, n), in = 0;
    if (!(gg > 0))
        return 0;
    for (int i = 0; i < k; i++) {
        double c = dot(g, vecs + (size_t)i * n, n);
        in += c * c;
    }
    return in / gg;
}
