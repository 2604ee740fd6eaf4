/* cfg.c -- the option table of basin's commands (see cfg.h). */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/pool.h"
#include "../probes/sharp.h"
#include "cfg.h"

enum opt_id {
    O_DATA, O_SPLIT, O_SAMPLES, O_SUBSET, O_IMBALANCE, O_IMBALANCE_TYPE, O_LABEL_NOISE,
    O_SCALE, O_SYNTH_DIM, O_SYNTH_CLASSES, O_SYNTH_NOISE,
    O_MODEL, O_HIDDEN, O_ACT, O_SLOPE, O_NO_BIAS, O_LOSS, O_CHUNK,
    O_CHANNELS, O_WIDTH, O_BLOCKS, O_SKIP,
    O_SEED, O_THREADS, O_INIT, O_DB,
    O_OUT, O_GRAD_OUT, O_JVP_IN, O_HVP_IN, O_HVP_OUT,
    O_OPTIM, O_LR, O_MOMENTUM, O_DAMPENING, O_WEIGHT_DECAY, O_NESTEROV, O_BATCH,
    O_EPOCHS, O_STEPS, O_NO_SHUFFLE, O_TEST_SAMPLES, O_SAVE, O_QUIET,
    O_TOP, O_BOTTOM, O_METHOD, O_TOL, O_MAX_ITER, O_TRACE, O_TRACE_SAMPLES, O_DENSITY,
    O_SLQ_STEPS, O_SLQ_RUNS, O_BLOCK, O_KIND, O_RHO, O_ADAPTIVE, O_STEP_SIZE,
    /* optimizers (optim/opt.h) and basin optimize */
    O_BASE, O_WD_EXCLUDE, O_BETA1, O_BETA2, O_BETA3, O_ALPHA, O_T_ALPHA, O_T_BETA3, O_EPS,
    O_ETA, O_SAM_M, O_GRAD_RHO, O_GRAD_NORM_RHO, O_GRAD_BETA0, O_GRAD_BETA1, O_GRAD_GAMMA,
    O_GAM_EXACT, O_TANGENTS, O_ZO_EPS, O_ZO_SAMPLES, O_SCHEDULE, O_WARMUP, O_STEP_EVERY,
    O_STEP_GAMMA, O_LR_MIN, O_PCT_START, O_LR_DECAY, O_GROKFAST_ALPHA, O_GROKFAST_LAMBDA,
    O_FUNCTION, O_START,
    O_DIR1, O_DIR2, O_AXES, O_NORM, O_IGNORE, O_X, O_Y, O_FROM, O_TO, O_ALPHAS, O_MATCH,
    /* basin run's [probes] (CMD_RUN) */
    O_HESSIAN_EVERY, O_HESSIAN_TOP, O_TRACE_EVERY, O_DENSITY_EVERY, O_SHARPNESS_EVERY,
    O_SHARPNESS_KIND, O_SHARPNESS_RHO, O_SHARPNESS_ADAPTIVE, O_PROBE_SAMPLES, O_PROBE_TOL,
    O_COLLAPSE_EVERY, O_OVERLAP_TOP,
    O_COUNT
};

#define PROBE (CMD_HESSIAN | CMD_SHARPNESS)
#define OPTIM (CMD_TRAIN | CMD_OPTIMIZE)   /* optimizer options */
#define LAND (CMD_COLLAPSE | CMD_LANDSCAPE | CMD_INTERPOLATE)
#define ALL (CMD_INIT | CMD_EVAL | CMD_TRAIN | PROBE | CMD_OPTIMIZE | LAND)
#define DM (CMD_INIT | CMD_EVAL | CMD_TRAIN | PROBE | LAND)   /* data and model options */

static const struct option_row {
    const char *name;
    int cmds;
    const char *arg;    /* NULL: a flag without value */
    const char *help;
} rows[O_COUNT] = {
    [O_DATA] = {"data", DM, "SPEC", "fashion-mnist (default), idx:DIR, csv:TRAIN[,TEST], blobs, spirals, teacher"},
    [O_SPLIT] = {"split", CMD_EVAL | PROBE | LAND, "train|test", "which split to evaluate on (default train)"},
    [O_SAMPLES] = {"samples", DM, "N", "use N samples of the training split (default: all)"},
    [O_SUBSET] = {"subset", DM, "first|random", "first N in file order (default) or a seeded random subset"},
    [O_IMBALANCE] = {"imbalance", DM, "R", "minority classes keep 1/R of their samples (training split; default 1)"},
    [O_IMBALANCE_TYPE] = {"imbalance-type", DM, "step|exp", "step: upper half of classes are minority (default); exp: R^(-c/(C-1))"},
    [O_LABEL_NOISE] = {"label-noise", DM, "F", "fraction of training labels replaced by another class (default 0)"},
    [O_SCALE] = {"scale", DM, "unit|standardize|none", "input scaling (default: unit for images, none otherwise)"},
    [O_SYNTH_DIM] = {"synth-dim", DM, "D", "synthetic sets: input dimension"},
    [O_SYNTH_CLASSES] = {"synth-classes", DM, "C", "synthetic sets: classes (teacher: target width)"},
    [O_SYNTH_NOISE] = {"synth-noise", DM, "S", "synthetic sets: noise level"},
    [O_MODEL] = {"model", DM, "KIND", "mlp (default), logreg, cnn, resnet, rosenbrock, beale, himmelblau, rastrigin, quadratic:a,b"},
    [O_HIDDEN] = {"hidden", DM, "W1,W2,...", "hidden widths of an mlp, and of the dense layers after the cnn's convolutions (default 256,256)"},
    [O_ACT] = {"act", DM, "NAME", "relu (default), leaky_relu, tanh, sigmoid, gelu, softplus, identity"},
    [O_SLOPE] = {"slope", DM, "A", "negative slope of leaky_relu (default 0.01)"},
    [O_NO_BIAS] = {"no-bias", DM, NULL, "layers without biases"},
    [O_LOSS] = {"loss", DM, "ce|mse", "cross-entropy (default) or 0.5*||f(x)-onehot(y)||^2 averaged over samples"},
    [O_CHUNK] = {"chunk", DM, "N", "physical chunk of rows per evaluation (default: 256 dense, 128 cnn, 32 resnet)"},
    [O_CHANNELS] = {"channels", DM, "C1,C2", "output channels of the cnn's two 5x5 convolutions (default 6,16)"},
    [O_WIDTH] = {"width", DM, "W", "channels of the resnet's stem and blocks (default 16)"},
    [O_BLOCKS] = {"blocks", DM, "N", "residual blocks of the resnet (default 9)"},
    [O_SKIP] = {"skip", DM, "on|off", "the resnet's identity paths (default on; off: the same layers, no skips)"},
    [O_SEED] = {"seed", ALL, "S", "run seed: initialization, data order, subsets (default 0)"},
    [O_THREADS] = {"threads", ALL, "N", "threads (default: $BASIN_THREADS, else all cores)"},
    [O_INIT] = {"init", CMD_EVAL | CMD_TRAIN | PROBE | CMD_COLLAPSE | CMD_LANDSCAPE, "THETA.npy|RUN[@STEP]", "start from this parameter vector, or a run's snapshot (id prefix; default step: the latest) with the run's model and data options (default: seeded init)"},
    [O_DB] = {"db", CMD_EVAL | CMD_TRAIN | PROBE | LAND, "PATH", "the store --init RUN (interpolate: --from/--to RUN) reads (default results/basin.db); hessian, sharpness, landscape, collapse: store the results there, linked to the run and step"},
    [O_OUT] = {"out", CMD_INIT | CMD_LANDSCAPE | CMD_INTERPOLATE, "FILE", "init: THETA.npy of the initial parameters (required); landscape, interpolate: the CSV (landscape default stdout)"},
    [O_GRAD_OUT] = {"grad-out", CMD_EVAL, "G.npy", "write the gradient of the mean loss"},
    [O_JVP_IN] = {"jvp-in", CMD_EVAL, "V.npy", "print jvp=<grad, V> computed in forward mode"},
    [O_HVP_IN] = {"hvp-in", CMD_EVAL, "V.npy", "direction of an exact Hessian-vector product"},
    [O_HVP_OUT] = {"hvp-out", CMD_EVAL, "HV.npy", "write H V (needs --hvp-in)"},
    [O_OPTIM] = {"optim", OPTIM, "NAME", "sgd (default), adam, adamw, diffgrad, ademamix, dog, sam, gam, forward-grad, mezo"},
    [O_LR] = {"lr", OPTIM, "ETA", "base learning rate (default: sgd 0.01; adam, adamw, diffgrad, ademamix, mezo 1e-3; dog 1; sam, gam, forward-grad: their --base's)"},
    [O_MOMENTUM] = {"momentum", OPTIM, "MU", "SGD heavy-ball momentum (default 0)"},
    [O_DAMPENING] = {"dampening", OPTIM, "TAU", "SGD momentum dampening (default 0)"},
    [O_WEIGHT_DECAY] = {"weight-decay", OPTIM, "L", "weight decay (default 0; adamw 1e-2); coupled L2, decoupled for adamw and ademamix"},
    [O_NESTEROV] = {"nesterov", OPTIM, NULL, "SGD Nesterov momentum"},
    [O_BATCH] = {"batch", CMD_TRAIN, "B", "mini-batch size (default 128); the last short batch is kept"},
    [O_EPOCHS] = {"epochs", CMD_TRAIN, "E", "train for E epochs"},
    [O_STEPS] = {"steps", CMD_TRAIN | CMD_SHARPNESS | CMD_OPTIMIZE, "S", "train (optimize) for S steps (instead of --epochs); sharpness: ascent steps, samples (average) or L-BFGS-B iterations (keskar), default 10 (average 100)"},
    [O_NO_SHUFFLE] = {"no-shuffle", CMD_TRAIN, NULL, "sequential batches in file order"},
    [O_TEST_SAMPLES] = {"test-samples", CMD_TRAIN, "N", "evaluate on the first N test samples (default: all)"},
    [O_SAVE] = {"save", CMD_TRAIN | CMD_INTERPOLATE, "THETA.npy", "write the final parameters (interpolate: theta_b after --match weights)"},
    [O_QUIET] = {"quiet", CMD_TRAIN, NULL, "no progress on stderr"},
    [O_TOP] = {"top", CMD_HESSIAN, "K", "K largest eigenvalues (default 1; power: largest magnitude)"},
    [O_BOTTOM] = {"bottom", CMD_HESSIAN, "K", "K most negative eigenvalues (Lanczos only; default 0)"},
    [O_METHOD] = {"method", CMD_HESSIAN, "lanczos|power", "Lanczos with full reorthogonalization (default) or PyHessian's power iteration"},
    [O_TOL] = {"tol", CMD_HESSIAN, "T", "Lanczos: residual estimates <= T*|lambda_max|; power and trace: PyHessian's relative-change rule (default 1e-3)"},
    [O_MAX_ITER] = {"max-iter", CMD_HESSIAN, "N", "Lanczos steps, or power steps per eigenpair (default 100)"},
    [O_TRACE] = {"trace", CMD_HESSIAN, NULL, "Hutchinson trace with Rademacher vectors: trace=... stderr=..."},
    [O_TRACE_SAMPLES] = {"trace-samples", CMD_HESSIAN, "N", "Hutchinson: at most N samples (default 100)"},
    [O_DENSITY] = {"density", CMD_HESSIAN, "FILE.csv", "SLQ spectral density (x,density on 10000 points); raw nodes to FILE_nodes.csv"},
    [O_SLQ_STEPS] = {"slq-steps", CMD_HESSIAN, "M", "Lanczos steps per SLQ run (default 100)"},
    [O_SLQ_RUNS] = {"slq-runs", CMD_HESSIAN, "N", "SLQ runs, each from its own random vector (default 1)"},
    [O_BLOCK] = {"block", CMD_HESSIAN, "NAME", "restrict to one parameter block, e.g. 0.weight (its diagonal block of H)"},
    [O_KIND] = {"kind", CMD_SHARPNESS, "NAME", "sam (default), worst-l2, worst-linf, average, keskar, flatness"},
    [O_RHO] = {"rho", CMD_SHARPNESS | OPTIM, "R", "radius / noise scale / Keskar's epsilon (default 0.05; keskar 1e-3); --optim sam: SAM's radius (default 0.05)"},
    [O_ADAPTIVE] = {"adaptive", CMD_SHARPNESS | OPTIM, NULL, "scale perturbations elementwise by |theta| (sam, worst-*, average); --optim sam/gam: ASAM"},
    [O_STEP_SIZE] = {"step-size", CMD_SHARPNESS, "A", "ascent step of worst-* and flatness (default rho)"},
    [O_BASE] = {"base", OPTIM, "RULE", "update rule under sam, gam, forward-grad: sgd (default), adam, adamw, diffgrad, ademamix, dog"},
    [O_WD_EXCLUDE] = {"wd-exclude", OPTIM, "ROLES", "parameter roles without weight decay: none, bias, norm, bias,norm (default none; mezo bias,norm)"},
    [O_BETA1] = {"beta1", OPTIM, "B1", "Adam family first-moment factor (default 0.9)"},
    [O_BETA2] = {"beta2", OPTIM, "B2", "Adam family second-moment factor (default 0.999)"},
    [O_BETA3] = {"beta3", OPTIM, "B3", "AdEMAMix slow EMA factor (default 0.9999)"},
    [O_ALPHA] = {"alpha", OPTIM, "A", "AdEMAMix slow EMA weight (default 2)"},
    [O_T_ALPHA] = {"t-alpha", OPTIM, "T", "AdEMAMix alpha warm-up steps (default 0: none)"},
    [O_T_BETA3] = {"t-beta3", OPTIM, "T", "AdEMAMix beta3 warm-up steps (default 0: none)"},
    [O_EPS] = {"eps", OPTIM, "E", "Adam family epsilon (default 1e-8)"},
    [O_ETA] = {"eta", OPTIM, "H", "ASAM: a = |theta| + eta on weight blocks (default 0, davda54's adaptive SAM)"},
    [O_SAM_M] = {"sam-m", OPTIM, "M", "SAM m-sharpness: perturb sub-batches of M samples separately (default: the whole batch)"},
    [O_GRAD_RHO] = {"grad-rho", OPTIM, "R", "GAM rho' (default 0.03)"},
    [O_GRAD_NORM_RHO] = {"grad-norm-rho", OPTIM, "R", "GAM rho (default 0.2)"},
    [O_GRAD_BETA0] = {"grad-beta0", OPTIM, "B", "GAM beta0 (default 0.1)"},
    [O_GRAD_BETA1] = {"grad-beta1", OPTIM, "B", "GAM beta1 (default 0.1)"},
    [O_GRAD_GAMMA] = {"grad-gamma", OPTIM, "G", "GAM gamma (default 0.05)"},
    [O_GAM_EXACT] = {"gam-exact", OPTIM, NULL, "GAM with an exact Hessian-vector product for g1 - g0 (a variant, not the released GAM)"},
    [O_TANGENTS] = {"tangents", OPTIM, "K", "forward gradient: tangents averaged per step (default 1)"},
    [O_ZO_EPS] = {"zo-eps", OPTIM, "E", "MeZO perturbation scale (default 1e-3)"},
    [O_ZO_SAMPLES] = {"zo-samples", OPTIM, "N", "MeZO: random directions averaged per step (default 1)"},
    [O_SCHEDULE] = {"schedule", OPTIM, "NAME", "learning-rate schedule: constant (default), step, cosine, onecycle, exp"},
    [O_WARMUP] = {"warmup", OPTIM, "W", "linear warm-up steps of constant, step and cosine (default 0)"},
    [O_STEP_EVERY] = {"step-every", OPTIM, "S", "step schedule: multiply the lr by --step-gamma every S steps (default 30)"},
    [O_STEP_GAMMA] = {"step-gamma", OPTIM, "G", "step schedule factor (default 0.1)"},
    [O_LR_MIN] = {"lr-min", OPTIM, "F", "cosine: final lr as a fraction of --lr (default 0)"},
    [O_PCT_START] = {"pct-start", OPTIM, "P", "one-cycle: fraction of the steps spent rising (default 0.3)"},
    [O_LR_DECAY] = {"lr-decay", OPTIM, "K", "exp schedule: lr exp(-(t-1) K) (default 0)"},
    [O_GROKFAST_ALPHA] = {"grokfast-alpha", OPTIM, "A", "Grokfast EMA factor (default 0.98)"},
    [O_GROKFAST_LAMBDA] = {"grokfast-lambda", OPTIM, "L", "Grokfast: g += L * EMA(g) (default 0: off)"},
    [O_FUNCTION] = {"function", CMD_OPTIMIZE, "NAME", "the 2-D test function (required): rosenbrock, beale, himmelblau, rastrigin, quadratic:a,b"},
    [O_START] = {"start", CMD_OPTIMIZE, "X,Y", "start point (default: the function's own)"},
    [O_DIR1] = {"dir1", CMD_LANDSCAPE, "D1.npy", "x direction from a file, used as given (instead of --axes)"},
    [O_DIR2] = {"dir2", CMD_LANDSCAPE, "D2.npy", "y direction from a file (with --dir1 and --y)"},
    [O_AXES] = {"axes", CMD_LANDSCAPE, "random|hessian|pca", "random: seeded normal per block, --norm and --ignore (default); hessian: top-2 Lanczos eigenvectors on the split; pca: top-2 principal directions of the run's snapshots about theta at STEP (--init RUN[@STEP] --db), trajectory and explained variance stored"},
    [O_NORM] = {"norm", CMD_LANDSCAPE, "filter|layer|none", "random directions: each output row (filter, default) or block (layer) scaled to theta's norm"},
    [O_IGNORE] = {"ignore", CMD_LANDSCAPE, "biasbn|none", "random directions' bias and norm blocks: zero (biasbn, default) or equal to theta (none)"},
    [O_X] = {"x", CMD_LANDSCAPE, "A:B:N", "x axis, N points from A to B (default -1:1:51)"},
    [O_Y] = {"y", CMD_LANDSCAPE, "A:B:N", "y axis of a 2-D grid (default: a 1-D slice)"},
    [O_FROM] = {"from", CMD_INTERPOLATE, "A.npy|RUN[@STEP]", "theta_a, at alpha = 0 (required); a run's snapshot sets the data and model options as --init RUN"},
    [O_TO] = {"to", CMD_INTERPOLATE, "B.npy|RUN[@STEP]", "theta_b, at alpha = 1 (required); a run's snapshot must have the same model options"},
    [O_ALPHAS] = {"alpha", CMD_INTERPOLATE, "A:B:N", "interpolation points (default -0.5:1.5:41); the barrier uses those in [0, 1]"},
    [O_MATCH] = {"match", CMD_INTERPOLATE, "none|weights", "weights: permute theta_b's hidden units to theta_a's (Git Re-Basin weight matching; mlp) and report both barriers"},
    [O_HESSIAN_EVERY] = {"hessian-every", CMD_RUN, "N", "every N steps: top eigenpairs (Lanczos), lambda_max, eos_threshold = 2/lr, eos_ratio = lr*lambda_max/2, grad_overlap; Adam: precond_sharpness (default 0: off)"},
    [O_HESSIAN_TOP] = {"hessian-top", CMD_RUN, "K", "eigenpairs at hessian steps, also the overlap's subspace (default 1)"},
    [O_TRACE_EVERY] = {"trace-every", CMD_RUN, "N", "every N steps: Hutchinson trace, at most 100 Rademacher samples (default 0: off)"},
    [O_DENSITY_EVERY] = {"density-every", CMD_RUN, "N", "every N steps: SLQ density nodes and weights, 100 Lanczos steps, 1 run (default 0: off)"},
    [O_SHARPNESS_EVERY] = {"sharpness-every", CMD_RUN, "N", "every N steps: the sharpness of sharpness-kind (default 0: off)"},
    [O_SHARPNESS_KIND] = {"sharpness-kind", CMD_RUN, "NAME", "sam (default), worst-l2, worst-linf, average, keskar, flatness"},
    [O_SHARPNESS_RHO] = {"sharpness-rho", CMD_RUN, "R", "sharpness radius, noise scale or Keskar's epsilon (default 0.05)"},
    [O_SHARPNESS_ADAPTIVE] = {"sharpness-adaptive", CMD_RUN, NULL, "sharpness perturbations scaled elementwise by |theta| (sam, worst-*, average)"},
    [O_PROBE_SAMPLES] = {"probe-samples", CMD_RUN, "N", "every probe on the same seeded random N training samples (RNG_PROBE stream; default 0: the whole training split)"},
    [O_PROBE_TOL] = {"probe-tol", CMD_RUN, "T", "Lanczos residual estimates <= T*|lambda_max|; Hutchinson's relative change (default 1e-3)"},
    [O_COLLAPSE_EVERY] = {"collapse-every", CMD_RUN, "N", "every N steps: neural collapse metrics nc1 ... nc4, within_class_trace, nc_error, nc_margin on the probe samples (default 0: off)"},
    [O_OVERLAP_TOP] = {"overlap-top", CMD_RUN, "K", "grad_overlap with the top K of the hessian-top eigenvectors, e.g. the number of classes (default 0: all hessian-top)"},
};
_Static_assert(sizeof rows / sizeof rows[0] == O_COUNT, "one row per option");

void cfg_default(cfg *c)
{
    memset(c, 0, sizeof *c);
    data_opts_default(&c->data);
    model_opts_default(&c->model);
    snprintf(c->model_kind, sizeof c->model_kind, "mlp");
    c->model.kind = c->model_kind;
    opt_hparams_default(&c->hp);
    snprintf(c->optim, sizeof c->optim, "sgd");
    c->batch = 128;
    c->shuffle = 1;
    c->x = (land_axis){-1, 1, 51};
    c->alpha = (land_axis){-0.5, 1.5, 41};
    c->probes = (probe_plan){.top = 1, .tol = 1e-3, .sharp_kind = SHARP_SAM, .rho = 0.05};
}

/* --- value parsers: the whole text must be a number in range --- */

static int bad(err *e, const char *name, const char *val, const char *want)
{
    return err_set(e, ERR_USAGE, "--%s: '%s' is not %s", name, val, want);
}

static int num(const char *name, const char *val, double lo, double hi, double *out, err *e)
{
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (*val && !*end && errno == ERANGE && fabs(v) < DBL_MIN)   /* underflow: subnormal or 0 */
        return err_set(e, ERR_USAGE, "--%s: '%s' is too close to 0 for a double (the smallest "
                       "normal one is %.2g; write 0 for zero)", name, val, DBL_MIN);
    if (!*val || *end || errno || !isfinite(v))
        return bad(e, name, val, "a number");
    if (v < lo || v > hi)
        return err_set(e, ERR_USAGE, "--%s: %s is outside [%g, %g]", name, val, lo, hi);
    *out = v;
    return 0;
}

static int count(const char *name, const char *val, double lo, double hi, double *out, err *e)
{
    int rc = num(name, val, lo, hi, out, e);
    if (!rc && *out != floor(*out))
        return bad(e, name, val, "a whole number");
    return rc;
}

static int choice(const char *name, const char *val, const char *const *opts, int *out, err *e)
{
    for (int i = 0; opts[i]; i++)
        if (strcmp(val, opts[i]) == 0) {
            *out = i;
            return 0;
        }
    char want[256] = "one of:";
    for (int i = 0; opts[i]; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), " %s", opts[i]);
    return bad(e, name, val, want);
}

/* A comma list of 1..max widths in 1..2^20 into out[], its length into *k; `want`
 * describes the list in the message. */
static int widths(const char *name, const char *val, const char *want, int *out, int max,
                  int *k, err *e)
{
    const char *p = val;
    *k = 0;
    while (*p) {
        char *end;
        long w = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || w < 1 || w > 1 << 20 || *k == max)
            return bad(e, name, val, want);
        out[(*k)++] = (int)w;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return bad(e, name, val, "a list of widths (trailing comma)");
    }
    return 0;
}

static int hidden(cfg *c, const char *val, err *e)
{
    return widths("hidden", val, "a list of 1 to 16 widths in 1..1048576, like 256,256",
                  c->model.hidden, 16, &c->model.nhidden, e);
}

static int channels(cfg *c, const char *val, err *e)
{
    const char *want = "two channel counts in 1..1048576, like 6,16";
    int ch[2], k = 0, rc = widths("channels", val, want, ch, 2, &k, e);
    if (!rc && k != 2)
        return bad(e, "channels", val, want);
    if (!rc)
        memcpy(c->model.channels, ch, sizeof ch);
    return rc;
}

static const char *const splits[] = {"train", "test", NULL};
static const char *const subsets[] = {"first", "random", NULL};
static const char *const imbs[] = {"step", "exp", NULL};
static const char *const scales[] = {"default", "unit", "standardize", "none", NULL};
static const char *const losses[] = {"ce", "mse", NULL};
static const char *const onoff[] = {"on", "off", NULL};
static const char *const methods[] = {"lanczos", "power", NULL};
static const char *const roles[] = {"weight", "bias", "norm", NULL};   /* enum block_role */
static const char *const axes[] = {"random", "hessian", "pca", NULL};
static const char *const norms[] = {"filter", "layer", "none", NULL};  /* enum land_norm */
static const char *const ignores[] = {"biasbn", "none", NULL};
static const char *const matches[] = {"none", "weights", NULL};

/* --wd-exclude: "none" or a comma list of roles, into a mask of 1 << ROLE_*. */
static int role_mask(const char *name, const char *v, int *mask, err *e)
{
    *mask = 0;
    if (strcmp(v, "none") == 0)
        return 0;
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, ",");
        int k = -1;
        for (int r = 0; roles[r]; r++)
            if (strlen(roles[r]) == len && strncmp(p, roles[r], len) == 0)
                k = r;
        if (k < 0)
            return bad(e, name, v, "none or a list of roles (bias, norm, weight), like bias,norm");
        *mask |= 1 << k;
        p += len + (p[len] == ',');
    }
    return 0;
}

/* --start X,Y */
static int point(const char *name, const char *v, double xy[2], err *e)
{
    char *end;
    errno = 0;
    xy[0] = strtod(v, &end);
    if (end == v || *end != ',' || errno || !isfinite(xy[0]))
        return bad(e, name, v, "a point X,Y");
    const char *q = end + 1;
    xy[1] = strtod(q, &end);
    if (end == q || *end || errno || !isfinite(xy[1]))
        return bad(e, name, v, "a point X,Y");
    return 0;
}

static int apply(cfg *c, enum opt_id id, const char *name, const char *v, err *e)
{
    double x = 0;
    int k = 0, rc = 0;
    switch (id) {
    case O_DATA: rc = data_spec_check(v, e); c->data.spec = v; break;
    case O_SPLIT: rc = choice(name, v, splits, &k, e); c->data.split = k; break;
    case O_SAMPLES: rc = count(name, v, 1, 1e9, &x, e); c->data.samples = (size_t)x; break;
    case O_SUBSET: rc = choice(name, v, subsets, &k, e); c->data.random_subset = k; break;
    case O_IMBALANCE: rc = num(name, v, 1, 1e6, &x, e); c->data.imbalance = x; break;
    case O_IMBALANCE_TYPE: rc = choice(name, v, imbs, &k, e); c->data.imbalance_type = k; break;
    case O_LABEL_NOISE: rc = num(name, v, 0, 0.999999, &x, e); c->data.label_noise = x; break;
    case O_SCALE: rc = choice(name, v, scales, &k, e); c->data.scale = k; break;
    case O_SYNTH_DIM: rc = count(name, v, 1, 1e6, &x, e); c->data.synth_dim = (int)x; break;
    case O_SYNTH_CLASSES: rc = count(name, v, 1, 4096, &x, e); c->data.synth_classes = (int)x; break;
    case O_SYNTH_NOISE: rc = num(name, v, 0, 1e6, &x, e); c->data.synth_noise = x; break;
    case O_MODEL:
        if (strlen(v) >= sizeof c->model_kind)
            return bad(e, name, v, "a model name (too long)");
        snprintf(c->model_kind, sizeof c->model_kind, "%s", v);
        rc = model_kind_check(v, e);
        break;
    case O_HIDDEN: rc = hidden(c, v, e); break;
    case O_ACT:
        k = ad_act_parse(v);
        if (k < 0)
            return bad(e, name, v, "an activation (relu, leaky_relu, tanh, sigmoid, gelu, softplus, identity)");
        c->model.act = k;
        break;
    case O_SLOPE: rc = num(name, v, -1e6, 1e6, &x, e); c->model.leaky_slope = x; break;
    case O_NO_BIAS: c->model.bias = 0; break;
    case O_LOSS: rc = choice(name, v, losses, &k, e); c->model.loss = k; break;
    case O_CHUNK: rc = count(name, v, 1, 1 << 20, &x, e); c->model.chunk = (size_t)x; break;
    case O_CHANNELS: rc = channels(c, v, e); break;
    case O_WIDTH: rc = count(name, v, 1, 4096, &x, e); c->model.width = (int)x; break;
    case O_BLOCKS: rc = count(name, v, 0, 256, &x, e); c->model.blocks = (int)x; break;
    case O_SKIP: rc = choice(name, v, onoff, &k, e); c->model.skip = !k; break;
    case O_SEED: rc = count(name, v, 0, 9007199254740992.0, &x, e); c->seed = c->hp.seed = (uint64_t)x; break;
    case O_THREADS:
        c->threads = pool_parse_threads(v);
        if (c->threads < 0)
            return bad(e, name, v, "a thread count in 1..256");
        break;
    case O_INIT: c->init = v; break;
    case O_DB: c->db = v; break;
    case O_OUT: c->out = v; break;
    case O_GRAD_OUT: c->grad_out = v; break;
    case O_JVP_IN: c->jvp_in = v; break;
    case O_HVP_IN: c->hvp_in = v; break;
    case O_HVP_OUT: c->hvp_out = v; break;
    case O_OPTIM:
        if (strlen(v) >= sizeof c->optim)
            return bad(e, name, v, "an optimizer name (too long)");
        snprintf(c->optim, sizeof c->optim, "%s", v);
        rc = opt_names_check(v, NULL, e);
        break;
    case O_LR: rc = num(name, v, 0, 1e6, &x, e); c->hp.lr = x; break;
    case O_MOMENTUM: rc = num(name, v, 0, 0.999999999, &x, e); c->hp.momentum = x; break;
    case O_DAMPENING: rc = num(name, v, 0, 1, &x, e); c->hp.dampening = x; break;
    case O_WEIGHT_DECAY: rc = num(name, v, 0, 1e6, &x, e); c->hp.weight_decay = x; break;
    case O_NESTEROV: c->hp.nesterov = 1; break;
    case O_BATCH: rc = count(name, v, 1, 1e9, &x, e); c->batch = (size_t)x; break;
    case O_EPOCHS: rc = count(name, v, 1, 1e9, &x, e); c->epochs = (long)x; break;
    case O_STEPS: rc = count(name, v, 1, 1e12, &x, e); c->steps = (long)x; break;
    case O_NO_SHUFFLE: c->shuffle = 0; break;
    case O_TEST_SAMPLES: rc = count(name, v, 1, 1e9, &x, e); c->test_samples = (size_t)x; break;
    case O_SAVE: c->save = v; break;
    case O_QUIET: c->quiet = 1; break;
    case O_TOP: rc = count(name, v, 0, 1e6, &x, e); c->top = (int)x; break;
    case O_BOTTOM: rc = count(name, v, 0, 1e6, &x, e); c->bottom = (int)x; break;
    case O_METHOD: rc = choice(name, v, methods, &k, e); c->power = k; break;
    case O_TOL: rc = num(name, v, 1e-16, 1, &x, e); c->tol = x; break;
    case O_MAX_ITER: rc = count(name, v, 1, 1e6, &x, e); c->max_iter = (long)x; break;
    case O_TRACE: c->trace = 1; break;
    case O_TRACE_SAMPLES: rc = count(name, v, 1, 1e9, &x, e); c->trace_samples = (long)x; break;
    case O_DENSITY: c->density = v; break;
    case O_SLQ_STEPS: rc = count(name, v, 1, 1e5, &x, e); c->slq_steps = (int)x; break;
    case O_SLQ_RUNS: rc = count(name, v, 1, 1e5, &x, e); c->slq_runs = (int)x; break;
    case O_BLOCK: c->block = v; break;
    case O_KIND:
        k = sharp_kind_parse(v);
        if (k < 0)
            return bad(e, name, v, "one of: sam worst-l2 worst-linf average keskar flatness");
        c->sharp_kind = k;
        break;
    case O_RHO: rc = num(name, v, 1e-300, 1e6, &x, e); c->rho = c->hp.rho = x; break;
    case O_ADAPTIVE: c->adaptive = c->hp.adaptive = 1; break;
    case O_STEP_SIZE: rc = num(name, v, 1e-300, 1e6, &x, e); c->step_size = x; break;
    case O_BASE:
        if (strlen(v) >= sizeof c->hp.base)
            return bad(e, name, v, "an update rule name (too long)");
        snprintf(c->hp.base, sizeof c->hp.base, "%s", v);
        rc = opt_names_check(NULL, v, e);
        break;
    case O_WD_EXCLUDE: rc = role_mask(name, v, &c->hp.wd_exclude, e); break;
    case O_BETA1: rc = num(name, v, 0, 0.999999999999, &x, e); c->hp.beta1 = x; break;
    case O_BETA2: rc = num(name, v, 0, 0.999999999999, &x, e); c->hp.beta2 = x; break;
    case O_BETA3: rc = num(name, v, 0, 0.999999999999, &x, e); c->hp.beta3 = x; break;
    case O_ALPHA: rc = num(name, v, 0, 1e6, &x, e); c->hp.alpha = x; break;
    case O_T_ALPHA: rc = count(name, v, 0, 1e12, &x, e); c->hp.t_alpha = (long)x; break;
    case O_T_BETA3: rc = count(name, v, 0, 1e12, &x, e); c->hp.t_beta3 = (long)x; break;
    case O_EPS: rc = num(name, v, 1e-300, 1, &x, e); c->hp.eps = x; break;
    case O_ETA: rc = num(name, v, 0, 1e6, &x, e); c->hp.eta = x; break;
    case O_SAM_M: rc = count(name, v, 1, 1e9, &x, e); c->hp.sam_m = (size_t)x; break;
    case O_GRAD_RHO: rc = num(name, v, 0, 1e6, &x, e); c->hp.grad_rho = x; break;
    case O_GRAD_NORM_RHO: rc = num(name, v, 0, 1e6, &x, e); c->hp.grad_norm_rho = x; break;
    case O_GRAD_BETA0: rc = num(name, v, 0, 1e6, &x, e); c->hp.grad_beta0 = x; break;
    case O_GRAD_BETA1: rc = num(name, v, 0, 1e6, &x, e); c->hp.grad_beta1 = x; break;
    case O_GRAD_GAMMA: rc = num(name, v, 0, 1e6, &x, e); c->hp.grad_gamma = x; break;
    case O_GAM_EXACT: c->hp.gam_exact = 1; break;
    case O_TANGENTS: rc = count(name, v, 1, 65536, &x, e); c->hp.tangents = (int)x; break;
    case O_ZO_EPS: rc = num(name, v, 1e-300, 1e6, &x, e); c->hp.zo_eps = x; break;
    case O_ZO_SAMPLES: rc = count(name, v, 1, 65536, &x, e); c->hp.zo_samples = (int)x; break;
    case O_SCHEDULE:
        k = sched_parse(v);
        if (k < 0)
            return bad(e, name, v, "one of: constant step cosine onecycle exp");
        c->hp.sched.kind = k;
        break;
    case O_WARMUP: rc = count(name, v, 0, 1e12, &x, e); c->hp.sched.warmup = (long)x; break;
    case O_STEP_EVERY: rc = count(name, v, 1, 1e12, &x, e); c->hp.sched.step_every = (long)x; break;
    case O_STEP_GAMMA: rc = num(name, v, 0, 1e6, &x, e); c->hp.sched.step_gamma = x; break;
    case O_LR_MIN: rc = num(name, v, 0, 1, &x, e); c->hp.sched.lr_min = x; break;
    case O_PCT_START: rc = num(name, v, 1e-9, 0.999999999, &x, e); c->hp.sched.pct_start = x; break;
    case O_LR_DECAY: rc = num(name, v, 0, 1e6, &x, e); c->hp.sched.decay = x; break;
    case O_GROKFAST_ALPHA: rc = num(name, v, 0, 0.999999999999, &x, e); c->hp.grokfast_alpha = x; break;
    case O_GROKFAST_LAMBDA: rc = num(name, v, 0, 1e6, &x, e); c->hp.grokfast_lambda = x; break;
    case O_FUNCTION:
        if (strlen(v) >= sizeof c->model_kind)
            return bad(e, name, v, "a function name (too long)");
        snprintf(c->model_kind, sizeof c->model_kind, "%s", v);
        break;
    case O_START: rc = point(name, v, c->start, e); c->has_start = !rc; break;
    case O_DIR1: c->dir1 = v; break;
    case O_DIR2: c->dir2 = v; break;
    case O_AXES: rc = choice(name, v, axes, &k, e); c->axes = k; break;
    case O_NORM: rc = choice(name, v, norms, &k, e); c->land_norm = k; break;
    case O_IGNORE: rc = choice(name, v, ignores, &k, e); c->ignore_none = k; break;
    case O_X: if ((rc = land_axis_parse(v, &c->x, e))) err_wrap(e, "--x"); break;
    case O_Y: if ((rc = land_axis_parse(v, &c->y, e))) err_wrap(e, "--y"); break;
    case O_FROM: c->from = v; break;
    case O_TO: c->to = v; break;
    case O_ALPHAS: if ((rc = land_axis_parse(v, &c->alpha, e))) err_wrap(e, "--alpha"); break;
    case O_MATCH: rc = choice(name, v, matches, &k, e); c->match = k; break;
    case O_HESSIAN_EVERY: rc = count(name, v, 0, 1e12, &x, e); c->probes.hessian_every = (long)x; break;
    case O_HESSIAN_TOP: rc = count(name, v, 1, 1000, &x, e); c->probes.top = (int)x; break;
    case O_TRACE_EVERY: rc = count(name, v, 0, 1e12, &x, e); c->probes.trace_every = (long)x; break;
    case O_DENSITY_EVERY: rc = count(name, v, 0, 1e12, &x, e); c->probes.density_every = (long)x; break;
    case O_SHARPNESS_EVERY: rc = count(name, v, 0, 1e12, &x, e); c->probes.sharpness_every = (long)x; break;
    case O_SHARPNESS_KIND:
        k = sharp_kind_parse(v);
        if (k < 0)
            return bad(e, name, v, "one of: sam worst-l2 worst-linf average keskar flatness");
        c->probes.sharp_kind = k;
        break;
    case O_SHARPNESS_RHO: rc = num(name, v, 1e-300, 1e6, &x, e); c->probes.rho = x; break;
    case O_SHARPNESS_ADAPTIVE: c->probes.adaptive = 1; break;
    case O_PROBE_SAMPLES: rc = count(name, v, 0, 1e9, &x, e); c->probes.samples = (size_t)x; break;
    case O_PROBE_TOL: rc = num(name, v, 1e-16, 1, &x, e); c->probes.tol = x; break;
    case O_COLLAPSE_EVERY: rc = count(name, v, 0, 1e12, &x, e); c->probes.collapse_every = (long)x; break;
    case O_OVERLAP_TOP: rc = count(name, v, 0, 1000, &x, e); c->probes.overlap_top = (int)x; break;
    case O_COUNT: break;
    }
    return rc;
}

/* The canonical text of option `id` in c: numbers as the shortest text that reads back
 * exactly, lists and choices by name, flags as true/false. Returns 0, or -1 for
 * options that have no canonical form (files and output-only options). Add a case with
 * every new option: experiment run ids hash these texts (experiments/sweep.c). */
static int get(const cfg *c, enum opt_id id, char *b, size_t cap)
{
    const char *t = NULL;
    double x = NAN;
    opt_hparams hp = c->hp;   /* with the optimizer's defaults resolved */
    opt_defaults(c->optim, &hp);
    switch (id) {
    case O_DATA: t = c->data.spec ? c->data.spec : "fashion-mnist"; break;
    case O_SAMPLES: x = (double)c->data.samples; break;
    case O_SUBSET: t = subsets[c->data.random_subset]; break;
    case O_IMBALANCE: x = c->data.imbalance; break;
    case O_IMBALANCE_TYPE: t = imbs[c->data.imbalance_type]; break;
    case O_LABEL_NOISE: x = c->data.label_noise; break;
    case O_SCALE: t = scales[c->data.scale]; break;
    case O_SYNTH_DIM: x = c->data.synth_dim; break;
    case O_SYNTH_CLASSES: x = c->data.synth_classes; break;
    case O_SYNTH_NOISE: x = c->data.synth_noise; break;
    case O_MODEL: t = c->model_kind; break;
    case O_HIDDEN:
        b[0] = 0;
        for (int k = 0; k < c->model.nhidden; k++)
            snprintf(b + strlen(b), cap - strlen(b), "%s%d", k ? "," : "", c->model.hidden[k]);
        return 0;
    case O_ACT: t = ad_act_name(c->model.act); break;
    case O_SLOPE: x = c->model.leaky_slope; break;
    case O_NO_BIAS: t = c->model.bias ? "false" : "true"; break;
    case O_LOSS: t = losses[c->model.loss]; break;
    case O_CHUNK: x = (double)c->model.chunk; break;
    case O_CHANNELS:
        snprintf(b, cap, "%d,%d", c->model.channels[0], c->model.channels[1]);
        return 0;
    case O_WIDTH: x = c->model.width; break;
    case O_BLOCKS: x = c->model.blocks; break;
    case O_SKIP: t = onoff[!c->model.skip]; break;
    case O_SEED: x = (double)c->seed; break;
    case O_INIT: t = c->init ? c->init : ""; break;
    case O_OPTIM: t = c->optim; break;
    case O_LR: x = hp.lr; break;
    case O_MOMENTUM: x = c->hp.momentum; break;
    case O_DAMPENING: x = c->hp.dampening; break;
    case O_WEIGHT_DECAY: x = hp.weight_decay; break;
    case O_NESTEROV: t = c->hp.nesterov ? "true" : "false"; break;
    case O_BATCH: x = (double)c->batch; break;
    case O_EPOCHS: x = (double)c->epochs; break;
    case O_STEPS: x = (double)c->steps; break;
    case O_NO_SHUFFLE: t = c->shuffle ? "false" : "true"; break;
    case O_TEST_SAMPLES: x = (double)c->test_samples; break;
    case O_SPLIT: case O_THREADS: case O_DB: case O_OUT: case O_GRAD_OUT: case O_JVP_IN:
    case O_HVP_IN: case O_HVP_OUT: case O_SAVE: case O_QUIET: case O_COUNT:
        return -1;
    /* probe settings: measurements that never change a run's trajectory */
    case O_TOP: case O_BOTTOM: case O_METHOD: case O_TOL: case O_MAX_ITER: case O_TRACE:
    case O_TRACE_SAMPLES: case O_DENSITY: case O_SLQ_STEPS: case O_SLQ_RUNS: case O_BLOCK:
    case O_KIND: case O_STEP_SIZE:
    case O_DIR1: case O_DIR2: case O_AXES: case O_NORM: case O_IGNORE: case O_X: case O_Y:
    case O_FROM: case O_TO: case O_ALPHAS: case O_MATCH:
        return -1;
    /* optimizer settings (rho and adaptive are also the sharpness probe's) */
    case O_RHO: x = c->hp.rho; break;
    case O_ADAPTIVE: t = c->hp.adaptive ? "true" : "false"; break;
    case O_BASE: t = c->hp.base[0] ? c->hp.base : "sgd"; break;
    case O_WD_EXCLUDE:
        b[0] = 0;
        for (int r = 0; roles[r]; r++)
            if (hp.wd_exclude & 1 << r)
                snprintf(b + strlen(b), cap - strlen(b), "%s%s", b[0] ? "," : "", roles[r]);
        if (!b[0])
            snprintf(b, cap, "none");
        return 0;
    case O_BETA1: x = c->hp.beta1; break;
    case O_BETA2: x = c->hp.beta2; break;
    case O_BETA3: x = c->hp.beta3; break;
    case O_ALPHA: x = c->hp.alpha; break;
    case O_T_ALPHA: x = (double)c->hp.t_alpha; break;
    case O_T_BETA3: x = (double)c->hp.t_beta3; break;
    case O_EPS: x = c->hp.eps; break;
    case O_ETA: x = c->hp.eta; break;
    case O_SAM_M: x = (double)c->hp.sam_m; break;
    case O_GRAD_RHO: x = c->hp.grad_rho; break;
    case O_GRAD_NORM_RHO: x = c->hp.grad_norm_rho; break;
    case O_GRAD_BETA0: x = c->hp.grad_beta0; break;
    case O_GRAD_BETA1: x = c->hp.grad_beta1; break;
    case O_GRAD_GAMMA: x = c->hp.grad_gamma; break;
    case O_GAM_EXACT: t = c->hp.gam_exact ? "true" : "false"; break;
    case O_TANGENTS: x = c->hp.tangents; break;
    case O_ZO_EPS: x = c->hp.zo_eps; break;
    case O_ZO_SAMPLES: x = c->hp.zo_samples; break;
    case O_SCHEDULE: t = sched_name(c->hp.sched.kind); break;
    case O_WARMUP: x = (double)c->hp.sched.warmup; break;
    case O_STEP_EVERY: x = (double)c->hp.sched.step_every; break;
    case O_STEP_GAMMA: x = c->hp.sched.step_gamma; break;
    case O_LR_MIN: x = c->hp.sched.lr_min; break;
    case O_PCT_START: x = c->hp.sched.pct_start; break;
    case O_LR_DECAY: x = c->hp.sched.decay; break;
    case O_GROKFAST_ALPHA: x = c->hp.grokfast_alpha; break;
    case O_GROKFAST_LAMBDA: x = c->hp.grokfast_lambda; break;
    case O_FUNCTION: t = c->model_kind; break;
    /* basin run's probes: they never change the trajectory, but they change what a run
     * records, so they are part of its configuration and id */
    case O_HESSIAN_EVERY: x = (double)c->probes.hessian_every; break;
    case O_HESSIAN_TOP: x = c->probes.top; break;
    case O_TRACE_EVERY: x = (double)c->probes.trace_every; break;
    case O_DENSITY_EVERY: x = (double)c->probes.density_every; break;
    case O_SHARPNESS_EVERY: x = (double)c->probes.sharpness_every; break;
    case O_SHARPNESS_KIND: t = sharp_kind_name(c->probes.sharp_kind); break;
    case O_SHARPNESS_RHO: x = c->probes.rho; break;
    case O_SHARPNESS_ADAPTIVE: t = c->probes.adaptive ? "true" : "false"; break;
    case O_PROBE_SAMPLES: x = (double)c->probes.samples; break;
    case O_PROBE_TOL: x = c->probes.tol; break;
    case O_COLLAPSE_EVERY: x = (double)c->probes.collapse_every; break;
    case O_OVERLAP_TOP: x = c->probes.overlap_top; break;
    case O_START:
        if (!c->has_start)
            return -1;
        snprintf(b, cap, "%.17g,%.17g", c->start[0], c->start[1]);
        return 0;
    }
    if (t)
        snprintf(b, cap, "%s", t);
    else   /* the shortest text that reads back as x: 0.05, not 0.050000000000000003 */
        for (int digits = 15; digits <= 17; digits++)
            if (snprintf(b, cap, "%.*g", digits, x) > 0 && strtod(b, NULL) == x)
                break;
    return 0;
}

const char *cfg_option(int i, int *cmds, int *takes_value)
{
    if (i < 0 || i >= O_COUNT)
        return NULL;
    *cmds = rows[i].cmds;
    *takes_value = rows[i].arg != NULL;
    return rows[i].name;
}

int cfg_get(const cfg *c, int cmd, const char *name, char *buf, size_t cap)
{
    for (int i = 0; i < O_COUNT; i++)
        if ((rows[i].cmds & cmd) && strcmp(name, rows[i].name) == 0)
            return get(c, i, buf, cap);
    return -1;
}

int cfg_get_row(const cfg *c, int i, char *buf, size_t cap)
{
    return i >= 0 && i < O_COUNT ? get(c, i, buf, cap) : -1;
}

/* Edit distance ignoring case, for "did you mean" (LR: lr). */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int s = d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1])
                                       != tolower((unsigned char)b[j - 1]));
            int t = d[i - 1][j] + 1 < d[i][j - 1] + 1 ? d[i - 1][j] + 1 : d[i][j - 1] + 1;
            d[i][j] = s < t ? s : t;
        }
    return d[la][lb];
}

int cfg_set(cfg *c, int cmd, const char *name, const char *val, err *e)
{
    int best = -1, bestd = 4, elsewhere = 0;
    for (int i = 0; i < O_COUNT; i++) {
        if (strcmp(name, rows[i].name) != 0)
            continue;
        if (!(rows[i].cmds & cmd)) {
            elsewhere = 1;  /* a name may have a row per command group (--alpha) */
            continue;
        }
        if (rows[i].arg && !val)
            return err_set(e, ERR_USAGE, "--%s needs a value (%s)", name, rows[i].arg);
        if (!rows[i].arg && val)
            return err_set(e, ERR_USAGE, "--%s takes no value", name);
        return apply(c, i, name, val, e);
    }
    if (elsewhere)
        return err_set(e, ERR_USAGE, "--%s does not apply to this command", name);
    for (int i = 0; i < O_COUNT; i++) {   /* unknown: the nearest name */
        int dd = distance(name, rows[i].name);
        if ((rows[i].cmds & cmd) && dd < bestd) {
            bestd = dd;
            best = i;
        }
    }
    if (best >= 0)
        return err_set(e, ERR_USAGE, "unknown option --%s (did you mean --%s?)", name, rows[best].name);
    return err_set(e, ERR_USAGE, "unknown option --%s (see --help)", name);
}

int cfg_parse_args(cfg *c, int cmd, int argc, char **argv, int *help, err *e)
{
    *help = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = 1;
            return 0;
        }
        if (strncmp(a, "--", 2) != 0 || !a[2])
            return err_set(e, ERR_USAGE, "unexpected argument '%s' (options start with --)", a);
        char name[64];
        const char *eq = strchr(a + 2, '='), *val = NULL;
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (len >= sizeof name)
            return err_set(e, ERR_USAGE, "unknown option %.80s", a);
        memcpy(name, a + 2, len);
        name[len] = 0;
        int takes = 0;
        for (int k = 0; k < O_COUNT; k++)
            if (strcmp(name, rows[k].name) == 0)
                takes = rows[k].arg != NULL;
        if (eq)
            val = eq + 1;
        else if (takes) {
            if (i + 1 >= argc)
                return err_set(e, ERR_USAGE, "--%s needs a value", name);
            val = argv[++i];
        }
        int rc = cfg_set(c, cmd, name, val, e);
        if (rc)
            return rc;
    }
    return 0;
}

void cfg_print_help(int cmd)
{
    for (int i = 0; i < O_COUNT; i++) {
        if (!(rows[i].cmds & cmd))
            continue;
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", rows[i].name, rows[i].arg ? " " : "",
                 rows[i].arg ? rows[i].arg : "");
        printf("  %-30s %s\n", left, rows[i].help);
    }
}
