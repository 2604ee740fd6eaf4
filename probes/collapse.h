/* collapse.h -- neural collapse (Papyan, Han & Donoho 2020): NC1-NC4 and friends on
 * the features a model exposes (the input of its last linear layer).
 *
 * Definitions (../shared/REFERENCE-probes.md): h_i the features of sample i (p),
 * classes c = 0..C-1, mu_c the class means, M = [mu_c] (p x C), mu_G = the mean of
 * the class means (the authors' notebook), M~ = M - mu_G 1^T,
 *   Sigma_W = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T,  Sigma_B = M~ M~^T / C.
 *   nc1            Tr(Sigma_W Sigma_B^+) / C (the paper); nc1_notebook without the /C.
 *                  Sigma_B^+ keeps exactly the top C-1 eigenpairs of Sigma_B (the
 *                  notebook's svds(Sb, k=C-1); GSL's symmetric eigensolver on p x p);
 *                  never a tolerance that would invert rounding noise.
 *   nc2_equinorm_*     std/mean (unbiased std) of ||M~_c||, and of the classifier rows
 *                      ||w_c||.
 *   nc2_equiangular_*  mean over ordered pairs c != c' of |cos(a_c, a_c') + 1/(C-1)|
 *                      for the columns of M~ and for the rows of W (uncentred).
 *   nc3            || W^T/||W||_F - M~/||M~||_F ||_F^2.
 *   nc4            fraction of samples whose network prediction (argmax of the
 *                  logits W h + b, first maximum on ties) differs from the nearest
 *                  uncentred class mean (argmin_c ||h - mu_c||, first on ties).
 *   within_class_trace  Tr(Sigma_W).
 *   error          fraction of samples whose prediction differs from the label.
 *   margin         mean over samples of z_y - max_{c != y} z_c, z = W h + b the logits
 *                  (negative for a misclassified sample).
 *
 * The computation is an accumulator in two passes over the features, so a model's
 * features are never held all at once: pass 1 sums class means, pass 2 (after
 * nc_acc_means_done) sums Sigma_W and the logit-based counts, nc_acc_result finishes.
 * nc_compute() runs both passes over a features matrix held in memory (tests, small
 * sets); nc_model() recomputes a model's features chunk by chunk for each pass.
 * Everything is sequential in sample order, so results are deterministic. */
#ifndef BASIN_COLLAPSE_H
#define BASIN_COLLAPSE_H

#include <stddef.h>
#include "../core/err.h"
#include "../models/model.h"

typedef struct nc_result {
    double nc1, nc1_notebook;
    double nc2_equinorm_means, nc2_equinorm_weights;
    double nc2_equiangular_means, nc2_equiangular_weights;
    double nc3, nc4;
    double within_class_trace;
    double error, margin;
    size_t n;       /* samples */
    int p, C;       /* feature width, classes */
} nc_result;

typedef struct nc_acc nc_acc;

/* An accumulator for p-wide features of C >= 2 classes with classifier W (C x p,
 * row-major: the last linear layer's weight) and bias b (C, or NULL for none). W and b
 * are borrowed until nc_acc_free. ERR_USAGE for C < 2 or p < 1. */
int nc_acc_new(int p, int C, const double *W, const double *b, nc_acc **out, err *e);
void nc_acc_free(nc_acc *a);

/* Pass 1: add n samples h (n x p) with labels y (n, each in [0, C)). */
void nc_acc_means(nc_acc *a, const double *h, const int *y, size_t n);
/* End of pass 1: form the class means. ERR_DATA when a class has no sample. */
int nc_acc_means_done(nc_acc *a, err *e);
/* Pass 2: the same samples again, in any slicing. */
void nc_acc_second(nc_acc *a, const double *h, const int *y, size_t n);
/* Finish: the metrics (after both passes over the same samples). ERR_DATA if pass 2 saw
 * a different number of samples than pass 1, or the eigensolver fails. */
int nc_acc_result(nc_acc *a, nc_result *r, err *e);

/* Both passes over h (n x p) and labels y (n), with classifier W (C x p) and b (C or
 * NULL). */
int nc_compute(const double *h, const int *y, size_t n, int p, int C, const double *W,
               const double *b, nc_result *r, err *e);

/* The metrics of model m at theta on the labelled batch b: features by model_features
 * in slices of at most `slice` samples (0: 4096), each pass recomputing them; W is
 * the model's last ROLE_WEIGHT block of 2 dimensions (out_dim x feat_dim) and b the
 * ROLE_BIAS block named like it ("k.bias" for "k.weight"), if any. ERR_USAGE for a
 * model without such a layer or a batch without labels. */
int nc_model(model *m, const double *theta, batch b, size_t slice, nc_result *r, err *e);

#endif
