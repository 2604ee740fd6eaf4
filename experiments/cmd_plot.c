/* cmd_plot.c -- `basin plot KIND`: the command line of plots/plot.h, and the plots an
 * experiment file declares in its [plots] section (exp.h), drawn by `basin run`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../plots/plot.h"
#include "exp.h"

#define DEFAULT_DB "results/basin.db"
#define MAX_LIST 64

static const char usage[] =
    "usage: basin plot KIND [--db PATH] [--run ID... | --experiment NAME]\n"
    "                  [--out FILE.png|.svg|.pdf] [--emit-script DIR] [--size W,H]\n"
    "                  [--metric KEY] [--logy] [--x step|epoch] [--step S] [--grid N]\n"
    "                  [--surface] [--function NAME] [--csv FILE...]\n"
    "  Draw KIND from the store through gnuplot (Debian package gnuplot-nox); without\n"
    "  --run/--experiment, the most recent experiment. The output's extension picks the\n"
    "  terminal (pngcairo, svg, pdfcairo; .gif: race, animated); default KIND.png.\n"
    "kinds:\n"
    "  curves     --metric KEY (default train_loss) against --x step|epoch, seeds as\n"
    "             mean +- std bands, --logy\n"
    "  sharpness  lambda_max against step with the 2/eta and (2+2beta)/eta thresholds\n"
    "  spectrum   Hessian eigenvalue density (SLQ) on a log axis, top eigenvalues marked;\n"
    "             --step S (default the latest)\n"
    "  collapse   NC1-NC4 panels against epoch\n"
    "  landscape  1-D: loss and accuracy on twin axes; 2-D: map with contours and the\n"
    "             PCA path, --surface for 3-D, --logy for log10 loss; --grid N\n"
    "  interp     loss and error along interpolation paths with barriers;\n"
    "             --csv LINE.csv of basin interpolate (repeatable)\n"
    "  race       optimizers' paths on a test function's contour map; --function NAME,\n"
    "             --csv TRAJ.csv of basin optimize (repeatable; the file name is the legend)\n"
    "  compare    final --metric KEY (default test_acc) per configuration, +- std over seeds\n"
    "options:\n"
    "  --emit-script DIR  keep plot.gp and its data files in DIR (no rendering without --out)\n"
    "  --size W,H         pixels (pdf: 100 per inch)\n"
    "exit codes: 0 ok, 1 nothing to draw or gnuplot failed, 2 bad usage,\n"
    "            3 system error (gnuplot missing from PATH: install gnuplot-nox)\n";

static int whole(const char *opt, const char *v, long lo, long hi, long *out, err *e)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < lo || x > hi)
        return err_set(e, ERR_USAGE, "%s: '%s' is not a whole number in %ld..%ld", opt, v,
                       lo, hi);
    *out = x;
    return 0;
}

/* Parse argv (after `plot`) into o, *db; the lists point into argv. *help when asked. */
static int parse(int argc, char **argv, plot_opts *o, const char **db, const char **runs,
                 const char **csv, int *help, err *e)
{
    plot_opts_default(o);
    o->runs = runs;
    o->csv = csv;
    *db = DEFAULT_DB;
    *help = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            return 0;
        }
        if (a[0] != '-') {
            if (o->kind)
                return err_set(e, ERR_USAGE, "one kind, got '%s' and '%s'", o->kind, a);
            o->kind = a;
            continue;
        }
        int flag = !strcmp(a, "--logy") || !strcmp(a, "--surface");
        if (!flag && !v)
            return err_set(e, ERR_USAGE, "%s needs a value (see basin plot --help)", a);
        long x;
        int rc = 0;
        if (!strcmp(a, "--logy"))
            o->logy = 1;
        else if (!strcmp(a, "--surface"))
            o->surface = 1;
        else if (!strcmp(a, "--db"))
            *db = v;
        else if (!strcmp(a, "--run") || !strcmp(a, "--csv")) {
            int *n = a[2] == 'r' ? &o->nruns : &o->ncsv;
            const char **list = a[2] == 'r' ? runs : csv;
            if (*n == MAX_LIST)
                return err_set(e, ERR_USAGE, "at most %d %s", MAX_LIST, a);
            list[(*n)++] = v;
            /* a list: the values up to the next option */
            while (i + 2 < argc && argv[i + 2][0] != '-' && *n < MAX_LIST)
                list[(*n)++] = argv[++i + 1];
        } else if (!strcmp(a, "--experiment"))
            o->experiment = v;
        else if (!strcmp(a, "--out"))
            o->out = v;
        else if (!strcmp(a, "--emit-script"))
            o->emit_dir = v;
        else if (!strcmp(a, "--metric"))
            o->metric = v;
        else if (!strcmp(a, "--function"))
            o->function = v;
        else if (!strcmp(a, "--x")) {
            if (strcmp(v, "step") && strcmp(v, "epoch"))
                return err_set(e, ERR_USAGE, "--x: '%s' is not step or epoch", v);
            o->x = v[0] == 's' ? PLOT_X_STEP : PLOT_X_EPOCH;
        } else if (!strcmp(a, "--step")) {
            if (!(rc = whole(a, v, 0, 1L << 60, &x, e)))
                o->step = x;
        } else if (!strcmp(a, "--grid")) {
            if (!(rc = whole(a, v, 0, 1 << 30, &x, e)))
                o->grid = (int)x;
        } else if (!strcmp(a, "--size")) {
            char tail;
            if (sscanf(v, "%d,%d%c", &o->width, &o->height, &tail) != 2 || o->width < 1
                || o->height < 1)
                return err_set(e, ERR_USAGE, "--size: '%s' is not W,H in pixels", v);
        } else
            return err_set(e, ERR_USAGE, "unknown option '%s' (see basin plot --help)", a);
        if (rc)
            return rc;
        i += !flag;
    }
    if (!o->kind)
        return err_set(e, ERR_USAGE, "which kind? (curves, sharpness, spectrum, collapse, "
                       "landscape, interp, race, compare)");
    return plot_opts_check(o, e);
}

int cmd_plot(int argc, char **argv, err *e)
{
    plot_opts o;
    const char *db, *runs[MAX_LIST], *csv[MAX_LIST];
    int help, rc = parse(argc, argv, &o, &db, runs, csv, &help, e);
    if (rc || help) {
        if (help)
            fputs(usage, stdout);
        return rc;
    }
    store *s = NULL;
    if (access(db, R_OK) != 0) {
        /* interp and race can draw --csv files alone */
        if (!o.ncsv || o.nruns || o.experiment)
            return err_set(e, ERR_DATA, "%s: no such database (basin run writes one; --db PATH)",
                           db);
    } else if ((rc = store_open_read(db, &s, e))) {
        return rc;
    }
    rc = plot_render(s, &o, e);
    store_close(s);
    return rc;
}

int exp_plot(const char *spec, const char *experiment, const char *db, const char *out,
             int check_only, err *e)
{
    char buf[2048], *argv[MAX_LIST + 8];
    int argc = 0, has_out = 0;
    if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf)
        return err_set(e, ERR_USAGE, "plot '%s': too long", spec);
    for (char *t = strtok(buf, " \t"); t; t = strtok(NULL, " \t")) {
        if (argc == MAX_LIST)
            return err_set(e, ERR_USAGE, "plot '%s': too many words", spec);
        has_out |= !strcmp(t, "--out");
        if (!strcmp(t, "--db") || !strcmp(t, "--experiment") || !strcmp(t, "--run"))
            return err_set(e, ERR_USAGE, "plot '%s': %s is the run's own (leave it out)", spec, t);
        argv[argc++] = t;
    }
    argv[argc++] = "--experiment";
    argv[argc++] = (char *)experiment;
    argv[argc++] = "--db";
    argv[argc++] = (char *)db;
    if (!has_out) {
        argv[argc++] = "--out";
        argv[argc++] = (char *)out;
    }
    if (!check_only)
        return cmd_plot(argc, argv, e);
    plot_opts o;
    const char *d, *runs[MAX_LIST], *csv[MAX_LIST];
    int help;
    return parse(argc, argv, &o, &d, runs, csv, &help, e);
}
