/* store.h -- basin's results store: one SQLite file per database, schema versioned.
 *
 * Everything a run measures goes here: its configuration and provenance, metrics per
 * step, probe results (Hessian spectra, densities, traces, sharpness, neural collapse,
 * landscape grids, 2-D trajectories) and checkpoints. The schema is documented in
 * results/README.md; STORE_SCHEMA_VERSION is kept in PRAGMA user_version and
 * store_open() migrates older files forward inside one BEGIN IMMEDIATE transaction,
 * so two processes opening a new file at once create it exactly once.
 *
 * Concurrency contract: one `store` per process (never shared across fork()); WAL
 * mode; every write is a short BEGIN IMMEDIATE transaction with a busy timeout, never
 * held across compute. Metrics are buffered in memory and written by store_flush()
 * (and automatically when the buffer fills), so a killed process loses at most the
 * unflushed rows after its last checkpoint -- which resume recomputes anyway.
 *
 * Doubles in BLOBs (theta, optimizer state) are the host's float64 bytes, i.e.
 * little-endian IEEE 754 on every machine basin supports (numpy dtype '<f8').
 * This module knows nothing about models or training: it stores numbers and text.
 * Every function returns an err.h status with a message on e. */
#ifndef BASIN_STORE_H
#define BASIN_STORE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"

#define STORE_SCHEMA_VERSION 4

/* Seconds after which a RUNNING run whose heartbeat stopped may be taken over by
 * another process (on the same host a dead or zombie owner pid is enough). The owner's
 * heartbeat comes from a thread of its own every STORE_HEARTBEAT_S seconds, whatever
 * the owner computes, so only a process that is stopped (SIGSTOP, Ctrl-Z, a Slurm
 * suspend, a paused VM) or cut off goes stale while it lives. BASIN_STALE_S=SECONDS
 * in the environment sets a shorter limit (tests of takeovers; the heartbeat then
 * comes every fifth of it). */
#define STORE_STALE_S 600.0
#define STORE_HEARTBEAT_S 10.0

typedef struct store store;

/* The documented metric keys (NULL-terminated {key, meaning} pairs). store_metric()
 * accepts only these; the table is also written to the metric_keys table. */
extern const char *const store_metric_keys[][2];

/* Open (creating or migrating) the database at `path`. ERR_DATA when the file is
 * not a basin database or has a newer schema than this basin knows; ERR_SYS for I/O.
 * Caller: store_close (which flushes buffered metrics, ignoring errors; call
 * store_flush first to see them). */
int store_open(const char *path, store **out, err *e);
void store_close(store *s);

/* Open an existing database only to read it (runs, show, compare, export, plot, a
 * run's snapshot for --init): a read-only connection that writes nothing -- no
 * migration, no lock -- so it works on a read-only file and never waits for a writer.
 * ERR_DATA when the file is not a basin database or its schema is not
 * STORE_SCHEMA_VERSION (an older one is migrated by any command that writes); ERR_SYS
 * when it cannot be opened. The store-writing functions fail on it. Caller:
 * store_close. */
int store_open_read(const char *path, store **out, err *e);

/* The connection, for read-only queries (query and merge commands). */
sqlite3 *store_db(store *s);

/* Column i of a result row as text, "" where SQLite gives none: a NULL, a zero-length
 * BLOB (which a damaged or hand-made database can hold even in a NOT NULL column), or
 * out of memory. Valid until the statement steps again. */
const char *store_text(sqlite3_stmt *st, int i);

/* Run statuses. PENDING: registered, not started. */
#define STORE_PENDING "PENDING"
#define STORE_RUNNING "RUNNING"
#define STORE_COMPLETED "COMPLETED"
#define STORE_FAILED "FAILED"
#define STORE_INTERRUPTED "INTERRUPTED"
#define STORE_DIVERGED "DIVERGED"

/* An experiment: its name, the file it was read from and that file's text. */
int store_experiment_put(store *s, const char *name, const char *file, const char *text,
                         err *e);

/* A run as the sweep resolved it. params: nparams (key, text) pairs; a text that is
 * a whole finite number is also stored as a number. */
typedef struct store_run {
    const char *id;           /* 64 hex digits: SHA-256 of config */
    const char *experiment;
    const char *grp;          /* id of the same config without the seed: seed groups */
    const char *config;       /* canonical configuration text */
    const char *label;        /* the swept values, e.g. "lr=0.1 seed=2" */
    uint64_t seed;
    long total_steps;
    int nparams;
    const char *const *keys, *const *vals;   /* (nparams) */
} store_run;

/* Register runs (status PENDING unless they exist) and their membership of the
 * experiment, in one transaction; existing runs are left as they are. Then refresh
 * the runs_wide view when new parameter keys appeared. */
int store_runs_register(store *s, const store_run *runs, size_t n, err *e);

/* Provenance recorded when a run is claimed. */
typedef struct store_prov {
    const char *version, *git, *compiler, *cpu, *host, *blas, *cmdline;
    int threads;
} store_prov;

/* Status of run `id` into status[16] ("" when unknown) and the basin version that
 * last ran it into version[64] ("" when none). */
int store_run_status(store *s, const char *id, char *status, char *version, err *e);

enum store_claim { STORE_CLAIMED = 0, STORE_SKIP_DONE, STORE_SKIP_BUSY };

/* Atomically claim run `id` (registered) for this process: runs with a final outcome
 * (COMPLETED, DIVERGED) are skipped unless `force` (then all their rows are deleted;
 * the run starts over); RUNNING runs are skipped
 * while their owner lives: it is taken over only when its pid is dead (or a zombie) on
 * this host or its heartbeat is older than STORE_STALE_S. A claimed run is RUNNING,
 * owned by (host, pid) and a fresh random token, with provenance p, and this store
 * starts heartbeating it (a thread; never fork() while a store is open). A store owns
 * one run at a time: a new claim releases the previous one. *result is an enum
 * store_claim.
 *
 * Ownership: every write transaction of a store that owns a run checks, under the
 * write lock, that the run still carries its token. When another process took it over
 * (this one was stopped past STORE_STALE_S), the write is rolled back with ERR_SYS
 * naming the new owner, the buffered rows are dropped, and store_claim_lost() is 1:
 * the process must write nothing more for the run and mark nothing (the new owner
 * does). Every write transaction also checks that the database file (and its -wal
 * file) at the path is still the one this connection writes: a file deleted, moved or
 * replaced under a running process is ERR_SYS naming it. */
int store_run_claim(store *s, const char *id, const store_prov *p, int force, int *result,
                    err *e);

/* 1 when this store's claim was found taken over by another process (by a write, or
 * by the heartbeat thread, which may notice first). */
int store_claim_lost(store *s);

/* Give up the current claim without finishing it (after an error, or a lost claim):
 * the heartbeat stops and the run is left as the store holds it. Returns 1 when the
 * claim had been lost. store_run_finish releases the claim it finishes. */
int store_run_release(store *s);

/* Record liveness and progress of an owned run (cheap; the runner calls it with
 * every flush). */
int store_run_heartbeat(store *s, const char *id, long step, err *e);

/* Flush buffered rows, then set the final status (one of the STORE_* above) and
 * message (may be NULL) of an owned run. */
int store_run_finish(store *s, const char *id, const char *status, const char *msg, err *e);

/* Resolve a run id prefix (at least 4 hex digits) to the full id[65]. ERR_USAGE when
 * no run or several runs match (naming some). */
int store_run_resolve(store *s, const char *prefix, char *id, err *e);

/* Buffer one metric row (run, key, step, epoch, value, wall = now). ERR_USAGE for a
 * key not in store_metric_keys. A later row with the same (run, key, step)
 * replaces the earlier one. May flush. */
int store_metric(store *s, const char *run, const char *key, long step, double epoch,
                 double value, err *e);

/* Buffer one point of a 2-D trajectory (basis "theta" for 2-D models; "pca"
 * projections come with their grid, store_grid_put): (x, y) after `step` updates,
 * with its loss. May flush. */
int store_traj(store *s, const char *run, const char *basis, long step, double x, double y,
               double loss, err *e);

/* Write buffered rows in one short transaction. */
int store_flush(store *s, err *e);

/* Delete the run's per-step rows (metrics, probes, trajectories, snapshots) with step
 * > `step` (all of them for step < 0): what a resume from a checkpoint at `step`
 * recomputes. Flushes first. */
int store_run_truncate(store *s, const char *run, long step, err *e);

/* A checkpoint: theta, optimizer state and an opaque aux blob (the trainer's RNG
 * state and data order), after `step` updates. */
typedef struct store_ckpt {
    long step;
    double epoch;
    const double *theta;      /* (n) */
    size_t n;
    const double *state;      /* (nstate) optimizer state */
    size_t nstate;
    const void *aux;          /* (naux bytes) */
    size_t naux;
} store_ckpt;

/* Checkpoint kinds: STORE_RESUME keeps only the latest per run; snapshots keep all. */
#define STORE_RESUME "resume"
#define STORE_SNAPSHOT "snapshot"

/* Write a checkpoint; the buffered metrics go in the same transaction, so the rows
 * up to `step` and the checkpoint are committed together. */
int store_ckpt_put(store *s, const char *run, const char *kind, const store_ckpt *c, err *e);

/* A checkpoint read back; the arrays are the caller's (store_ckpt_data_free). */
typedef struct store_ckpt_data {
    long step;
    double epoch;
    double *theta, *state;
    size_t n, nstate;
    void *aux;
    size_t naux;
} store_ckpt_data;

/* Read the checkpoint of `kind` at `step` (step < 0: the latest). *found = 0 (and
 * nothing allocated) when there is none. */
int store_ckpt_get(store *s, const char *run, const char *kind, long step,
                   store_ckpt_data *c, int *found, err *e);
void store_ckpt_data_free(store_ckpt_data *c);

/* The steps of the run's checkpoints of `kind` with step <= max_step (all for
 * max_step < 0), ascending, into *steps (*n of them; the caller frees *steps, NULL
 * when there are none). */
int store_ckpt_steps(store *s, const char *run, const char *kind, long max_step,
                     long **steps, size_t *n, err *e);

/* Delete the run's resume checkpoint (after completion). */
int store_ckpt_drop_resume(store *s, const char *run, err *e);

/* --- probe results: each call is one short transaction --- */

/* Hessian eigenvalues values[0..k) (largest first) by `method` ("lanczos", "power";
 * "lanczos-bottom": the most negative first), replacing the run's rows of that step
 * and method. */
int store_eigs_put(store *s, const char *run, long step, const char *method,
                   const double *values, int k, err *e);
/* Spectral density quadrature: nodes[0..k), weights[0..k) (SLQ, averaged over vectors),
 * replacing the run's rows of that step. */
int store_density_put(store *s, const char *run, long step, const double *nodes,
                      const double *weights, int k, err *e);
/* Hutchinson trace estimate with its standard error over `samples` vectors. */
int store_trace_put(store *s, const char *run, long step, double estimate, double stderr_,
                    int samples, err *e);
/* Sharpness of `kind` (a sharp_* metric key) at radius rho. */
int store_sharpness_put(store *s, const char *run, long step, const char *kind, double rho,
                        double value, err *e);
/* Neural-collapse metrics NC1..NC4 (Papyan et al. 2020) on split `split`. */
int store_collapse_put(store *s, const char *run, long step, const char *split,
                       const double nc[4], err *e);

/* A landscape grid: loss (and accuracy, may be NULL) on ny x nx points
 * theta + alpha d1 + beta d2, alpha in [x0, x1], beta in [y0, y1] (ny = 1 for 1-D). */
typedef struct store_grid {
    long step;
    const char *split;          /* "train" or "test" */
    uint64_t dir_seed;          /* seed of the random directions */
    const char *normalization;  /* "filter", "layer", "none" */
    double x0, x1, y0, y1;
    int nx, ny;
    /* schema 2: how the directions and samples were chosen (NULL/0: not recorded) */
    const char *axes;           /* "random", "hessian", "file" */
    int ignore_biasbn;          /* 1: bias and norm blocks of random directions zero */
    long samples;               /* samples of the split evaluated */
    const char *subset;         /* "first", "random" */
    /* schema 3, axes "pca" only (NULL columns for other axes): the explained-variance
     * ratios of the two principal directions, and the trajectory projected on them,
     * ntraj points (steps ascending), stored in `trajectories` (basis "pca", column
     * grid = this grid) in place of every pca row the run had */
    double pca_explained[2];
    size_t ntraj;
    const long *traj_step;      /* (ntraj) */
    const double *traj_x, *traj_y, *traj_loss;   /* (ntraj) */
} store_grid;

/* Store a grid and its points (loss/acc are (ny, nx) row-major, y-major: point
 * (x_j, y_i) at i * nx + j; landscape_points row (i, j)), and a pca grid's trajectory,
 * in one transaction; *grid receives its number within the run (0, 1, ...). */
int store_grid_put(store *s, const char *run, const store_grid *g, const double *loss,
                   const double *acc, int *grid, err *e);

/* Merge the databases ins[0..n) into `out` (created or migrated when needed), one
 * transaction per input (a failed input leaves out as it was; those before it stay
 * merged); idempotent: merging an input again adds nothing. Inputs are only read
 * (attached read-only, never migrated). Each input's tables and columns (names,
 * declared types) must be exactly those of the schema version it claims, else
 * ERR_DATA naming the difference; columns are copied by name, and an input of an older
 * version is merged by name with the columns it lacks at their defaults (NULL). Then it
 * must pass PRAGMA integrity_check (ERR_DATA).
 *
 * Rows are copied in units, each whole or not at all (results/README.md, Merging): a
 * run's training state (its runs row, metrics, checkpoints, theta trajectory) comes
 * from one copy: OUT's when it is final (COMPLETED, DIVERGED) or the input's is not
 * and has no larger step, else the input's. A probe result (the eigenvalues of one
 * (run, step, method), the density of one (run, step), a trace, sharpness or collapse
 * row, a run's pca trajectory) is copied when out lacks it; where both have it, out's
 * stays unless the input's training state won the run. A landscape grid (its row and
 * its points) is copied unless out has an equal grid of the run, renumbered when its
 * number is taken. ERR_USAGE, before anything is opened, when an input is `out` itself
 * or is given twice (the same device and inode, whatever the path: a symlink, ./a.db, a
 * hard link); ERR_DATA when an input is missing. Prints nothing. */
int store_merge(const char *out, const char *const *ins, int n, err *e);

#endif
