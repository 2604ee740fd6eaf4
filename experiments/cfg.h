/* cfg.h -- one run's configuration, and the one table of options that sets it.
 *
 * Every option of `basin init|eval|train` is a row of the table in cfg.c: its name
 * (the command-line flag without "--", and the key in experiment files), the
 * commands it belongs to, whether it takes a value, a setter that validates the text,
 * and a help line. Command-line parsing and (later) experiment files therefore share
 * names, validation and messages. */
#ifndef BASIN_CFG_H
#define BASIN_CFG_H

#include <stdint.h>
#include "../models/data.h"
#include "../models/model.h"
#include "../optim/opt.h"
#include "../probes/landscape.h"

/* CMD_RUN marks keys of experiment files that are no flag of any command: the [probes]
 * schedule that `basin run` carries out during training (experiments/probe_sched.h). */
enum { CMD_INIT = 1, CMD_EVAL = 2, CMD_TRAIN = 4, CMD_HESSIAN = 8, CMD_SHARPNESS = 16,
       CMD_OPTIMIZE = 32, CMD_COLLAPSE = 64, CMD_LANDSCAPE = 128, CMD_INTERPOLATE = 256,
       CMD_RUN = 512 };

/* The probes `basin run` schedules during training ([probes] keys). Defaults resolved
 * by cfg_default, as run ids hash them. */
typedef struct probe_plan {
    long hessian_every;     /* top eigenpairs, lambda_max, edge-of-stability metrics,
                               gradient overlap, Adam's preconditioned sharpness; 0: off */
    long trace_every, density_every, sharpness_every;   /* 0: off */
    long collapse_every;    /* neural collapse metrics (probes/collapse.h); 0: off */
    int overlap_top;        /* grad_overlap's subspace: the top overlap_top of the
                               hessian-top eigenvectors; 0: all of them */
    size_t samples;         /* the probe subset; 0: the whole training split */
    int top;                /* eigenpairs at hessian steps (1) */
    double tol;             /* Lanczos and Hutchinson tolerance (1e-3) */
    int sharp_kind;         /* enum sharp_kind (sam) */
    double rho;             /* sharpness radius (0.05) */
    int adaptive;           /* sharpness perturbations scaled by |theta| */
} probe_plan;

typedef struct cfg {
    data_opts data;
    model_opts model;
    char model_kind[64];
    opt_hparams hp;
    char optim[32];
    uint64_t seed;
    int threads;            /* 0: pool default */
    /* training */
    size_t batch;
    long epochs, steps;     /* exactly one > 0 for train */
    int shuffle;
    int quiet;
    size_t test_samples;    /* 0: the whole test split */
    /* files */
    const char *init, *save, *out, *grad_out, *jvp_in, *hvp_in, *hvp_out;
    const char *db;         /* the store of --init RUN[@STEP] (and of probe results) */
    /* probes (hessian, sharpness); 0 selects the probe's documented default */
    int top, bottom;        /* eigenpairs: largest, most negative */
    int power;              /* --method power (else Lanczos) */
    double tol;             /* eigen and trace tolerance */
    long max_iter;          /* Lanczos steps / power steps per pair */
    int trace;              /* --trace: Hutchinson */
    long trace_samples;     /* Hutchinson's sample cap */
    const char *density;    /* SLQ density CSV */
    int slq_steps, slq_runs;
    const char *block;      /* restrict to this parameter block */
    int sharp_kind;         /* enum sharp_kind, default SAM */
    double rho, step_size;
    int adaptive;
    /* basin optimize */
    double start[2];        /* --start X,Y */
    int has_start;
    /* landscape, interpolate (probes/landscape.h) */
    const char *dir1, *dir2, *from, *to;
    int axes;               /* 0 random, 1 hessian, 2 pca */
    int land_norm;          /* enum land_norm, default filter */
    int ignore_none;        /* --ignore none (default biasbn: zero bias/norm directions) */
    int match;              /* --match weights */
    land_axis x, y, alpha;  /* y.n = 0: a 1-D slice */
    probe_plan probes;      /* basin run's [probes] */
} cfg;

/* Defaults: fashion-mnist, mlp 256,256 relu, CE, sgd lr 0.01, batch 128, seed 0. */
void cfg_default(cfg *c);

/* Apply option `name` with text `val` (NULL for flags without a value).
 * ERR_USAGE with a message naming the option and value, with a "did you mean"
 * suggestion for unknown names. `cmd` is the CMD_* of the command being parsed. */
int cfg_set(cfg *c, int cmd, const char *name, const char *val, err *e);

/* Parse argv[0..argc) of a command (after the command word). --help sets *help. */
int cfg_parse_args(cfg *c, int cmd, int argc, char **argv, int *help, err *e);

/* Row i of the option table (0, 1, ... until NULL): its name, the CMD_* bits it
 * applies to, and whether it takes a value (else it is a flag). */
const char *cfg_option(int i, int *cmds, int *takes_value);

/* The canonical text of option `name` of command `cmd` (a CMD_* bit) in c (every
 * default resolved; numbers as the shortest text that reads back exactly, flags
 * "true"/"false") into buf; -1 for options without one (output files, threads, quiet,
 * split, the probe commands' settings) or unknown names. Experiment run ids hash these
 * texts; basin run's [probes] keys (CMD_RUN) have one. */
int cfg_get(const cfg *c, int cmd, const char *name, char *buf, size_t cap);

/* cfg_get of row i of the option table (cfg_option's numbering). */
int cfg_get_row(const cfg *c, int i, char *buf, size_t cap);

/* Print the options of command `cmd` to stdout, one per line with help. */
void cfg_print_help(int cmd);

#endif
