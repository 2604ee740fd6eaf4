/* session.h -- what every command that works on one model sets up: the options,
 * the data, the model and theta; and the commands themselves (one file each:
 * cmd_model.c holds init, eval and train). */
#ifndef BASIN_SESSION_H
#define BASIN_SESSION_H

#include "../models/data.h"
#include "../models/model.h"
#include "cfg.h"

#define BASIN_VERSION "0.1.0"

typedef struct session {
    cfg c;
    data *train;            /* the split the command works on (NULL for test functions) */
    data *test;             /* the test split, when asked for and available */
    model *m;
    double *theta;          /* (m->n) */
    char run[65];           /* --init RUN[@STEP]: the run's id, else "" */
    long run_step;          /* and the step of its snapshot */
    char *run_config;       /* the run's configuration text; c's strings point into it */
} session;

/* Apply --threads, load the data (split `split` with --samples; also the test split
 * with --test-samples when `with_test`, unless the data has none), build the model,
 * and set theta from --init (checked: length and finiteness) or the seeded
 * initialization.
 *
 * --init RUN[@STEP] (an id prefix of 4 to 64 lowercase hex digits that is not a file,
 * optionally @ and a step) names a run of the store --db (default results/basin.db):
 * theta is its snapshot at STEP (without @STEP its latest: the final theta of a
 * completed run), and the run's stored configuration sets the data and model options
 * and the seed (the seed decides synthetic data, subsets and label noise). Options
 * given on the command line must agree with the run's, except --samples, --subset and
 * --chunk, which may narrow the samples or change the physical batching. ERR_USAGE
 * for a conflicting option or an unknown run, ERR_DATA for a missing snapshot. */
int session_open(session *s, enum data_split split, int with_test, err *e);

/* 1 when the text of --init names a run (RUN[@STEP], see session_open), 0 for a file. */
int session_names_run(const char *init);

/* The snapshot of run RUN[@STEP] (`spec`, as --init takes it; `flag` names the option in
 * messages) in the store at `db`: id[65] = the run's full id, *step the snapshot's
 * step, *config a copy of the run's configuration text, *theta (*n values) its theta.
 * The caller frees *config and *theta (also after an error). */
int session_snapshot(const char *db, const char *spec, const char *flag, char id[65],
                     long *step, char **config, double **theta, size_t *n, err *e);

/* Read an .npy vector of exactly n elements into v, rejecting non-finite values
 * (ERR_DATA naming the file and element). */
int session_read_vector(const char *path, double *v, size_t n, err *e);

/* Fail early (ERR_SYS) when the directory of an output file is not writable, so a
 * long run does not end in an unwritable --save. NULL is fine. */
int session_check_output(const char *path, err *e);

/* Free what session_open made; safe on a partly opened session. */
void session_close(session *s);

/* The whole dataset as one batch (empty for NULL). */
batch session_batch(const data *d);

/* Commands: each returns an err.h status with the message on e. */
int cmd_init(session *s, err *e);
int cmd_eval(session *s, err *e);
int cmd_train(session *s, err *e);
int cmd_hessian(session *s, err *e);     /* cmd_probe.c */
int cmd_sharpness(session *s, err *e);   /* cmd_probe.c */
int cmd_optimize(session *s, err *e);    /* cmd_optimize.c */
int cmd_collapse(session *s, err *e);    /* cmd_land.c */
int cmd_landscape(session *s, err *e);   /* cmd_land.c */
int cmd_interpolate(session *s, err *e); /* cmd_land.c */

#endif
