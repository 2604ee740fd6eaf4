/* hessian.h -- curvature probes on a symmetric operator: Lanczos and power iteration
 * for extreme eigenpairs, Hutchinson's trace, stochastic Lanczos quadrature (SLQ)
 * for the spectral density, and the gradient-subspace overlap.
 *
 * Every algorithm works on a generic symmetric operator `hess_op` (v -> H v over
 * R^n), so the exact Hessian of a model on a batch (hess_op_model), its restriction to
 * one parameter block (hess_op_block) and the preconditioned Hessian
 * P^{-1/2} H P^{-1/2} (hess_op_scaled) are just different operators. The model
 * operator passes the whole probe batch to model_hvp, which already combines
 * physical chunks as the sample-weighted mean (Hv = sum_b |b| H_b v / N).
 *
 * The algorithms follow GSL's init / iterate / test shape: the caller owns the
 * loop, the tolerances and the random streams; nothing calls back into the caller
 * except the operator. hess_eigs(), hess_trace_run() and hess_slq() are the loops
 * written once for the commands and the runner; their results record what a probe
 * result must carry (iterations, operator applications, tolerance, seed).
 * Definitions and conventions: ../shared/REFERENCE-probes.md (PyHessian's).
 *
 * Ownership: objects from *_new are freed with the matching *_free (NULL-safe);
 * result structs own their arrays and are freed with their *_free. Vectors passed
 * in are borrowed for the duration of the call only, except where noted. */
#ifndef BASIN_HESSIAN_H
#define BASIN_HESSIAN_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_rng.h>

#include "../core/err.h"
#include "../models/model.h"

/* --- operators --- */

/* A symmetric linear operator on R^n. `apply` writes hv (n) = H v (n) and returns 0
 * or an err.h code with a message on e; v and hv never alias. Fill n, apply and ctx
 * to wrap any operator (tests use diagonal matrices); `applies` counts the calls made
 * through hess_op_apply (the HVPs a probe used). */
typedef struct hess_op {
    size_t n;
    int (*apply)(void *ctx, const double *v, double *hv, err *e);
    void *ctx;
    long applies;
    void (*release)(void *ctx);  /* optional: frees what ctx holds (hess_op_free) */
} hess_op;

/* hv = H v through op->apply, counting the call. */
int hess_op_apply(hess_op *op, const double *v, double *hv, err *e);

/* The exact Hessian of model m's mean loss at theta on batch b, through a model_lin:
 * the first application keeps the primal pass (up to HESS_LIN_MAX_BYTES; beyond, each
 * is a plain model_hvp) and later ones replay it, with model_hvp's bits. theta and the
 * batch's arrays are borrowed and must not change in the operator's life. Free with
 * hess_op_free. */
#define HESS_LIN_MAX_BYTES ((size_t)1 << 30)
hess_op *hess_op_model(model *m, const double *theta, batch b, err *e);

/* The restriction of `parent` to coordinates [offset, offset+size): v (size) is
 * embedded with zeros outside, and the block of H v is returned -- the diagonal block
 * H[off:off+size, off:off+size] (per-block spectra). parent is borrowed; applications
 * are counted on both. NULL with ERR_USAGE when the range is out of bounds. */
hess_op *hess_op_block(hess_op *parent, size_t offset, size_t size, err *e);

/* D H D with D = diag(d) (n): with d_i = p_i^{-1/2} for a positive diagonal
 * preconditioner P this is P^{-1/2} H P^{-1/2}, symmetric and similar to P^{-1} H, so
 * its eigenvalues are those of P^{-1} H (preconditioned sharpness, Cohen et al. 2022).
 * parent and d are borrowed. */
hess_op *hess_op_scaled(hess_op *parent, const double *d, err *e);

/* Free an operator made by hess_op_model/_block/_scaled; NULL is fine. */
void hess_op_free(hess_op *op);

/* --- Lanczos with full reorthogonalization --- */

/* State of one Lanczos run. Read-only for callers: after m steps, q[0..m) is the
 * orthonormal Krylov basis, T = tridiag(beta, alpha, beta) is m x m, and the Ritz
 * values ritz[0..m) (ascending) with eigenvectors s (m x m, column i for ritz[i],
 * row-major: s[j*m + i]) and residual estimates est[i] = beta[m-1] |s[(m-1)*m + i]|
 * (= ||H y_i - ritz_i y_i|| in exact arithmetic, y_i = Q s_i). */
typedef struct hess_lanczos {
    size_t n;
    int max_iter;         /* steps at most (capped at n) */
    int m;                /* steps taken */
    int breakdown;        /* 1: beta vanished, span(q) is invariant, ritz values exact */
    double **q;           /* (max_iter + 1) vectors of n, allocated as needed */
    double *alpha, *beta; /* (max_iter) */
    double *ritz, *s, *est;
    double *w;            /* (n) work */
    double *tri;          /* (2 max_iter^2 + max_iter) the Ritz step's T, its vectors and
                             values */
    gsl_eigen_symmv_workspace *ws;   /* for max_iter (GSL's, reused every step) */
} hess_lanczos;

/* A Lanczos workspace for operators of size n and at most max_iter steps. */
int hess_lanczos_new(size_t n, int max_iter, hess_lanczos **out, err *e);
void hess_lanczos_free(hess_lanczos *L);

/* Start from v0 (n, not all zero; normalized here). Resets the step count. */
int hess_lanczos_init(hess_lanczos *L, const double *v0, err *e);

/* One step: one application of op, three-term recurrence, full reorthogonalization
 * against every basis vector (classical Gram-Schmidt, twice), then the Ritz
 * decomposition of the new T (GSL gsl_eigen_symmv). ERR_USAGE when no step is left
 * (m == max_iter, or after a breakdown). */
int hess_lanczos_iterate(hess_lanczos *L, hess_op *op, err *e);

/* How a Ritz value's error is judged: by its residual estimate est (a rigorous bound
 * |lambda - ritz| <= est in exact arithmetic), or by hess_lanczos_bound's gap form. */
enum hess_stop { HESS_STOP_RESIDUAL = 0, HESS_STOP_GAP };

/* GSL_SUCCESS when the `top` largest and `bottom` smallest Ritz values all have an error
 * measure (est, or hess_lanczos_bound for HESS_STOP_GAP) <= tol * max|ritz|, or on
 * breakdown, or after n steps; GSL_CONTINUE otherwise (also while m < top + bottom). */
int hess_lanczos_test(const hess_lanczos *L, int top, int bottom, double tol, enum hess_stop stop);

/* The a-posteriori eigenvalue error bound min(est, est^2 / gap) of ritz[i] (Parlett,
 * The Symmetric Eigenvalue Problem, 11.7), with the gap to the rest of the spectrum
 * estimated by the distance to the nearest other Ritz value. An estimate, not a
 * bound: an eigenvalue Lanczos has not found yet can sit inside the estimated gap
 * (seen on MLP Hessians at 4 steps), so it is only trusted at small tolerances. */
double hess_lanczos_bound(const hess_lanczos *L, int i);

/* y (n) = the unit Ritz vector of ritz[i] (0 <= i < m): Q s_i. */
void hess_lanczos_vector(const hess_lanczos *L, int i, double *y);

/* --- PyHessian power iteration --- */

/* State of the power iteration for one eigenpair, PyHessian's hessian.eigenvalues():
 * v normalized as v/(||v||+1e-6); each step projects out the eigenvectors already
 * found (modified Gram-Schmidt), renormalizes, t = (Hv).v, v = Hv/(||Hv||+1e-6).
 * It converges to the eigenvalue of largest magnitude outside the found span. */
typedef struct hess_power {
    size_t n;
    double *v, *hv;       /* (n) current vector, and H applied to the previous one */
    double eig, prev;     /* latest estimate t, the one before it */
    double rq;            /* Rayleigh quotient t / (v.v) of the same v: t without the
                             relative bias of about -2e-6 that the +1e-6 normalization
                             leaves in PyHessian's estimate */
    int iter;
} hess_power;

int hess_power_new(size_t n, hess_power **out, err *e);
void hess_power_free(hess_power *P);
/* Start from v0 (n). */
void hess_power_init(hess_power *P, const double *v0);
/* One step against the nfound orthonormal vectors found (nfound x n, row-major). */
int hess_power_iterate(hess_power *P, hess_op *op, const double *found, int nfound, err *e);
/* PyHessian's rule: GSL_SUCCESS when |prev - eig| / (|prev| + 1e-6) < tol after at
 * least two steps, GSL_CONTINUE otherwise. On success PyHessian reports `prev`. */
int hess_power_test(const hess_power *P, double tol);

/* --- eigenpairs: the loops --- */

enum hess_method { HESS_LANCZOS = 0, HESS_POWER };

typedef struct hess_eig_opts {
    enum hess_method method;
    int top;             /* largest algebraic (Lanczos) / largest magnitude (power) */
    int bottom;          /* most negative (Lanczos only) */
    double tol;          /* Lanczos: error measure <= tol*|lambda_max|; power: PyHessian's */
    enum hess_stop stop; /* Lanczos' error measure, default HESS_STOP_RESIDUAL */
    int max_iter;        /* Lanczos steps; power steps per eigenpair */
    uint64_t seed;       /* start vectors: rng_stream(seed, RNG_PROBE, sub) */
    uint64_t sub;
} hess_eig_opts;

/* Defaults: Lanczos, top 1, bottom 0, tol 1e-3, max_iter 100, seed 0, sub 0. */
void hess_eig_opts_default(hess_eig_opts *o);

typedef struct hess_eigs_result {
    int k;               /* pairs: top ones (descending) then bottom ones (ascending) */
    int ntop, nbottom;
    double *values;      /* (k) */
    double *resid;       /* (k) true ||H y - lambda y|| (one extra application each) */
    double *est;         /* (k) the algorithm's own residual estimate (Lanczos) */
    double *vectors;     /* (k x n) unit eigenvectors, row-major */
    size_t n;
    int iterations;      /* Lanczos steps, or power steps summed over pairs */
    long applies;        /* operator applications, residual checks included */
    int converged;       /* 1 when the stopping rule held for every pair */
    double tol;
    uint64_t seed;
} hess_eigs_result;

/* Extreme eigenpairs of op. Lanczos starts from a normal random vector; power from
 * one per pair (PyHessian). ERR_USAGE for bottom > 0 with power, top+bottom < 1, or
 * k > n. Not converging within max_iter is no error: converged = 0. */
int hess_eigs(hess_op *op, const hess_eig_opts *o, hess_eigs_result *r, err *e);
void hess_eigs_result_free(hess_eigs_result *r);

/* --- Hutchinson trace --- */

/* Running Hutchinson estimate: samples v.Hv with Rademacher v (entries +-1, not
 * normalized); mean and Welford's sum of squared deviations. */
typedef struct hess_trace {
    size_t n;
    double *v, *hv;      /* (n) */
    long k;              /* samples */
    double mean, prev, m2;
} hess_trace;

int hess_trace_new(size_t n, hess_trace **out, err *e);
void hess_trace_free(hess_trace *T);
void hess_trace_init(hess_trace *T);
/* One sample, v drawn from rng. */
int hess_trace_iterate(hess_trace *T, hess_op *op, gsl_rng *rng, err *e);
/* PyHessian's rule: GSL_SUCCESS when |mean - prev| / (|prev| + 1e-6) < tol (prev = 0
 * before the first sample) and k >= min_samples. */
int hess_trace_test(const hess_trace *T, double tol, long min_samples);
/* Standard error of the mean: sqrt(m2 / (k-1) / k); NaN for k < 2. */
double hess_trace_stderr(const hess_trace *T);

typedef struct hess_trace_result {
    double trace, stderr_;
    long samples;        /* Hutchinson samples (= operator applications) */
    int converged;
    double tol;
    uint64_t seed;
} hess_trace_result;

/* The loop: at most max_samples, stop by hess_trace_test(tol, min_samples). Random
 * vectors from rng_stream(seed, RNG_PROBE, sub). */
int hess_trace_run(hess_op *op, double tol, long min_samples, long max_samples, uint64_t seed,
                   uint64_t sub, hess_trace_result *r, err *e);

/* --- spectral density (stochastic Lanczos quadrature) --- */

typedef struct hess_slq_result {
    int runs, steps;     /* n_v runs of m steps (fewer on breakdown) */
    int *count;          /* (runs) nodes of each run */
    double *nodes;       /* (runs x steps) Ritz values of run r in row r, ascending */
    double *weights;     /* (runs x steps) squared first components; each row sums to 1 */
    double *quad;        /* (runs) v1.H v1 of each run's start vector (= sum w theta) */
    long applies;
    uint64_t seed;
} hess_slq_result;

/* n_v = runs SLQ runs of `steps` Lanczos steps with full reorthogonalization, each
 * from a normalized Rademacher v1 drawn from rng_stream(seed, RNG_PROBE, sub). */
int hess_slq(hess_op *op, int steps, int runs, uint64_t seed, uint64_t sub, hess_slq_result *r,
             err *e);
void hess_slq_result_free(hess_slq_result *r);

/* PyHessian's density_generate(): grid (npts) from mean-over-runs(min node) - 0.01
 * to mean-over-runs(max node) + 0.01 (linspace), density = mean over runs of
 * sum_k w_k N(x; theta_k, s) with VARIANCE s = 1e-5 * max(1, grid width), normalized
 * so that sum(density) * dx = 1. grid and density are (npts), npts >= 2. */
void hess_density(const hess_slq_result *r, int npts, double *grid, double *density);

/* --- gradient-subspace overlap (Gur-Ari et al. 2018) --- */

/* sum_i (v_i . g)^2 / ||g||^2 over the k orthonormal rows of vecs (k x n): the
 * fraction of the gradient's squared norm inside their span; 0 when g = 0. */
double hess_overlap(const double *g, const double *vecs, int k, size_t n);

#endif
