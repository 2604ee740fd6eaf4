/* session.h -- what every command that works on one model sets up: the options,
 * the data, the model and theta; and the commands themselves (one file each:
 * cmd_model.c holds init, eval and train). */
#ifndef BASIN_SESSION_H
#define BASIN_SESSION_H

#include "../models/data.h"
#include "../models/model.h"
#include "cfg.h"

typedef struct session {
    cfg c;
    data *train;            /* the split the command works on (NULL for test functions) */
    data *test;             /* the test split, when asked for and available */
    model *m;
    double *theta;          /* (m->n) */
} session;

/* Apply --threads, load the data (split `split`; also the test split when `with_test`,
 * unless the data has none), build the model, and set theta from --init (checked:
 * length and finiteness) or the seeded initialization. */
int session_open(session *s, enum data_split split, int with_test, err *e);

/* Free what session_open made; safe on a partly opened session. */
void session_close(session *s);

/* The whole dataset as one batch (empty for NULL). */
batch session_batch(const data *d);

/* Commands: each returns an err.h status with the message on e. */
int cmd_init(session *s, err *e);
int cmd_eval(session *s, err *e);
int cmd_train(session *s, err *e);

#endif
