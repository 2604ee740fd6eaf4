/* sharp.c -- sharpness measures and edge-of-stability thresholds (sharp.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>

#include "../core/rng.h"
#include "sharp.h"

/* L-BFGS-B 3.0 (Debian liblbfgsb-dev), Fortran reverse communication: INTEGER and
 * LOGICAL are 4 bytes, and the CHARACTER*60 arguments task and csave pass their
 * lengths as trailing hidden arguments (size_t with gfortran >= 8). */
void setulb_(int *n, int *m, double *x, double *l, double *u, int *nbd, double *f, double *g,
             double *factr, double *pgtol, double *wa, int *iwa, char *task, int *iprint,
             char *csave, int *lsave, int *isave, double *dsave, size_t task_len,
             size_t csave_len);

static const char *const kind_names[SHARP_KIND_COUNT] = {
    [SHARP_SAM] = "sam", [SHARP_WORST_L2] = "worst-l2", [SHARP_WORST_LINF] = "worst-linf",
    [SHARP_AVERAGE] = "average", [SHARP_KESKAR] = "keskar", [SHARP_FLATNESS] = "flatness",
};

const char *sharp_kind_name(enum sharp_kind k)
{
    return k >= 0 && k < SHARP_KIND_COUNT ? kind_names[k] : "?";
}

int sharp_kind_parse(const char *s)
{
    for (int k = 0; k < SHARP_KIND_COUNT; k++)
        if (strcmp(s, kind_names[k]) == 0)
            return k;
    return -1;
}

void sharp_opts_default(sharp_opts *o)
{
    *o = (sharp_opts){.kind = SHARP_SAM, .rho = 0.05};
}

double sharp_eos_threshold(double lr, double beta)
{
    return (2 + 2 * beta) / lr;
}

double sharp_adam_threshold(double lr, double beta1)
{
    return (2 + 2 * beta1) / ((1 - beta1) * lr);
}

void sharp_adam_scaling(const double *v, size_t n, long t, double beta2, double eps, double *d)
{
    double bc = 1 - pow(beta2, (double)t);
    for (size_t i = 0; i < n; i++)
        d[i] = 1 / sqrt(sqrt(v[i] / bc) + eps);
}

/* What every measure needs: the model call site and scratch vectors of n. */
typedef struct ctx {
    model *m;
    const double *theta;
    batch b;
    size_t n;
    const double *c;      /* (n) |theta| or NULL for 1 */
    uint64_t sub;         /* random stream of AVERAGE */
    double *x, *g, *u, *d;
    sharp_result *r;
} ctx;

/* x = theta + c * u. */
static void perturb(ctx *k, const double *u)
{
    for (size_t i = 0; i < k->n; i++)
        k->x[i] = k->theta[i] + (k->c ? k->c[i] : 1.0) * u[i];
}

static int loss_at(ctx *k, const double *x, double *loss, err *e)
{
    model_stats st;
    int rc = model_loss(k->m, x, k->b, &st, e);
    k->r->evals++;
    *loss = st.loss;
    return rc;
}

static int grad_at(ctx *k, const double *x, double *loss, err *e)
{
    model_stats st;
    int rc = model_grad(k->m, x, k->b, k->g, &st, e);
    k->r->evals++;
    *loss = st.loss;
    return rc;
}

/* SAM and the worst-case measures: projected ascent on u (see sharp.h). */
static int worst(ctx *k, int linf, int steps, double rho, double a, err *e)
{
    size_t n = k->n;
    double best = k->r->loss, l;
    int rc = 0;
    memset(k->u, 0, n * sizeof *k->u);
    for (int s = 0; !rc && s < steps; s++) {
        perturb(k, k->u);
        if ((rc = grad_at(k, k->x, &l, e)))
            break;
        best = fmax(best, l);
        for (size_t i = 0; i < n; i++)
            k->d[i] = (k->c ? k->c[i] : 1.0) * k->g[i];      /* dL/du */
        if (linf) {
            for (size_t i = 0; i < n; i++) {
                double ui = k->u[i] + a * (k->d[i] > 0 ? 1 : k->d[i] < 0 ? -1 : 0);
                k->u[i] = fmin(rho, fmax(-rho, ui));
            }
        } else {
            double dn = cblas_dnrm2((int)n, k->d, 1);
            if (dn > 0)
                cblas_daxpy((int)n, a / dn, k->d, 1, k->u, 1);
            double un = cblas_dnrm2((int)n, k->u, 1);
            if (un > rho)
                cblas_dscal((int)n, rho / un, k->u, 1);
        }
        k->r->iterations++;
    }
    perturb(k, k->u);
    if (!rc && !(rc = loss_at(k, k->x, &l, e)))
        best = fmax(best, l);
    k->r->perturbed = best;
    k->r->value = best - k->r->loss;
    return rc;
}

static int average(ctx *k, int samples, double rho, err *e)
{
    gsl_rng *rng = rng_stream(k->r->seed, RNG_PROBE, k->sub);
    if (!rng)
        return err_set(e, ERR_SYS, "sharpness: out of memory for the random stream");
    double mean = 0, m2 = 0, l;
    int rc = 0;
    for (int s = 1; !rc && s <= samples; s++) {
        for (size_t i = 0; i < k->n; i++)
            k->u[i] = rho * gsl_ran_gaussian(rng, 1.0);
        perturb(k, k->u);
        if ((rc = loss_at(k, k->x, &l, e)))
            break;
        double x = l - k->r->loss, dlt = x - mean;    /* Welford */
        mean += dlt / s;
        m2 += dlt * (x - mean);
        k->r->iterations = s;
    }
    rng_free(rng);
    k->r->value = mean;
    k->r->perturbed = k->r->loss + mean;
    k->r->stderr_ = samples > 1 ? sqrt(m2 / (samples - 1) / samples) : NAN;
    return rc;
}

/* Keskar's epsilon-sharpness: minimize -L(theta + y) over the box by L-BFGS-B. */
static int keskar(ctx *k, int iters, double eps, err *e)
{
    size_t n = k->n;
    if (n > (size_t)1 << 28)
        return err_set(e, ERR_USAGE, "keskar: %zu parameters is more than L-BFGS-B takes", n);
    int nn = (int)n, mcor = 10, iprint = -1, lsave[4], isave[44];
    double factr = 1e7, pgtol = 1e-5, f = 0, dsave[29];   /* scipy's defaults */
    char task[60], csave[60];
    double *lo = err_malloc(e, n * sizeof *lo), *hi = err_malloc(e, n * sizeof *hi);
    int *nbd = err_malloc(e, n * sizeof *nbd), *iwa = err_malloc(e, 3 * n * sizeof *iwa);
    size_t wsize = (2 * (size_t)mcor + 5) * n + 11 * (size_t)mcor * mcor + 8 * (size_t)mcor;
    double *wa = err_malloc(e, wsize * sizeof *wa);
    int rc = lo && hi && nbd && iwa && wa ? 0 : ERR_SYS;
    double best = k->r->loss, l;
    for (size_t i = 0; !rc && i < n; i++) {
        hi[i] = eps * (fabs(k->theta[i]) + 1);
        lo[i] = -hi[i];
        nbd[i] = 2;
        k->u[i] = 0;
    }
    memset(task, ' ', sizeof task);
    memcpy(task, "START", 5);
    while (!rc) {
        setulb_(&nn, &mcor, k->u, lo, hi, nbd, &f, k->d, &factr, &pgtol, wa, iwa, task, &iprint,
                csave, lsave, isave, dsave, sizeof task, sizeof csave);
        if (strncmp(task, "FG", 2) == 0) {
            perturb(k, k->u);
            if ((rc = grad_at(k, k->x, &l, e)))
                break;
            best = fmax(best, l);
            f = -l;
            for (size_t i = 0; i < n; i++)
                k->d[i] = -k->g[i];
        } else if (strncmp(task, "NEW_X", 5) == 0) {
            if (++k->r->iterations >= iters)
                break;
        } else if (strncmp(task, "ERROR", 5) == 0) {
            rc = err_set(e, ERR_DATA, "keskar: L-BFGS-B: %.60s", task);
        } else {
            break;   /* CONV or ABNO: converged or no further progress; best holds */
        }
    }
    free(lo);
    free(hi);
    free(nbd);
    free(iwa);
    free(wa);
    k->r->perturbed = best;
    k->r->value = 100 * (best - k->r->loss) / (1 + k->r->loss);
    return rc;
}

/* GAM's first-order flatness: projected ascent of ||grad L(theta + delta)|| over the
 * L2 ball, direction H g / ||g|| (exact HVP at theta + delta). */
static int flatness(ctx *k, int steps, double rho, double a, err *e)
{
    size_t n = k->n;
    double l, best = 0, gn = 0;
    int rc = 0;
    memset(k->u, 0, n * sizeof *k->u);
    for (int s = 0; !rc && s <= steps; s++) {
        perturb(k, k->u);
        if ((rc = grad_at(k, k->x, &l, e)))
            break;
        gn = cblas_dnrm2((int)n, k->g, 1);
        best = fmax(best, gn);
        if (s == steps || gn == 0)
            break;
        cblas_dscal((int)n, 1 / gn, k->g, 1);
        if ((rc = model_hvp(k->m, k->x, k->g, k->b, NULL, k->d, NULL, e)))
            break;
        k->r->hvps++;
        double dn = cblas_dnrm2((int)n, k->d, 1);
        if (dn > 0)
            cblas_daxpy((int)n, a / dn, k->d, 1, k->u, 1);
        double un = cblas_dnrm2((int)n, k->u, 1);
        if (un > rho)
            cblas_dscal((int)n, rho / un, k->u, 1);
        k->r->iterations++;
    }
    k->r->perturbed = best;
    k->r->value = rho * best;
    return rc;
}

int sharp_measure(model *m, const double *theta, batch b, const sharp_opts *o, sharp_result *r,
                  err *e)
{
    memset(r, 0, sizeof *r);
    r->stderr_ = NAN;
    if (o->kind < 0 || o->kind >= SHARP_KIND_COUNT)
        return err_set(e, ERR_USAGE, "sharpness: unknown kind %d", (int)o->kind);
    if (!(o->rho > 0) || !isfinite(o->rho) || o->steps < 0 || o->step < 0)
        return err_set(e, ERR_USAGE, "sharpness: needs rho > 0, steps >= 0, step >= 0");
    if (o->adaptive && (o->kind == SHARP_KESKAR || o->kind == SHARP_FLATNESS))
        return err_set(e, ERR_USAGE, "sharpness: --adaptive applies to sam, worst-l2, worst-linf "
                                     "and average only");
    int steps = o->kind == SHARP_SAM ? 1 : o->steps ? o->steps : o->kind == SHARP_AVERAGE ? 100 : 10;
    double a = o->step > 0 ? o->step : o->rho;
    size_t n = m->n;
    r->rho = o->rho;
    r->step = a;
    r->adaptive = o->adaptive;
    r->seed = o->seed;
    double *buf = err_malloc(e, 5 * n * sizeof *buf);
    if (!buf)
        return ERR_SYS;
    ctx k = {.m = m, .theta = theta, .b = b, .n = n, .x = buf, .g = buf + n, .u = buf + 2 * n,
             .d = buf + 3 * n, .sub = o->sub, .r = r};
    if (o->adaptive) {
        double *c = buf + 4 * n;
        for (size_t i = 0; i < n; i++)
            c[i] = fabs(theta[i]);
        k.c = c;
    }
    int rc = loss_at(&k, theta, &r->loss, e);
    if (!rc) {
        switch (o->kind) {
        case SHARP_SAM:
        case SHARP_WORST_L2: rc = worst(&k, 0, steps, o->rho, a, e); break;
        case SHARP_WORST_LINF: rc = worst(&k, 1, steps, o->rho, a, e); break;
        case SHARP_AVERAGE: rc = average(&k, steps, o->rho, e); break;
        case SHARP_KESKAR: rc = keskar(&k, steps, o->rho, e); break;
        case SHARP_FLATNESS: rc = flatness(&k, steps, o->rho, a, e); break;
        case SHARP_KIND_COUNT: break;
        }
    }
    free(buf);
    if (!rc && !isfinite(r->value))   /* a NaN would reach the store as NULL, a plot as a gap */
        rc = err_set(e, ERR_DATA, "sharpness %s (rho %g): not finite (%g): loss %g at theta, "
                     "%g perturbed", sharp_kind_name(o->kind), o->rho, r->value, r->loss,
                     r->perturbed);
    return rc;
}
