/* landscape.h -- loss-landscape slices (Li et al. 2018), linear interpolation between
 * two solutions with its barrier, and weight matching (Ainsworth et al. 2022, Git
 * Re-Basin) for dense networks.
 *
 * Directions live in parameter space (n = model->n) and are built block by block from
 * the model's block table: a random normal draw per block, then, per block,
 *   - a weight block of >= 2 dimensions: filter normalization, each output row (one
 *     neuron of a dense layer, one output channel of a convolution: shape[0] rows of
 *     size/shape[0] elements) scaled to the norm of the same row of theta,
 *     d_i *= ||w_i|| / (||d_i|| + 1e-10); or layer normalization, the whole block
 *     d *= ||w|| / ||d||; or none;
 *   - a bias or norm block (ROLE_BIAS, ROLE_NORM, or any 1-D block of a network):
 *     zero with ignore biasbn (the recommended setting), else equal to theta's block
 *     (the reference's choice);
 *   - the one block of a 2-D test function ("xy", 1-D, ROLE_WEIGHT) is a single filter.
 * Random directions come from rng_stream(seed, RNG_DIRECTIONS, 0), all of d1 (x) drawn
 * before d2 (y), every element drawn even where it is then zeroed, as the reference.
 *
 * Grids: theta = theta0 + x d1 (+ y d2) on numpy-linspace axes, loss and accuracy on
 * a batch, stored x-major (all y of the first x, then the next x: index i*ny + j).
 * (The reference stores its 2-D array y-major, Z[j][i] = L(x_i, y_j).) A model whose
 * method table has the `plane` hook (dense networks: the first layer computed once per
 * grid) evaluates the points itself; otherwise every point is one model_loss.
 *
 * Trajectory PCA: the top-2 principal directions of a run's snapshots about its final
 * theta (land_pca), the axes of `basin landscape --axes pca`.
 *
 * Ownership: every array is the caller's; nothing here keeps a pointer after a call. */
#ifndef BASIN_LANDSCAPE_H
#define BASIN_LANDSCAPE_H

#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"
#include "../models/model.h"

/* n points from lo to hi as numpy.linspace (lo + i*(hi-lo)/(n-1), the last exactly
 * hi; n = 1: lo alone). */
typedef struct land_axis {
    double lo, hi;
    int n;
} land_axis;

/* Parse "A:B:N" (N in 1..100000). ERR_USAGE naming the text otherwise. */
int land_axis_parse(const char *text, land_axis *a, err *e);

/* Point i of the axis (0 <= i < a.n). */
double land_axis_at(land_axis a, int i);

enum land_norm { LAND_NORM_FILTER = 0, LAND_NORM_LAYER, LAND_NORM_NONE };

/* Normalize d (n) in place block by block against theta (n), as above. */
void land_normalize(const model *m, const double *theta, enum land_norm norm, int ignore_biasbn,
                    double *d);

/* The seeded random directions: d1 (n), then d2 (n) when d2 is non-NULL, each a
 * standard normal draw normalized by land_normalize. ERR_SYS when out of memory. */
int land_directions(const model *m, const double *theta, uint64_t seed, enum land_norm norm,
                    int ignore_biasbn, double *d1, double *d2, err *e);

/* loss and acc (x.n * ny, x-major) at theta0 + x_i d1 + y_j d2 on batch b; a 1-D
 * slice when d2 is NULL (ny = 1, y ignored). acc is #correct / samples (0 for
 * regression). Errors: those of model_loss (the batch is checked there first). */
int land_grid(model *m, const double *theta0, const double *d1, const double *d2, land_axis x,
              land_axis y, batch b, double *loss, double *acc, err *e);

/* --- trajectory PCA (Li et al. 2018; the reference's setup_PCA_directions) --- */

typedef struct land_pca_result {
    double explained[2];    /* sklearn's explained_variance_ratio_: lambda_k / sum_j lambda_j */
    double variance[2];     /* sklearn's explained_variance_: lambda_k / (m - 1) */
} land_pca_result;

/* The top-2 principal directions of the m rows of D (m x n, row-major; the trajectory's
 * row i = theta_i - theta_final, theta_final's own zero row included, as the reference)
 * as sklearn's PCA(n_components=2) finds them, without an n x n matrix: the rows
 * centred on their mean mu (C = D - 1 mu^T), the m x m Gram matrix G = C C^T by CBLAS
 * dsyrk over blocks of columns, its eigenpairs (lambda_k, u_k) by gsl_eigen_symmv, and
 * pc_k = C^T u_k / ||C^T u_k|| (= C^T u_k / sqrt(lambda_k): unit vectors, not
 * filter-normalized). Sign convention (sklearn >= 1.5, svd_flip on the components):
 * the entry of largest |value| of each pc_k is positive, the first such entry on ties.
 * pc1, pc2 (n each) receive the directions; x, y (m each, may be NULL) the uncentred
 * projections d_i . pc1 and d_i . pc2 (the reference's project_1D: theta_final's zero
 * row at exactly (0, 0)). Memory: m x min(n, 2048) doubles of workspace beside D.
 * ERR_USAGE for m < 3; ERR_DATA when the centred rows span fewer than 2 dimensions
 * (lambda_2 <= m DBL_EPSILON lambda_1: the second direction would be rounding noise);
 * ERR_SYS when out of memory. D is not modified. */
int land_pca(const double *D, int m, size_t n, double *pc1, double *pc2, double *x, double *y,
             land_pca_result *r, err *e);

/* --- interpolation: theta(alpha) = (1 - alpha) theta_a + alpha theta_b --- */

typedef struct land_barrier {
    double loss_a, loss_b;      /* at the endpoints */
    double err_a, err_b;        /* error = 1 - accuracy */
    double loss;                /* max over grid alpha in [0, 1] and the endpoints of
                                   L(alpha) - [(1 - alpha) L_a + alpha L_b]; >= 0 */
    double error;               /* the same for the error */
} land_barrier;

/* loss and acc (alpha.n) along the line, evaluated as theta_a + alpha (theta_b -
 * theta_a) through land_grid, and the barrier over the part of the axis inside
 * [0, 1] (never the extrapolated part); the endpoints by model_loss at theta_a and
 * theta_b exactly. */
int land_interpolate(model *m, const double *theta_a, const double *theta_b, land_axis alpha,
                     batch b, double *loss, double *acc, land_barrier *r, err *e);

/* --- weight matching --- */

/* The assignment perm (n) maximizing sum_i S[i][perm[i]] over permutations, S (n x n,
 * row-major): Hungarian algorithm with potentials (shortest augmenting paths),
 * O(n^3). ERR_SYS when out of memory. */
int land_assign(int n, const double *S, int *perm, err *e);

/* out (n) = theta_b with the hidden units of each layer of a dense network permuted to
 * align with theta_a: Git Re-Basin's weight matching, coordinate ascent over layers
 * (in order) of sum_l <W_l^a, P_l W_l^b P_{l-1}^T> + <b_l^a, P_l b_l^b>, each step one
 * linear assignment, until a sweep improves nothing or after max_sweeps; *sweeps
 * (may be NULL) gets the sweeps done. The permuted network computes the same function
 * as theta_b. ERR_USAGE for models that are not a chain of 2-D weight blocks each
 * followed by an optional bias (mlp, logreg). out may alias theta_b. */
int land_match_weights(const model *m, const double *theta_a, const double *theta_b,
                       double *out, int max_sweeps, int *sweeps, err *e);

#endif
