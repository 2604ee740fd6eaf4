/* sharp.h -- sharpness measures of a model at theta on a batch, and the
 * edge-of-stability thresholds they are compared with.
 *
 * Measures (../shared/REFERENCE-probes.md, "Sharpness"); L is the mean loss on the
 * probe batch, c = |theta| elementwise when adaptive and 1 otherwise, perturbations
 * are delta = c * u with u in the ball of radius rho:
 *   SAM        L(theta + delta) - L(theta), u = rho c g / ||c g|| (one ascent step;
 *              with c = 1 this is Foret et al.'s rho g/||g||, adaptive is ASAM's)
 *   WORST_L2   max over the iterates of L(theta + delta) - L(theta) along projected
 *   WORST_LINF gradient ascent on u, ||u||_2 <= rho or ||u||_inf <= rho (Andriushchenko
 *              et al. 2023): u += a c g/||c g|| (L2) or a sign(c g) (Linf), then project
 *   AVERAGE    mean over samples of L(theta + rho c z) - L(theta), z ~ N(0, I)
 *   KESKAR     100 (max_{y in C} L(theta + y) - L(theta)) / (1 + L(theta)),
 *              C = {|y_i| <= rho (|theta_i| + 1)}, maximized by L-BFGS-B (liblbfgsb)
 *              from y = 0 for `steps` iterations (Keskar et al. 2017: rho = 1e-3, 10)
 *   FLATNESS   rho * max_{||delta|| <= rho} ||grad L(theta + delta)|| (GAM's first-order
 *              flatness, Zhang et al. 2023), maximized by projected ascent on ||grad L||
 *              with the exact gradient grad ||g|| = H g / ||g|| (one HVP per step)
 * Every max-type value is the best over the points evaluated (a lower bound of the
 * true maximum). Where the ascent direction vanishes (a stationary point) the step is
 * zero, as SAM's g / (||g|| + 1e-12). Random draws come from
 * rng_stream(seed, RNG_PROBE, sub). The model, theta and batch are only read. */
#ifndef BASIN_SHARP_H
#define BASIN_SHARP_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "../models/model.h"

enum sharp_kind { SHARP_SAM = 0, SHARP_WORST_L2, SHARP_WORST_LINF, SHARP_AVERAGE, SHARP_KESKAR,
                  SHARP_FLATNESS, SHARP_KIND_COUNT };

/* "sam", "worst-l2", "worst-linf", "average", "keskar", "flatness". */
const char *sharp_kind_name(enum sharp_kind k);
/* The kind named s, or -1. */
int sharp_kind_parse(const char *s);

typedef struct sharp_opts {
    enum sharp_kind kind;
    double rho;         /* ball radius; noise scale (AVERAGE); epsilon (KESKAR) */
    int adaptive;       /* c = |theta| (SAM, WORST_*, AVERAGE only) */
    int steps;          /* ascent steps (WORST_*, FLATNESS), samples (AVERAGE), L-BFGS-B
                           iterations (KESKAR); 0 = default 10 (AVERAGE 100); SAM: 1 */
    double step;        /* ascent step a; 0 = rho: the first step lands on the sphere (SAM's
                           point) or a corner (FGSM's); later steps converge to a KKT point */
    uint64_t seed, sub;
} sharp_opts;

/* Defaults: SAM, rho 0.05, not adaptive, steps 0 (kind default), step 0, seed 0. */
void sharp_opts_default(sharp_opts *o);

typedef struct sharp_result {
    double value;       /* the measure */
    double loss;        /* L(theta) */
    double perturbed;   /* L at the maximizer found, or the mean perturbed loss (AVERAGE),
                           or the max gradient norm (FLATNESS) */
    double stderr_;     /* AVERAGE: standard error of value; NaN otherwise */
    int iterations;     /* steps, samples or L-BFGS-B iterations done */
    long evals;         /* loss or gradient evaluations */
    long hvps;
    double rho, step;
    int adaptive;
    uint64_t seed;
} sharp_result;

/* Measure o->kind at theta (m->n) on b. ERR_USAGE for rho <= 0, steps < 0, or
 * adaptive with KESKAR/FLATNESS; ERR_DATA (naming the losses) when the value is not
 * finite; model errors pass through. */
int sharp_measure(model *m, const double *theta, batch b, const sharp_opts *o, sharp_result *r,
                  err *e);

/* Edge of stability (Cohen et al. 2021): GD with heavy-ball momentum beta is stable on a
 * quadratic while lambda_max < (2 + 2 beta) / lr (2/lr for plain GD). */
double sharp_eos_threshold(double lr, double beta);

/* Adam's threshold for the preconditioned sharpness lambda_max(P^{-1} H) (Cohen et al.
 * 2022): (2 + 2 beta1) / ((1 - beta1) lr), 38/lr for beta1 = 0.9. */
double sharp_adam_threshold(double lr, double beta1);

/* d (n) = P^{-1/2} for Adam's diagonal preconditioner P = diag(sqrt(v_hat) + eps),
 * v_hat = v / (1 - beta2^t) the bias-corrected second moment after t >= 1 steps. Give
 * d to hess_op_scaled(): the operator P^{-1/2} H P^{-1/2} is symmetric and has the
 * eigenvalues of P^{-1} H. */
void sharp_adam_scaling(const double *v, size_t n, long t, double beta2, double eps, double *d);

#endif
