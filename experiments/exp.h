/* exp.h -- experiments: an experiment file expanded into runs (sweep.c), the runs
 * executed into the results store (runner.c), and the commands that query, export
 * and merge stores (cmd_query.c).
 *
 * An experiment file is INI (ini.h). Its keys are the options of `basin train`
 * (cfg.h), each in one section (the table in sweep.c), plus a few runner keys:
 *   [experiment] name (required), description, seed, threads
 *   [train]      eval-every, checkpoint-every, snapshot-every, resources
 * and the [probes] keys (CMD_RUN rows of cfg.c, carried out by probe_sched.h).
 * [plots] holds `dir = DIR` (default: the database's directory) and `NAME = KIND
 * [basin plot options]` lines: after its runs, `basin run` draws each into
 * DIR/EXPERIMENT-NAME.png (exp_plot). [plots] is not part of the run ids. Both names
 * are parts of that file name: the experiment name and a plot name may not hold '/' or
 * a control character, nor start with '.' (so no figure leaves DIR), file:line, exit 2.
 * A value `{a, b, c}` is a sweep axis (`{a; b}` when items contain commas, e.g.
 * `hidden = {256,256; 512}`), `{1..5}` an integer range; anything else, `256,256`
 * included, is one value. The grid is expanded in a canonical order that does not
 * depend on the order of lines in the file: axes sorted by their option's place in
 * the option table, the seed axis last (varying fastest), the last axis fastest.
 *
 * Each run's id is the SHA-256 (hex) of its canonical configuration: one
 * `key = value` line per option of `basin train` with every default resolved
 * (cfg_get), [probes] keys included, then the runner keys that change what is
 * recorded (eval-every, snapshot-every, and resources when true). threads and checkpoint-every are left out:
 * they change neither the trajectory (for a given thread count, see pool.h) nor what
 * is stored. Probe keys do not change the trajectory either, but they change what a
 * run records: a run with a new probe is a new run, with the same training rows. */
#ifndef BASIN_EXP_H
#define BASIN_EXP_H

#include "ini.h"
#include "session.h"

/* The most runs one file may expand to: bounds the plan's memory (a few kB a run) and
 * the time before the first run starts (about 0.1 ms a run). */
#define EXP_MAX_RUNS 10000

/* Runner keys that are not options of `basin train`. */
typedef struct exp_opts {
    long eval_every;        /* steps between train/test evaluations; 0: only at the
                               start and the end (both always evaluated) */
    long checkpoint_every;  /* steps between resume checkpoints; 0: every 60 s */
    long snapshot_every;    /* steps between kept snapshots; 0: the final theta only */
    int resources;          /* record peak_workspace_bytes and backward_runs at the end
                               (counted in the process that finishes the run: after a
                               resume, the steps since the resume) */
} exp_opts;

typedef struct exp_run {
    cfg c;                  /* resolved; strings point into the plan */
    exp_opts x;
    char id[65];            /* SHA-256 hex of canon */
    char grp[65];           /* SHA-256 hex of canon without the seed line */
    char *canon;            /* canonical configuration text */
    char *label;            /* the swept values, "lr=0.1 seed=2" ("" without axes) */
    int nparams;            /* canonical (key, value) pairs, for the params table */
    char **keys, **vals;    /* (nparams), pointing into pbuf: canon cut into lines */
    char *pbuf;
} exp_run;

typedef struct exp_plan {
    ini file;
    const char *name;       /* [experiment] name */
    exp_run *runs;          /* (n) in canonical order */
    size_t n;
    char *items;            /* storage of the sweep values */
    char *sets;             /* storage of the --set overrides */
} exp_plan;

/* Read, validate and expand the experiment file at `path`. Every grid point is
 * resolved and validated before this returns, so an invalid file is refused whole.
 * ERR_DATA / ERR_USAGE with "path:line: ..." messages: unknown section or key (with a
 * suggestion), a key in the wrong section, a bad value, conflicting options (epochs
 * and steps), bad sweep syntax, two grid points with the same configuration.
 * Caller: exp_plan_free. */
int exp_plan_load(const char *path, exp_plan *p, err *e);
void exp_plan_free(exp_plan *p);

/* The same with overrides, `basin run FILE --set KEY=VALUE...`: each KEY (any key an
 * experiment file takes, '_' read as '-') replaces the value of its entry in the file,
 * sweeps included (`--set seed=1` runs one seed, `--set 'lr={0.1, 0.2}'` sweeps), or is
 * added to its section when the file lacks it; `steps` replaces `epochs` and the
 * other way round. The overrides change the runs' configurations, hence their ids;
 * the file text kept for the store gets one `; basin run --set KEY=VALUE` line each.
 * Messages about an added entry name line 0. */
int exp_plan_load_set(const char *path, const char *const *sets, int nsets, exp_plan *p,
                      err *e);

/* The commands (argv after the command word); each returns an exit status with the
 * message on e: 0, an err.h code, or 128 + signal for `run` stopped by SIGINT/SIGTERM. */
int cmd_run(int argc, char **argv, err *e);
int cmd_runs(int argc, char **argv, err *e);
int cmd_show(int argc, char **argv, err *e);
int cmd_compare(int argc, char **argv, err *e);
int cmd_export(int argc, char **argv, err *e);
int cmd_merge(int argc, char **argv, err *e);
int cmd_plot(int argc, char **argv, err *e);

/* One plot of an experiment file's [plots] section (cmd_plot.c): spec is `KIND [basin
 * plot options]` without --db, --experiment or --run (the run's own), drawn from the
 * runs of `experiment` in `db` into `out` unless spec has --out. check_only: validate
 * spec and touch nothing. Errors as cmd_plot. */
int exp_plot(const char *spec, const char *experiment, const char *db, const char *out,
             int check_only, err *e);

#endif
