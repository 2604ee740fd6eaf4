/* plot.h -- pictures of a basin store through gnuplot.
 *
 * plot_render() reads one results store (results/store.h; nothing else of basin),
 * writes a gnuplot script `plot.gp` and its data files into a directory, and runs
 * `gnuplot plot.gp` there. The data files are plain text in gnuplot's layout: one
 * row per point, numbers written with 17 significant digits and '.' as the decimal
 * sign whatever the locale, "NaN" for missing values (the script says `set datafile
 * missing NaN`), data sets separated by two blank lines (gnuplot's `index`), and the
 * scan lines of a 2-D grid by one blank line. The directory is the caller's with
 * --emit-script (kept, re-renderable with `cd DIR && gnuplot plot.gp`) and a fresh
 * temporary one otherwise (removed after a successful render, kept and named in the
 * message when gnuplot fails).
 *
 * Databases come from other people (basin merge of shards): every text a script or data
 * file carries (legends from parameter keys and values, metric keys, splits, CSV file
 * names, the output path) is one line, its control characters replaced by '?', and
 * reaches the script only inside a single-quoted string (quotes doubled), where gnuplot
 * substitutes nothing; so no value can start a command of its own (`!cmd`, `system`).
 *
 * Kinds (file names inside the directory):
 *   curves     curves.dat: per group of runs that differ only by seed, index g rows
 *              "x mean std n lo hi" (sample std over seeds, 0 for one run; lo/hi the
 *              band mean -/+ std, lo clipped to mean/10 on a log axis)
 *   sharpness  sharpness.dat: per run r, index 2r "step lambda_max" (hessian_eigs k=0,
 *              else the lambda_max metric), index 2r+1 "step 2/eta (2+2beta)/eta" with
 *              eta the per-step lr metric when logged, else the run's lr parameter,
 *              beta its momentum parameter (0 when absent)
 *   spectrum   spectrum.dat: per run, index r "lambda density" on 10000 points
 *              (PyHessian's Gaussian smoothing of the SLQ nodes/weights, variance
 *              1e-5 max(1, lmax - lmin), normalized to integrate to 1)
 *   collapse   collapse.dat: per run, index r "x nc1 nc2 nc3 nc4" (x epoch when known)
 *   landscape  landscape.dat: 1-D: per run, index r "alpha loss acc"; 2-D (first run
 *              with a grid): "alpha beta loss acc", one scan line per beta (alpha
 *              varying fastest), blank line between; traj.dat: the run's PCA
 *              trajectory "x y loss" when stored
 *   interp     interp.dat: per line, index l "alpha loss error"; the barrier of each
 *              line (max over alpha in [0, 1] of L - the chord between L(0), L(1))
 *              is annotated. Lines: 1-D grids of normalization "interpolation" in the
 *              store, and CSV files of `basin interpolate --out` (plot_opts.csv)
 *   race       race.dat: per trajectory, index t "step x y f" (basis "theta", or CSV
 *              of `basin optimize`); the function's contour map is computed by gnuplot
 *   compare    compare.dat: per group "i mean std n rgb 'label'"; seeds.dat "i value"
 *
 * Colours are one per optimizer name, the same in every plot (style.c). */
#ifndef BASIN_PLOT_H
#define BASIN_PLOT_H

#include "../results/store.h"

enum { PLOT_X_AUTO = 0, PLOT_X_STEP, PLOT_X_EPOCH };

typedef struct plot_opts {
    const char *kind;            /* one of plot_kinds */
    const char *const *runs;     /* (nruns) run id prefixes; 0 runs: experiment */
    int nruns;
    const char *experiment;      /* NULL with no runs: the most recently updated one */
    const char *out;             /* FILE.png|.svg|.pdf (.gif: race, animated); NULL:
                                    KIND.png, or no rendering with emit_dir */
    const char *emit_dir;        /* keep script and data here (created when missing) */
    const char *metric;          /* curves, compare (default train_loss, test_acc) */
    int logy;                    /* curves, compare: log y; landscape: log10 of the loss */
    int x;                       /* curves, collapse: PLOT_X_STEP or PLOT_X_EPOCH;
                                    PLOT_X_AUTO: curves step, collapse epoch when known */
    int surface;                 /* landscape 2-D: a 3-D surface instead of the map */
    int width, height;           /* pixels (pdf: at 100 px per inch); 0: the default */
    long step;                   /* spectrum: the step (-1: the latest) */
    int grid;                    /* landscape: the grid number (-1: the latest) */
    const char *function;        /* race: the test function (default: the runs' param) */
    const char *const *csv;      /* (ncsv) interp and race inputs from CSV files */
    int ncsv;
} plot_opts;

/* The kinds, NULL-terminated. */
extern const char *const plot_kinds[];

/* Defaults: everything 0 / NULL (PLOT_X_AUTO) except step = -1, grid = -1. */
void plot_opts_default(plot_opts *o);

/* Check o without touching any file: the kind, the output's extension (and no control
 * character in its name), combinations. ERR_USAGE with a message naming the option. */
int plot_opts_check(const plot_opts *o, err *e);

/* Draw o->kind from the store s. ERR_USAGE for bad options, ERR_DATA when the store
 * has nothing to draw for the selection (naming what is missing) or gnuplot fails
 * (naming the kept script), ERR_SYS for I/O and when gnuplot is not on PATH (the
 * message names Debian's gnuplot-nox). Prints "wrote FILE" lines to stdout. */
int plot_render(store *s, const plot_opts *o, err *e);

#endif
