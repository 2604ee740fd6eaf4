/* store.c -- the SQLite results store (store.h; schema in results/README.md). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

const char *const store_metric_keys[][2] = {
    {"batch_loss", "mean loss of the mini-batch of step t, at the theta before update t (every step)"},
    {"lr", "learning rate used by update t (every step, after any schedule)"},
    {"train_loss", "mean loss on the training split after t updates (eval steps)"},
    {"train_acc", "accuracy on the training split after t updates (eval steps; classification)"},
    {"test_loss", "mean loss on the test split after t updates (eval steps)"},
    {"test_acc", "accuracy on the test split after t updates (eval steps; classification)"},
    {"grad_norm", "Euclidean norm of the full-batch gradient"},
    {"update_norm", "Euclidean norm of the parameter update of step t"},
    {"lambda_max", "largest Hessian eigenvalue of the training loss"},
    {"trace", "Hessian trace (Hutchinson estimate)"},
    {"nc1", "neural collapse NC1: tr(Sw Sb^+)/C on the training split"},
    {"nc1_notebook", "NC1 as the authors' notebook: tr(Sw Sb^+) (without the /C)"},
    {"nc2_equinorm_means", "NC2 equinorm: std/mean of the centred class-mean norms"},
    {"nc2_equinorm_weights", "NC2 equinorm: std/mean of the classifier row norms"},
    {"nc2_equiangular_means", "NC2 equiangularity: mean |cos + 1/(C-1)| over class-mean pairs"},
    {"nc2_equiangular_weights", "NC2 equiangularity: mean |cos + 1/(C-1)| over classifier-row pairs"},
    {"nc3", "NC3 self-duality: ||W^T/||W|| - M/||M|| ||_F^2 (centred means M)"},
    {"nc4", "NC4: share of samples where the network and the nearest class mean disagree"},
    {"within_class_trace", "tr(Sw): within-class feature variability"},
    {"nc_error", "error of the network on the collapse probe's samples"},
    {"nc_margin", "mean logit margin z_y - max_{c != y} z_c on the collapse probe's samples"},
    {"perturbed_loss", "training loss at a perturbed theta (sharpness probes)"},
    {"sharp_worst", "worst-case sharpness: max loss increase in an L2 ball of radius rho (SAM)"},
    {"sharp_adaptive", "adaptive worst-case sharpness (ASAM, Kwon et al. 2021)"},
    {"sharp_average", "average sharpness: mean loss increase under Gaussian perturbations"},
    {"eos_threshold", "edge of stability: 2/lr, lr of the update after the probe step (probes)"},
    {"eos_threshold_momentum", "edge of stability with heavy-ball momentum beta: (2+2 beta)/lr"},
    {"eos_ratio", "lr * lambda_max / 2: 1 at the edge of stability of gradient descent"},
    {"grad_overlap", "share of the probe gradient's squared norm in the top Hessian eigenspace"},
    {"precond_sharpness", "Adam: lambda_max of P^-1 H, P = (1-beta1^t)(sqrt(v_hat)+eps)"},
    {"precond_threshold", "Adam: (2+2 beta1)/((1-beta1) lr), the preconditioned EoS threshold"},
    {"sharp_sam", "SAM sharpness: L(theta + rho g/||g||) - L(theta) (sharpness-kind sam)"},
    {"sharp_worst_l2", "worst-case sharpness in an L2 ball, projected ascent (worst-l2)"},
    {"sharp_worst_linf", "worst-case sharpness in an Linf ball, projected ascent (worst-linf)"},
    {"sharp_keskar", "Keskar's epsilon-sharpness, L-BFGS-B in a box (keskar)"},
    {"sharp_flatness", "GAM's first-order flatness rho * max ||grad L|| in the ball (flatness)"},
    {"peak_workspace_bytes", "peak autodiff workspace of the run (all graphs and threads: training, evaluations, probes)"},
    {"probes_skipped", "probes of the step skipped because they failed numerically (a non-finite H v, loss or feature: a run blowing up); the run's message names the first"},
    {"backward_runs", "backward passes (gradient and HVP chunk runs) of the training steps (end of the run)"},
    {NULL, NULL},
};

/* Tables holding per-run rows, for truncation, merge and --force. */
static const char *const run_tables[] = {
    "metrics", "hessian_eigs", "density", "trace", "sharpness", "collapse",
    "landscape_points", "landscape_grids", "trajectories", "checkpoints",
};
#define NRUN_TABLES (sizeof run_tables / sizeof run_tables[0])

/* migrations[v] takes a database from user_version v to v + 1. */
static const char *const migrations[] = {
    "CREATE TABLE experiments(\n"
    "  name TEXT PRIMARY KEY, file TEXT, text TEXT, created REAL, updated REAL);\n"
    "CREATE TABLE runs(\n"
    "  id TEXT PRIMARY KEY, experiment TEXT NOT NULL, grp TEXT NOT NULL,\n"
    "  status TEXT NOT NULL CHECK(status IN ('PENDING','RUNNING','COMPLETED','FAILED',\n"
    "                                        'INTERRUPTED','DIVERGED')),\n"
    "  config TEXT NOT NULL, seed INTEGER NOT NULL, label TEXT, total_steps INTEGER,\n"
    "  step INTEGER NOT NULL DEFAULT 0, message TEXT,\n"
    "  created REAL, started REAL, ended REAL, heartbeat REAL,\n"
    "  owner_host TEXT, owner_pid INTEGER,\n"
    "  version TEXT, git TEXT, compiler TEXT, cpu TEXT, host TEXT, blas TEXT,\n"
    "  threads INTEGER, cmdline TEXT);\n"
    "CREATE INDEX runs_experiment ON runs(experiment);\n"
    "CREATE TABLE experiment_runs(experiment TEXT NOT NULL, run TEXT NOT NULL,\n"
    "  PRIMARY KEY(experiment, run));\n"
    "CREATE TABLE params(run TEXT NOT NULL, key TEXT NOT NULL, text TEXT NOT NULL, num REAL,\n"
    "  PRIMARY KEY(run, key));\n"
    "CREATE TABLE metric_keys(key TEXT PRIMARY KEY, meaning TEXT NOT NULL);\n"
    "CREATE TABLE metrics(run TEXT NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL,\n"
    "  epoch REAL, value REAL, wall REAL, UNIQUE(run, key, step));\n"
    "CREATE TABLE hessian_eigs(run TEXT NOT NULL, step INTEGER NOT NULL, method TEXT NOT NULL,\n"
    "  k INTEGER NOT NULL, value REAL, PRIMARY KEY(run, step, method, k));\n"
    "CREATE TABLE density(run TEXT NOT NULL, step INTEGER NOT NULL, k INTEGER NOT NULL,\n"
    "  node REAL, weight REAL, PRIMARY KEY(run, step, k));\n"
    "CREATE TABLE trace(run TEXT NOT NULL, step INTEGER NOT NULL, estimate REAL,\n"
    "  stderr REAL, samples INTEGER, PRIMARY KEY(run, step));\n"
    "CREATE TABLE sharpness(run TEXT NOT NULL, step INTEGER NOT NULL, kind TEXT NOT NULL,\n"
    "  rho REAL NOT NULL, value REAL, PRIMARY KEY(run, step, kind, rho));\n"
    "CREATE TABLE collapse(run TEXT NOT NULL, step INTEGER NOT NULL, split TEXT NOT NULL,\n"
    "  nc1 REAL, nc2 REAL, nc3 REAL, nc4 REAL, PRIMARY KEY(run, step, split));\n"
    "CREATE TABLE landscape_grids(run TEXT NOT NULL, grid INTEGER NOT NULL, step INTEGER,\n"
    "  split TEXT, dir_seed INTEGER, normalization TEXT, x0 REAL, x1 REAL, nx INTEGER,\n"
    "  y0 REAL, y1 REAL, ny INTEGER, PRIMARY KEY(run, grid));\n"
    "CREATE TABLE landscape_points(run TEXT NOT NULL, grid INTEGER NOT NULL, i INTEGER NOT NULL,\n"
    "  j INTEGER NOT NULL, alpha REAL, beta REAL, loss REAL, acc REAL,\n"
    "  PRIMARY KEY(run, grid, i, j));\n"
    "CREATE TABLE trajectories(run TEXT NOT NULL, basis TEXT NOT NULL, step INTEGER NOT NULL,\n"
    "  x REAL, y REAL, loss REAL, PRIMARY KEY(run, basis, step));\n"
    "CREATE TABLE checkpoints(run TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL CHECK(kind IN ('resume','snapshot')), step INTEGER NOT NULL,\n"
    "  epoch REAL, n INTEGER, theta BLOB, opt_state BLOB, aux BLOB, wall REAL,\n"
    "  PRIMARY KEY(run, kind, step));\n"
    "CREATE VIEW metrics_latest AS\n"
    "  SELECT m.run, m.key, m.step, m.epoch, m.value FROM metrics m\n"
    "  JOIN (SELECT run, key, MAX(step) AS step FROM metrics GROUP BY run, key) l\n"
    "  USING (run, key, step);\n"
    "CREATE VIEW params_long AS\n"
    "  SELECT r.id AS run, r.experiment, r.status, r.seed, p.key, p.text, p.num\n"
    "  FROM runs r JOIN params p ON p.run = r.id;\n"
    "CREATE VIEW final_by_seed AS\n"
    "  WITH f AS (SELECT er.experiment, r.grp, l.key, l.value AS v\n"
    "             FROM experiment_runs er JOIN runs r ON r.id = er.run\n"
    "             JOIN metrics_latest l ON l.run = r.id WHERE r.status = 'COMPLETED'),\n"
    "       g AS (SELECT experiment, grp, key, COUNT(*) AS n, AVG(v) AS mean FROM f\n"
    "             GROUP BY experiment, grp, key)\n"
    "  SELECT g.experiment, g.grp, g.key, g.n, g.mean,\n"
    "         CASE WHEN g.n > 1 THEN sqrt(SUM((f.v - g.mean) * (f.v - g.mean)) / (g.n - 1))\n"
    "         END AS std\n"
    "  FROM g JOIN f USING (experiment, grp, key) GROUP BY g.experiment, g.grp, g.key;\n"
    "CREATE VIEW runs_wide AS SELECT id AS run, experiment, status, seed FROM runs;\n",
    /* 1 -> 2: a landscape grid's full specification (basin landscape --db) */
    "ALTER TABLE landscape_grids ADD COLUMN axes TEXT;\n"
    "ALTER TABLE landscape_grids ADD COLUMN ignore_biasbn INTEGER;\n"
    "ALTER TABLE landscape_grids ADD COLUMN samples INTEGER;\n"
    "ALTER TABLE landscape_grids ADD COLUMN subset TEXT;\n",
    /* 2 -> 3: trajectory PCA axes (basin landscape --axes pca): the explained-variance
     * ratios of the grid's two principal directions, and the grid a projected
     * trajectory belongs to */
    "ALTER TABLE landscape_grids ADD COLUMN pca_explained1 REAL;\n"
    "ALTER TABLE landscape_grids ADD COLUMN pca_explained2 REAL;\n"
    "ALTER TABLE trajectories ADD COLUMN grid INTEGER;\n",
    /* 3 -> 4: the owner's token, drawn at each claim and checked inside every write
     * of the owner, so that a process whose run was taken over writes nothing more */
    "ALTER TABLE runs ADD COLUMN owner_token TEXT;\n",
};
_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION,
               "one migration per schema version");

enum { ROW_METRIC, ROW_TRAJ };

typedef struct row {
    int type;
    char run[65];
    char key[24];         /* metric key or trajectory basis */
    long step;
    double epoch, a, b, c, wall;
} row;

#define NBUF 4096
#define BUSY_MS 60000   /* how long a connection waits for another's lock */

/* The heartbeat of a claimed run: a thread with its own connection that refreshes
 * runs.heartbeat every STORE_HEARTBEAT_S while the owner's token is still the run's,
 * however long a step, probe or evaluation of the owner takes. */
typedef struct beat {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, quit;
    char run[65], token[33];   /* "" while no run is claimed */
    atomic_int lost;           /* the thread found another token on its run */
} beat;

struct store {
    sqlite3 *db;
    char path[1024];
    sqlite3_stmt *ins_metric, *ins_traj, *heartbeat;
    row *buf;   /* (NBUF) */
    size_t nbuf;
    /* the file this connection writes: device and inode of the database and, once
     * seen, of its -wal file, checked at every write transaction */
    int have_id, have_wal;
    dev_t dev, wal_dev;
    ino_t ino, wal_ino;
    /* the run this process owns (claim[0] = 0: none) and its token */
    char claim[65], token[33];
    int lost;                  /* the claim was lost: nothing more is written for it */
    beat hb;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Record the connection's last error for an rc that is not OK. */
static int db_err(store *s, int rc, const char *what, err *e)
{
    /* ERR_SYS for what the system did (memory, I/O, a full disk, a file that cannot be
     * opened or written, a lock another process held past the busy timeout: README's
     * exit status 3), ERR_DATA for what the file holds. */
    int prim = rc & 0xff;
    int sys = prim == SQLITE_NOMEM || prim == SQLITE_IOERR || prim == SQLITE_FULL
              || prim == SQLITE_CANTOPEN || prim == SQLITE_READONLY || prim == SQLITE_BUSY;
    return err_set(e, sys ? ERR_SYS : ERR_DATA, "%s: %s: %s%s (sqlite rc %d)", s->path, what,
                   sqlite3_errmsg(s->db), prim == SQLITE_CANTOPEN ? " (readers and writers "
                   "alike need its directory writable, for the -wal and -shm files)" : "", rc);
}

static int exec(store *s, const char *sql, err *e)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_err(s, rc, sql, e);
}

static int prep(store *s, const char *sql, sqlite3_stmt **st, err *e)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : db_err(s, rc, "prepare", e);
}

/* Step a statement expected to finish (INSERT/UPDATE/DELETE) and reset it. */
static int done(store *s, sqlite3_stmt *st, err *e)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_err(s, rc, "write", e);
}

/* Whether the database (and its -wal file, once it had one) at s->path is still the
 * file this connection writes: a file deleted, moved or replaced under a running
 * process would take every later row with it. The first call records the identity. */
static int same_file(store *s, err *e)
{
    struct stat a, w;
    int gone = stat(s->path, &a) != 0;
    if (gone || (s->have_id && (a.st_dev != s->dev || a.st_ino != s->ino)))
        return err_set(e, ERR_SYS, "%s: the database file was %s while basin was writing it; "
                       "nothing more is written (what it held is wherever the file went)",
                       s->path, gone ? "deleted or moved" : "replaced");
    char wal[1100];
    snprintf(wal, sizeof wal, "%s-wal", s->path);
    int has_wal = stat(wal, &w) == 0;
    if (s->have_wal && (!has_wal || w.st_dev != s->wal_dev || w.st_ino != s->wal_ino))
        return err_set(e, ERR_SYS, "%s: its -wal file was %s while basin was writing the "
                       "database, with the latest transactions in it; nothing more is written",
                       s->path, has_wal ? "replaced" : "deleted");
    if (!s->have_id)
        s->have_id = 1, s->dev = a.st_dev, s->ino = a.st_ino;
    if (has_wal && !s->have_wal)
        s->have_wal = 1, s->wal_dev = w.st_dev, s->wal_ino = w.st_ino;
    return 0;
}

/* The stale limit: STORE_STALE_S, or BASIN_STALE_S seconds when that is set to a
 * positive number (tests of takeovers). */
static double stale_s(void)
{
    const char *v = getenv("BASIN_STALE_S");
    char *end;
    double x = v ? strtod(v, &end) : 0;
    return v && *v && !*end && x > 0 && isfinite(x) ? x : STORE_STALE_S;
}

static void beat_stop(store *s);

/* Inside a write transaction of the owner of s->claim: the run still carries this
 * process's token. When it does not (another process took the run over while this
 * one was stopped past STORE_STALE_S), the claim is lost, for good: the buffered rows
 * are dropped, the heartbeat stops, and this and every later write fails, naming the
 * new owner, until the claim is released. */
static int still_owner(store *s, err *e)
{
    if (!s->claim[0])
        return 0;
    if (s->lost)
        return err_set(e, ERR_SYS, "%s: run %.12s was taken over by another process; this "
                       "process writes nothing more for it", s->path, s->claim);
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT COALESCE(owner_token, ''), COALESCE(owner_host, ''), "
                     "COALESCE(owner_pid, 0), status FROM runs WHERE id = ?", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, s->claim, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW && strcmp(store_text(st, 0), s->token) != 0) {
        rc = err_set(e, ERR_SYS, "%s: run %.12s was taken over by pid %lld on %s (status %s) "
                     "while this process was stopped past the %g s stale limit; this "
                     "process writes nothing more for it", s->path, s->claim,
                     (long long)sqlite3_column_int64(st, 2), store_text(st, 1),
                     store_text(st, 3), stale_s());
        s->lost = 1;
    } else if (r != SQLITE_ROW) {
        rc = r == SQLITE_DONE ? err_set(e, ERR_SYS, "%s: run %.12s is gone from the database",
                                        s->path, s->claim)
                              : db_err(s, r, "ownership check", e);
        s->lost = r == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (s->lost) {
        s->nbuf = 0;
        beat_stop(s);
    }
    return rc;
}

/* BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so
 * a transaction never fails half-way on a lock another writer holds. Every write
 * transaction then checks, under that lock, that the file is still this
 * connection's and that the run it owns is still its own (rolled back otherwise). */
static int begin(store *s, err *e)
{
    int rc = exec(s, "BEGIN IMMEDIATE", e);
    rc = rc ? rc : same_file(s, e);
    rc = rc ? rc : still_owner(s, e);
    if (rc && sqlite3_get_autocommit(s->db) == 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* COMMIT when rc is 0, else ROLLBACK (keeping the first error). */
static int end(store *s, int rc, err *e)
{
    if (rc) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return exec(s, "COMMIT", e);
}

static int user_version(store *s, int *v, err *e)
{
    sqlite3_stmt *st;
    int rc = prep(s, "PRAGMA user_version", &st, e);
    if (rc)
        return rc;
    rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_err(s, rc, "PRAGMA user_version", e);
}

/* Refuse a schema version v this basin cannot work with: a newer one, a negative one,
 * and 0 on a file with tables (a foreign database, never adopted). */
static int known_version(store *s, int v, err *e)
{
    if (v > STORE_SCHEMA_VERSION)
        return err_set(e, ERR_DATA, "%s: schema version %d is newer than this basin's (%d); "
                       "use a newer basin", s->path, v, STORE_SCHEMA_VERSION);
    if (v < 0)
        return err_set(e, ERR_DATA, "%s: not a basin database (schema version %d)", s->path, v);
    int rc = 0;
    if (v == 0) {
        sqlite3_stmt *st;
        rc = prep(s, "SELECT count(*) FROM sqlite_master", &st, e);
        if (!rc && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0)
            rc = err_set(e, ERR_DATA, "%s: not a basin database (it has tables but no "
                         "basin schema version)", s->path);
        sqlite3_finalize(st);
    }
    return rc;
}

/* Bring the schema to STORE_SCHEMA_VERSION inside one BEGIN IMMEDIATE. */
static int migrate(store *s, err *e)
{
    int v, rc = begin(s, e);
    if (rc)
        return rc;
    rc = user_version(s, &v, e);
    rc = rc ? rc : known_version(s, v, e);
    for (; !rc && v < STORE_SCHEMA_VERSION; v++) {
        char sql[64];
        rc = exec(s, migrations[v], e);
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        rc = rc ? rc : exec(s, sql, e);
    }
    sqlite3_stmt *st = NULL;
    rc = rc ? rc : prep(s, "INSERT OR IGNORE INTO metric_keys VALUES (?, ?)", &st, e);
    for (int k = 0; !rc && store_metric_keys[k][0]; k++) {
        sqlite3_bind_text(st, 1, store_metric_keys[k][0], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, store_metric_keys[k][1], -1, SQLITE_STATIC);
        rc = done(s, st, e);
    }
    sqlite3_finalize(st);
    return end(s, rc, e);
}

/* A store struct for `path` with its connection opened with `flags`. */
static int open_conn(const char *path, int flags, store **out, err *e)
{
    *out = NULL;
    store *s = err_calloc(e, 1, sizeof *s);
    if (!s)
        return ERR_SYS;
    snprintf(s->path, sizeof s->path, "%s", path);
    if (!(s->buf = err_malloc(e, NBUF * sizeof *s->buf))) {
        free(s);
        return ERR_SYS;
    }
    *out = s;
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK)
        return err_set(e, ERR_SYS, "%s: cannot open: %s", path,
                       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    sqlite3_busy_timeout(s->db, BUSY_MS);
    return 0;
}

/* `path` as an SQLite URI of a file nothing can change: file:PATH?immutable=1, the
 * path percent-encoded where URIs need it. ERR_SYS when it does not fit. */
static int immutable_uri(const char *path, char *uri, size_t cap, err *e)
{
    size_t k = (size_t)snprintf(uri, cap, "file:");
    for (const unsigned char *c = (const unsigned char *)path; *c && k + 4 < cap; c++)
        k += (size_t)(*c == '%' || *c == '?' || *c == '#' || *c < 0x20 || *c >= 0x7f
                          ? snprintf(uri + k, cap - k, "%%%02X", *c)
                          : snprintf(uri + k, cap - k, "%c", *c));
    if (k + sizeof "?immutable=1" > cap)
        return err_set(e, ERR_SYS, "%s: path too long to open read-only", path);
    memcpy(uri + k, "?immutable=1", sizeof "?immutable=1");
    return 0;
}

/* Whether neither the file at `path` nor its directory can be written: a read-only
 * medium or permissions, where no writer can exist and a WAL database's -shm file
 * cannot be created. */
static int unwritable(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir] = 0;
    return access(path, W_OK) != 0 && access(dir, W_OK) != 0;
}

int store_open_read(const char *path, store **out, err *e)
{
    int v = 0, rc = open_conn(path, SQLITE_OPEN_READONLY, out, e);
    store *s = *out;
    rc = rc ? rc : user_version(s, &v, e);
    if (rc == ERR_SYS && unwritable(path)) {
        /* SQLite cannot read a WAL database whose -shm it cannot create, unless told
         * that nothing changes it: true here, since nothing can write it. */
        char uri[3200];
        store_close(s);
        *out = s = NULL;
        rc = immutable_uri(path, uri, sizeof uri, e);
        rc = rc ? rc : open_conn(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, out, e);
        s = *out;
        if (s)
            snprintf(s->path, sizeof s->path, "%s", path);
        rc = rc ? rc : user_version(s, &v, e);
    }
    rc = rc ? rc : known_version(s, v, e);
    if (!rc && v == 0)
        rc = err_set(e, ERR_DATA, "%s: not a basin database (an empty file)", path);
    else if (!rc && v < STORE_SCHEMA_VERSION)
        rc = err_set(e, ERR_DATA, "%s: schema version %d is older than this basin's (%d) and "
                     "this command only reads; a command that writes migrates it in place "
                     "(basin merge %s)", path, v, STORE_SCHEMA_VERSION, path);
    if (rc) {
        store_close(s);
        *out = NULL;
    }
    return rc;
}

int store_open(const char *path, store **out, err *e)
{
    int rc = open_conn(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, out, e);
    store *s = *out;
    if (rc)
        goto fail;
    /* journal_mode returns the mode now in force; anything but wal is an error
     * (e.g. a file on a filesystem without shared memory). Switching a database that is
     * not yet in WAL mode (a new or empty file) reads its header, then writes it: when
     * another connection took the write lock in between (two runners creating one
     * database), SQLite answers SQLITE_BUSY at once, without the busy handler, to avoid
     * a deadlock. The read lock is gone by then, so the step is retried, for as long as
     * the busy timeout. */
    sqlite3_stmt *st;
    if ((rc = prep(s, "PRAGMA journal_mode = WAL", &st, e)))
        goto fail;
    for (int waited = 0; (rc = sqlite3_step(st)) == SQLITE_BUSY && waited < BUSY_MS; waited += 10) {
        sqlite3_reset(st);
        sqlite3_sleep(10);
    }
    int wal = rc == SQLITE_ROW && strcmp(store_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        rc = rc == SQLITE_ROW ? err_set(e, ERR_SYS, "%s: cannot switch to WAL mode", path)
                              : db_err(s, rc, "PRAGMA journal_mode", e);
        goto fail;
    }
    /* NORMAL is durable across process crashes in WAL mode (only power loss may drop
     * the last transactions), and avoids an fsync per metric flush. */
    if ((rc = exec(s, "PRAGMA synchronous = NORMAL", e)) || (rc = migrate(s, e)))
        goto fail;
    if ((rc = prep(s, "INSERT OR REPLACE INTO metrics(run, key, step, epoch, value, wall) "
                      "VALUES (?, ?, ?, ?, ?, ?)", &s->ins_metric, e))
        || (rc = prep(s, "INSERT OR REPLACE INTO trajectories(run, basis, step, x, y, loss) "
                         "VALUES (?, ?, ?, ?, ?, ?)", &s->ins_traj, e))
        || (rc = prep(s, "UPDATE runs SET heartbeat = ?, step = ? WHERE id = ?",
                      &s->heartbeat, e)))
        goto fail;
    return 0;
fail:
    store_close(s);
    *out = NULL;
    return rc;
}

void store_close(store *s)
{
    if (!s)
        return;
    if (s->hb.started) {
        pthread_mutex_lock(&s->hb.mu);
        s->hb.quit = 1;
        pthread_cond_signal(&s->hb.cv);
        pthread_mutex_unlock(&s->hb.mu);
        pthread_join(s->hb.th, NULL);
        pthread_cond_destroy(&s->hb.cv);
        pthread_mutex_destroy(&s->hb.mu);
    }
    if (s->db && s->ins_metric && !s->lost)
        store_flush(s, NULL);
    sqlite3_finalize(s->ins_metric);
    sqlite3_finalize(s->ins_traj);
    sqlite3_finalize(s->heartbeat);
    sqlite3_close(s->db);
    free(s->buf);
    free(s);
}

const char *store_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

sqlite3 *store_db(store *s)
{
    return s->db;
}

int store_experiment_put(store *s, const char *name, const char *file, const char *text, err *e)
{
    sqlite3_stmt *st;
    int rc = prep(s, "INSERT INTO experiments VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT(name) "
                     "DO UPDATE SET file = ?2, text = ?3, updated = ?4", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, file, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, now());
    rc = begin(s, e);
    rc = rc ? rc : end(s, done(s, st, e), e);
    sqlite3_finalize(st);
    return rc;
}

static void quote_ident(char *dst, size_t cap, const char *name)
{
    size_t k = 0;
    dst[k++] = '"';
    for (const char *p = name; *p && k + 3 < cap; p++) {
        if (*p == '"')
            dst[k++] = '"';
        dst[k++] = *p;
    }
    dst[k++] = '"';
    dst[k] = 0;
}

/* runs_wide: one row per run, one column per parameter key. SQLite has no dynamic
 * pivot, so the view is regenerated whenever the set of keys changes. Runs inside
 * the caller's transaction. */
static int views_refresh(store *s, err *e)
{
    size_t cap = 4096;
    char *sql = err_malloc(e, cap);
    if (!sql)
        return ERR_SYS;
    size_t len = (size_t)snprintf(sql, cap, "CREATE VIEW runs_wide AS SELECT r.id AS run, "
                                  "r.experiment, r.status, r.seed");
    sqlite3_stmt *st;
    int r = SQLITE_DONE, rc = prep(s, "SELECT DISTINCT key FROM params ORDER BY key", &st, e);
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = store_text(st, 0);
        char q[256], lit[256];
        quote_ident(q, sizeof q, k);
        size_t j = 0;   /* the key as an SQL string literal */
        lit[j++] = '\'';
        for (const char *p = k; *p && j + 3 < sizeof lit; p++) {
            if (*p == '\'')
                lit[j++] = '\'';
            lit[j++] = *p;
        }
        lit[j++] = '\'';
        lit[j] = 0;
        if (len + 1024 > cap) {   /* one column takes < 600 bytes, the tail < 100 */
            char *p = realloc(sql, cap *= 2);
            if (!p) {
                rc = err_set(e, ERR_SYS, "out of memory");
                break;
            }
            sql = p;
        }
        len += (size_t)snprintf(sql + len, cap - len, ", MAX(CASE WHEN p.key = %s THEN "
                                "COALESCE(p.num, p.text) END) AS %s", lit, q);
    }
    if (!rc && r != SQLITE_DONE)
        rc = db_err(s, r, "parameter keys", e);
    sqlite3_finalize(st);
    snprintf(sql + len, cap - len, " FROM runs r LEFT JOIN params p ON p.run = r.id GROUP BY r.id");
    int same = 0;
    if (!rc && !(rc = prep(s, "SELECT sql FROM sqlite_master WHERE name = 'runs_wide'", &st, e))) {
        if (sqlite3_step(st) == SQLITE_ROW)
            same = strcmp(store_text(st, 0), sql) == 0;
        sqlite3_finalize(st);
    }
    if (!rc && !same && !(rc = exec(s, "DROP VIEW IF EXISTS runs_wide", e)))
        rc = exec(s, sql, e);
    free(sql);
    return rc;
}

/* A whole finite number: also stored numerically. */
static int numeric(const char *t, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(t, &end);
    return *t && !*end && !errno && isfinite(*v);
}

int store_runs_register(store *s, const store_run *runs, size_t n, err *e)
{
    sqlite3_stmt *ir = NULL, *im = NULL, *ip = NULL;
    int rc = prep(s, "INSERT OR IGNORE INTO runs(id, experiment, grp, status, config, seed, "
                     "label, total_steps, created) VALUES (?, ?, ?, 'PENDING', ?, ?, ?, ?, ?)",
                  &ir, e);
    rc = rc ? rc : prep(s, "INSERT OR IGNORE INTO experiment_runs VALUES (?, ?)", &im, e);
    rc = rc ? rc : prep(s, "INSERT OR IGNORE INTO params VALUES (?, ?, ?, ?)", &ip, e);
    rc = rc ? rc : begin(s, e);
    if (rc)
        goto out;
    double t = now();
    for (size_t i = 0; !rc && i < n; i++) {
        const store_run *r = &runs[i];
        sqlite3_bind_text(ir, 1, r->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ir, 2, r->experiment, -1, SQLITE_STATIC);
        sqlite3_bind_text(ir, 3, r->grp, -1, SQLITE_STATIC);
        sqlite3_bind_text(ir, 4, r->config, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ir, 5, (sqlite3_int64)r->seed);
        sqlite3_bind_text(ir, 6, r->label, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ir, 7, r->total_steps);
        sqlite3_bind_double(ir, 8, t);
        rc = done(s, ir, e);
        sqlite3_bind_text(im, 1, r->experiment, -1, SQLITE_STATIC);
        sqlite3_bind_text(im, 2, r->id, -1, SQLITE_STATIC);
        rc = rc ? rc : done(s, im, e);
        for (int k = 0; !rc && k < r->nparams; k++) {
            double v;
            sqlite3_bind_text(ip, 1, r->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(ip, 2, r->keys[k], -1, SQLITE_STATIC);
            sqlite3_bind_text(ip, 3, r->vals[k], -1, SQLITE_STATIC);
            if (numeric(r->vals[k], &v))
                sqlite3_bind_double(ip, 4, v);
            else
                sqlite3_bind_null(ip, 4);
            rc = done(s, ip, e);
        }
    }
    rc = rc ? rc : views_refresh(s, e);
    rc = end(s, rc, e);
out:
    sqlite3_finalize(ir);
    sqlite3_finalize(im);
    sqlite3_finalize(ip);
    return rc;
}

int store_run_status(store *s, const char *id, char *status, char *version, err *e)
{
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT status, COALESCE(version, '') FROM runs WHERE id = ?", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    status[0] = version[0] = 0;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(status, 16, "%s", store_text(st, 0));
        snprintf(version, 64, "%s", store_text(st, 1));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_err(s, rc, "run status", e);
}

/* Delete every row of run `id` with step > `step` (all rows for step < 0). Inside the
 * caller's transaction. */
static int truncate_rows(store *s, const char *id, long step, err *e)
{
    int rc = 0;
    for (size_t t = 0; !rc && t < NRUN_TABLES; t++) {
        char sql[256];
        const char *tb = run_tables[t];
        if (step < 0)
            snprintf(sql, sizeof sql, "DELETE FROM %s WHERE run = ?1", tb);
        else if (strcmp(tb, "landscape_points") == 0)
            snprintf(sql, sizeof sql, "DELETE FROM landscape_points WHERE run = ?1 AND grid IN "
                     "(SELECT grid FROM landscape_grids WHERE run = ?1 AND step > ?2)");
        else if (strcmp(tb, "checkpoints") == 0)
            snprintf(sql, sizeof sql, "DELETE FROM checkpoints WHERE run = ?1 AND step > ?2 "
                     "AND kind = 'snapshot'");
        else
            snprintf(sql, sizeof sql, "DELETE FROM %s WHERE run = ?1 AND step > ?2", tb);
        sqlite3_stmt *st;
        if ((rc = prep(s, sql, &st, e)))
            break;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (step >= 0)
            sqlite3_bind_int64(st, 2, step);
        rc = done(s, st, e);
        sqlite3_finalize(st);
    }
    return rc;
}

/* Whether process pid of this host has ended: no such process, or a zombie (killed,
 * not yet reaped by its parent: kill(pid, 0) still succeeds on it). */
static int pid_dead(long pid)
{
    if (kill((pid_t)pid, 0) != 0)
        return errno == ESRCH;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    const char *paren = strrchr(buf, ')');   /* "pid (comm) S ...": comm may hold ')' */
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static int owner_gone(const char *host, long pid, double heartbeat)
{
    char me[256] = "";
    gethostname(me, sizeof me - 1);
    if (now() - heartbeat > stale_s())
        return 1;
    return strcmp(host, me) == 0 && pid > 0 && pid_dead(pid);
}

/* A fresh owner token: 128 random bits in hex. */
static void new_token(char token[33])
{
    unsigned char b[16] = {0};
    int fd = open("/dev/urandom", O_RDONLY);
    ssize_t got = fd >= 0 ? read(fd, b, sizeof b) : -1;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)sizeof b) {   /* no urandom: the clock, the pid and a counter */
        static unsigned long count;
        unsigned long long x = (unsigned long long)(now() * 1e9) ^ ((unsigned long long)getpid() << 40)
                               ^ ++count;
        for (int i = 0; i < 16; i++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
            b[i] ^= (unsigned char)(x >> 56);
    }
    for (int i = 0; i < 16; i++)
        snprintf(token + 2 * i, 3, "%02x", b[i]);
}

/* The heartbeat thread (struct beat): every STORE_HEARTBEAT_S, heartbeat = now on the
 * claimed run where the token is still ours; another token there sets hb.lost. Its
 * own connection; signals are left to the process's other threads. */
static void *beat_main(void *arg)
{
    store *s = arg;
    beat *b = &s->hb;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, BUSY_MS);
        sqlite3_prepare_v2(db, "UPDATE runs SET heartbeat = ? WHERE id = ? AND owner_token = ?",
                           -1, &st, NULL);
    }
    double every = fmin(STORE_HEARTBEAT_S, stale_s() / 5);
    pthread_mutex_lock(&b->mu);
    while (!b->quit) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        double ns = (double)t.tv_nsec + 1e9 * every;
        t.tv_sec += (time_t)(ns / 1e9);
        t.tv_nsec = (long)fmod(ns, 1e9);
        pthread_cond_timedwait(&b->cv, &b->mu, &t);
        if (b->quit || !b->run[0] || !st)
            continue;
        char run[65], token[33];
        memcpy(run, b->run, sizeof run);
        memcpy(token, b->token, sizeof token);
        pthread_mutex_unlock(&b->mu);
        sqlite3_bind_double(st, 1, now());
        sqlite3_bind_text(st, 2, run, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, token, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) == 0)
            atomic_store(&b->lost, 1);
        sqlite3_reset(st);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return NULL;
}

/* Start beating for s->claim (the thread itself on the first claim). */
static int claim_beat(store *s, err *e)
{
    beat *b = &s->hb;
    if (!b->started) {
        pthread_mutex_init(&b->mu, NULL);
        pthread_cond_init(&b->cv, NULL);
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int rc = pthread_create(&b->th, NULL, beat_main, s);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) {
            pthread_cond_destroy(&b->cv);
            pthread_mutex_destroy(&b->mu);
            return err_set(e, ERR_SYS, "%s: cannot start the heartbeat thread: %s", s->path,
                           strerror(rc));
        }
        b->started = 1;
    }
    pthread_mutex_lock(&b->mu);
    memcpy(b->run, s->claim, sizeof b->run);
    memcpy(b->token, s->token, sizeof b->token);
    atomic_store(&b->lost, 0);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

/* Stop heartbeating (the thread stays, idle). */
static void beat_stop(store *s)
{
    if (!s->hb.started)
        return;
    pthread_mutex_lock(&s->hb.mu);
    s->hb.run[0] = 0;
    pthread_mutex_unlock(&s->hb.mu);
}

/* This process no longer owns s->claim. */
static void claim_release(store *s)
{
    s->claim[0] = 0;
    s->lost = 0;
    beat_stop(s);
}

int store_run_release(store *s)
{
    int lost = store_claim_lost(s);
    claim_release(s);
    return lost;
}

int store_claim_lost(store *s)
{
    return s->lost || (s->claim[0] && atomic_load(&s->hb.lost));
}

int store_run_claim(store *s, const char *id, const store_prov *p, int force, int *result,
                    err *e)
{
    sqlite3_stmt *q = NULL, *u = NULL;
    claim_release(s);   /* one claim at a time */
    int rc = begin(s, e);
    if (rc)
        return rc;
    rc = prep(s, "SELECT status, COALESCE(owner_host, ''), COALESCE(owner_pid, 0), "
                 "COALESCE(heartbeat, 0) FROM runs WHERE id = ?", &q, e);
    if (!rc) {
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        int r = sqlite3_step(q);
        if (r != SQLITE_ROW)
            rc = r == SQLITE_DONE ? err_set(e, ERR_DATA, "%s: run %.12s is not registered",
                                            s->path, id)
                                  : db_err(s, r, "claim", e);
    }
    *result = STORE_CLAIMED;
    char token[33];
    new_token(token);
    if (!rc) {
        const char *st = store_text(q, 0);
        int final = !strcmp(st, STORE_COMPLETED) || !strcmp(st, STORE_DIVERGED);
        if (final && !force)
            *result = STORE_SKIP_DONE;
        else if (strcmp(st, STORE_RUNNING) == 0
                 && !owner_gone(store_text(q, 1),
                                (long)sqlite3_column_int64(q, 2), sqlite3_column_double(q, 3)))
            *result = STORE_SKIP_BUSY;
        else if (final)
            rc = truncate_rows(s, id, -1, e);
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (!rc && *result == STORE_CLAIMED)
        rc = prep(s, "UPDATE runs SET status = 'RUNNING', message = NULL, ended = NULL, "
                     "started = COALESCE(started, ?1), heartbeat = ?1, owner_host = ?2, "
                     "owner_pid = ?3, version = ?4, git = ?5, compiler = ?6, cpu = ?7, "
                     "host = ?2, blas = ?8, threads = ?9, cmdline = ?10, owner_token = ?12 "
                     "WHERE id = ?11", &u, e);
    if (!rc && *result == STORE_CLAIMED) {
        sqlite3_bind_double(u, 1, now());
        sqlite3_bind_text(u, 2, host, -1, SQLITE_STATIC);
        sqlite3_bind_int64(u, 3, (sqlite3_int64)getpid());
        const char *txt[] = {p->version, p->git, p->compiler, p->cpu, p->blas};
        const int col[] = {4, 5, 6, 7, 8};
        for (int k = 0; k < 5; k++)
            sqlite3_bind_text(u, col[k], txt[k], -1, SQLITE_STATIC);
        sqlite3_bind_int(u, 9, p->threads);
        sqlite3_bind_text(u, 10, p->cmdline, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 11, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 12, token, -1, SQLITE_STATIC);
        rc = done(s, u, e);
    }
    sqlite3_finalize(q);
    sqlite3_finalize(u);
    rc = end(s, rc, e);
    if (!rc && *result == STORE_CLAIMED) {
        snprintf(s->claim, sizeof s->claim, "%s", id);
        memcpy(s->token, token, sizeof token);
        rc = claim_beat(s, e);
    }
    return rc;
}

/* Write the buffered rows; inside the caller's transaction. */
static int write_rows(store *s, err *e)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < s->nbuf; i++) {
        const row *r = &s->buf[i];
        sqlite3_stmt *st = r->type == ROW_METRIC ? s->ins_metric : s->ins_traj;
        sqlite3_bind_text(st, 1, r->run, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, r->step);
        if (r->type == ROW_METRIC) {
            sqlite3_bind_double(st, 4, r->epoch);
            sqlite3_bind_double(st, 5, r->a);
            sqlite3_bind_double(st, 6, r->wall);
        } else {
            sqlite3_bind_double(st, 4, r->a);
            sqlite3_bind_double(st, 5, r->b);
            sqlite3_bind_double(st, 6, r->c);
        }
        rc = done(s, st, e);
    }
    if (!rc)
        s->nbuf = 0;
    return rc;
}

int store_flush(store *s, err *e)
{
    if (!s->nbuf)
        return 0;
    int rc = begin(s, e);
    return rc ? rc : end(s, write_rows(s, e), e);
}

static int buffer(store *s, int type, const char *run, const char *key, long step,
                  double epoch, double a, double b, double c, err *e)
{
    if (s->nbuf == NBUF) {
        int rc = store_flush(s, e);
        if (rc)
            return rc;
    }
    row *r = &s->buf[s->nbuf++];
    *r = (row){.type = type, .step = step, .epoch = epoch, .a = a, .b = b, .c = c,
               .wall = now()};
    snprintf(r->run, sizeof r->run, "%s", run);
    snprintf(r->key, sizeof r->key, "%s", key);
    return 0;
}

int store_metric(store *s, const char *run, const char *key, long step, double epoch,
                 double value, err *e)
{
    for (int k = 0; store_metric_keys[k][0]; k++)
        if (strcmp(key, store_metric_keys[k][0]) == 0)
            return buffer(s, ROW_METRIC, run, key, step, epoch, value, 0, 0, e);
    return err_set(e, ERR_USAGE, "store: unknown metric key '%s' (see results/README.md)", key);
}

int store_traj(store *s, const char *run, const char *basis, long step, double x, double y,
               double loss, err *e)
{
    return buffer(s, ROW_TRAJ, run, basis, step, 0, x, y, loss, e);
}

int store_run_heartbeat(store *s, const char *id, long step, err *e)
{
    sqlite3_bind_double(s->heartbeat, 1, now());
    sqlite3_bind_int64(s->heartbeat, 2, step);
    sqlite3_bind_text(s->heartbeat, 3, id, -1, SQLITE_STATIC);
    int rc = begin(s, e);
    return rc ? rc : end(s, done(s, s->heartbeat, e), e);
}

int store_run_finish(store *s, const char *id, const char *status, const char *msg, err *e)
{
    sqlite3_stmt *st;
    int rc = prep(s, "UPDATE runs SET status = ?, message = ?, ended = ?, heartbeat = ?3 "
                     "WHERE id = ?", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, msg, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, now());
    sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
    rc = begin(s, e);
    if (!rc) {
        rc = write_rows(s, e);
        rc = end(s, rc ? rc : done(s, st, e), e);
    }
    sqlite3_finalize(st);
    if (!rc && strcmp(id, s->claim) == 0)
        claim_release(s);
    return rc;
}

int store_run_resolve(store *s, const char *prefix, char *id, err *e)
{
    size_t len = strlen(prefix);
    if (len < 4 || len > 64 || strspn(prefix, "0123456789abcdef") != len)
        return err_set(e, ERR_USAGE, "run id '%s': give at least 4 lowercase hex digits", prefix);
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT id FROM runs WHERE substr(id, 1, ?2) = ?1 ORDER BY id LIMIT 4",
                  &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)len);
    char seen[4][13];
    int k = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *v = store_text(st, 0);
        if (k == 0)
            snprintf(id, 65, "%s", v);
        snprintf(seen[k++], sizeof seen[0], "%.12s", v);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_err(s, rc, "resolve run id", e);
    if (k == 0)
        return err_set(e, ERR_USAGE, "%s: no run id starts with '%s'", s->path, prefix);
    if (k > 1)
        return err_set(e, ERR_USAGE, "run id '%s' is ambiguous: %s %s%s%s%s", prefix, seen[0],
                       seen[1], k > 2 ? " " : "", k > 2 ? seen[2] : "", k > 3 ? " ..." : "");
    return 0;
}

int store_run_truncate(store *s, const char *run, long step, err *e)
{
    int rc = begin(s, e);
    if (rc)
        return rc;
    rc = write_rows(s, e);
    return end(s, rc ? rc : truncate_rows(s, run, step, e), e);
}

int store_ckpt_put(store *s, const char *run, const char *kind, const store_ckpt *c, err *e)
{
    sqlite3_stmt *del = NULL, *ins = NULL;
    int resume = strcmp(kind, STORE_RESUME) == 0;
    int rc = prep(s, "DELETE FROM checkpoints WHERE run = ? AND kind = 'resume'", &del, e);
    rc = rc ? rc : prep(s, "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        &ins, e);
    if (!rc) {
        sqlite3_bind_text(del, 1, run, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 1, run, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 3, c->step);
        sqlite3_bind_double(ins, 4, c->epoch);
        sqlite3_bind_int64(ins, 5, (sqlite3_int64)c->n);
        sqlite3_bind_blob64(ins, 6, c->theta, c->n * sizeof(double), SQLITE_STATIC);
        if (c->state)
            sqlite3_bind_blob64(ins, 7, c->state, c->nstate * sizeof(double), SQLITE_STATIC);
        if (c->aux)
            sqlite3_bind_blob64(ins, 8, c->aux, c->naux, SQLITE_STATIC);
        sqlite3_bind_double(ins, 9, now());
        rc = begin(s, e);
        if (!rc) {
            rc = write_rows(s, e);
            rc = rc || !resume ? rc : done(s, del, e);
            rc = end(s, rc ? rc : done(s, ins, e), e);
        }
    }
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    return rc;
}

/* Copy a BLOB column into a new buffer (NULL, 0 for NULL). */
static int blob(sqlite3_stmt *st, int col, void **out, size_t *bytes, err *e)
{
    const void *p = sqlite3_column_blob(st, col);
    *bytes = (size_t)sqlite3_column_bytes(st, col);
    *out = NULL;
    if (!p)
        return 0;
    if (!(*out = err_malloc(e, *bytes)))
        return ERR_SYS;
    memcpy(*out, p, *bytes);
    return 0;
}

int store_ckpt_get(store *s, const char *run, const char *kind, long step,
                   store_ckpt_data *c, int *found, err *e)
{
    memset(c, 0, sizeof *c);
    *found = 0;
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT step, epoch, n, theta, opt_state, aux FROM checkpoints "
                     "WHERE run = ?1 AND kind = ?2 AND (?3 < 0 OR step = ?3) "
                     "ORDER BY step DESC LIMIT 1", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, step);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        size_t tb = 0, sb = 0;
        c->step = (long)sqlite3_column_int64(st, 0);
        c->epoch = sqlite3_column_double(st, 1);
        c->n = (size_t)sqlite3_column_int64(st, 2);
        rc = blob(st, 3, (void **)&c->theta, &tb, e);
        rc = rc ? rc : blob(st, 4, (void **)&c->state, &sb, e);
        rc = rc ? rc : blob(st, 5, &c->aux, &c->naux, e);
        c->nstate = sb / sizeof(double);
        if (!rc && (tb != c->n * sizeof(double) || sb % sizeof(double)))
            rc = err_set(e, ERR_DATA, "%s: checkpoint of run %.12s step %ld is corrupt "
                         "(theta %zu bytes for n = %zu)", s->path, run, c->step, tb, c->n);
        *found = !rc;
        if (rc)
            store_ckpt_data_free(c);
    } else if (r != SQLITE_DONE) {
        rc = db_err(s, r, "read checkpoint", e);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_ckpt_steps(store *s, const char *run, const char *kind, long max_step,
                     long **steps, size_t *n, err *e)
{
    *steps = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT step FROM checkpoints WHERE run = ?1 AND kind = ?2 "
                     "AND (?3 < 0 OR step <= ?3) ORDER BY step", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, max_step);
    size_t cap = 0;
    int r = SQLITE_DONE;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            long *grown = realloc(*steps, (cap = cap ? 2 * cap : 16) * sizeof **steps);
            if (!grown) {
                rc = err_set(e, ERR_SYS, "out of memory");
                break;
            }
            *steps = grown;
        }
        (*steps)[(*n)++] = (long)sqlite3_column_int64(st, 0);
    }
    if (!rc && r != SQLITE_DONE)
        rc = db_err(s, r, "list checkpoints", e);
    sqlite3_finalize(st);
    if (rc) {
        free(*steps);
        *steps = NULL;
        *n = 0;
    }
    return rc;
}

void store_ckpt_data_free(store_ckpt_data *c)
{
    free(c->theta);
    free(c->state);
    free(c->aux);
    memset(c, 0, sizeof *c);
}

int store_ckpt_drop_resume(store *s, const char *run, err *e)
{
    sqlite3_stmt *st;
    int rc = prep(s, "DELETE FROM checkpoints WHERE run = ? AND kind = 'resume'", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
    rc = begin(s, e);
    rc = rc ? rc : end(s, done(s, st, e), e);
    sqlite3_finalize(st);
    return rc;
}

/* --- probe tables --- */

/* Prepare `sql` and bind run (?1) and step (?2); the caller binds the rest. */
static int probe_stmt(store *s, const char *sql, const char *run, long step,
                      sqlite3_stmt **st, err *e)
{
    int rc = prep(s, sql, st, e);
    if (!rc) {
        sqlite3_bind_text(*st, 1, run, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(*st, 2, step);
    }
    return rc;
}

/* Execute a prepared one-row statement in its own transaction and finalize it. */
static int put1(store *s, sqlite3_stmt *st, err *e)
{
    int rc = begin(s, e);
    rc = rc ? rc : end(s, done(s, st, e), e);
    sqlite3_finalize(st);
    return rc;
}

/* Inside a put's transaction: delete the rows at (run, step) (and method ?3 when not
 * NULL), so that a put replaces a whole result, not only the rows it rewrites. */
static int clear(store *s, const char *sql, const char *run, long step, const char *method,
                 err *e)
{
    sqlite3_stmt *st;
    int rc = probe_stmt(s, sql, run, step, &st, e);
    if (rc)
        return rc;
    if (method)
        sqlite3_bind_text(st, 3, method, -1, SQLITE_STATIC);
    rc = done(s, st, e);
    sqlite3_finalize(st);
    return rc;
}

int store_eigs_put(store *s, const char *run, long step, const char *method,
                   const double *values, int k, err *e)
{
    sqlite3_stmt *st;
    int rc = probe_stmt(s, "INSERT OR REPLACE INTO hessian_eigs VALUES (?1, ?2, ?3, ?4, ?5)",
                        run, step, &st, e);
    if (rc || (rc = begin(s, e))) {
        sqlite3_finalize(st);
        return rc;
    }
    rc = clear(s, "DELETE FROM hessian_eigs WHERE run = ?1 AND step = ?2 AND method = ?3", run,
               step, method, e);
    for (int i = 0; !rc && i < k; i++) {
        sqlite3_bind_text(st, 3, method, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, i);
        sqlite3_bind_double(st, 5, values[i]);
        rc = done(s, st, e);
    }
    rc = end(s, rc, e);
    sqlite3_finalize(st);
    return rc;
}

int store_density_put(store *s, const char *run, long step, const double *nodes,
                      const double *weights, int k, err *e)
{
    sqlite3_stmt *st;
    int rc = probe_stmt(s, "INSERT OR REPLACE INTO density VALUES (?1, ?2, ?3, ?4, ?5)",
                        run, step, &st, e);
    if (rc || (rc = begin(s, e))) {
        sqlite3_finalize(st);
        return rc;
    }
    rc = clear(s, "DELETE FROM density WHERE run = ?1 AND step = ?2", run, step, NULL, e);
    for (int i = 0; !rc && i < k; i++) {
        sqlite3_bind_int(st, 3, i);
        sqlite3_bind_double(st, 4, nodes[i]);
        sqlite3_bind_double(st, 5, weights[i]);
        rc = done(s, st, e);
    }
    rc = end(s, rc, e);
    sqlite3_finalize(st);
    return rc;
}

int store_trace_put(store *s, const char *run, long step, double estimate, double stderr_,
                    int samples, err *e)
{
    sqlite3_stmt *st;
    int rc = probe_stmt(s, "INSERT OR REPLACE INTO trace VALUES (?1, ?2, ?3, ?4, ?5)", run,
                        step, &st, e);
    if (rc)
        return rc;
    sqlite3_bind_double(st, 3, estimate);
    sqlite3_bind_double(st, 4, stderr_);
    sqlite3_bind_int(st, 5, samples);
    return put1(s, st, e);
}

int store_sharpness_put(store *s, const char *run, long step, const char *kind, double rho,
                        double value, err *e)
{
    sqlite3_stmt *st;
    int rc = probe_stmt(s, "INSERT OR REPLACE INTO sharpness VALUES (?1, ?2, ?3, ?4, ?5)", run,
                        step, &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 4, rho);
    sqlite3_bind_double(st, 5, value);
    return put1(s, st, e);
}

int store_collapse_put(store *s, const char *run, long step, const char *split,
                       const double nc[4], err *e)
{
    sqlite3_stmt *st;
    int rc = probe_stmt(s, "INSERT OR REPLACE INTO collapse VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        run, step, &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 3, split, -1, SQLITE_TRANSIENT);
    for (int k = 0; k < 4; k++)
        sqlite3_bind_double(st, 4 + k, nc[k]);
    return put1(s, st, e);
}

/* Inside store_grid_put's transaction: the grid's projected trajectory (g->ntraj > 0),
 * replacing every pca row of the run. */
static int grid_traj(store *s, const char *run, const store_grid *g, int grid, err *e)
{
    sqlite3_stmt *del = NULL, *ins = NULL;
    int rc = prep(s, "DELETE FROM trajectories WHERE run = ? AND basis = 'pca'", &del, e);
    rc = rc ? rc : prep(s, "INSERT INTO trajectories(run, basis, step, x, y, loss, grid) "
                           "VALUES (?, 'pca', ?, ?, ?, ?, ?)", &ins, e);
    if (!rc) {
        sqlite3_bind_text(del, 1, run, -1, SQLITE_STATIC);
        rc = done(s, del, e);
    }
    for (size_t k = 0; !rc && k < g->ntraj; k++) {
        sqlite3_bind_text(ins, 1, run, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, g->traj_step[k]);
        sqlite3_bind_double(ins, 3, g->traj_x[k]);
        sqlite3_bind_double(ins, 4, g->traj_y[k]);
        sqlite3_bind_double(ins, 5, g->traj_loss[k]);
        sqlite3_bind_int(ins, 6, grid);
        rc = done(s, ins, e);
    }
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    return rc;
}

int store_grid_put(store *s, const char *run, const store_grid *g, const double *loss,
                   const double *acc, int *grid, err *e)
{
    sqlite3_stmt *q = NULL, *ig = NULL, *ip = NULL;
    int rc = prep(s, "SELECT COALESCE(MAX(grid) + 1, 0) FROM landscape_grids WHERE run = ?", &q, e);
    rc = rc ? rc : prep(s, "INSERT INTO landscape_grids(run, grid, step, split, dir_seed, "
                           "normalization, x0, x1, nx, y0, y1, ny, axes, ignore_biasbn, samples, "
                           "subset, pca_explained1, pca_explained2) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                           "?, ?, ?, ?, ?)", &ig, e);
    rc = rc ? rc : prep(s, "INSERT INTO landscape_points VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &ip, e);
    rc = rc ? rc : begin(s, e);
    if (rc)
        goto out;
    sqlite3_bind_text(q, 1, run, -1, SQLITE_STATIC);
    int r = sqlite3_step(q);
    *grid = r == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
    if (r != SQLITE_ROW)
        rc = db_err(s, r, "landscape grid number", e);
    sqlite3_bind_text(ig, 1, run, -1, SQLITE_STATIC);
    sqlite3_bind_int(ig, 2, *grid);
    sqlite3_bind_int64(ig, 3, g->step);
    sqlite3_bind_text(ig, 4, g->split, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ig, 5, (sqlite3_int64)g->dir_seed);
    sqlite3_bind_text(ig, 6, g->normalization, -1, SQLITE_STATIC);
    sqlite3_bind_double(ig, 7, g->x0);
    sqlite3_bind_double(ig, 8, g->x1);
    sqlite3_bind_int(ig, 9, g->nx);
    sqlite3_bind_double(ig, 10, g->y0);
    sqlite3_bind_double(ig, 11, g->y1);
    sqlite3_bind_int(ig, 12, g->ny);
    sqlite3_bind_text(ig, 13, g->axes, -1, SQLITE_STATIC);   /* NULL binds NULL */
    sqlite3_bind_int(ig, 14, g->ignore_biasbn);
    if (g->samples > 0)
        sqlite3_bind_int64(ig, 15, g->samples);
    else
        sqlite3_bind_null(ig, 15);
    sqlite3_bind_text(ig, 16, g->subset, -1, SQLITE_STATIC);
    int pca = g->axes && !strcmp(g->axes, "pca");
    for (int k = 0; k < 2; k++)
        if (pca)
            sqlite3_bind_double(ig, 17 + k, g->pca_explained[k]);
        else
            sqlite3_bind_null(ig, 17 + k);
    rc = rc ? rc : done(s, ig, e);
    rc = rc || !pca || !g->ntraj ? rc : grid_traj(s, run, g, *grid, e);
    for (int i = 0; !rc && i < g->ny; i++)
        for (int j = 0; !rc && j < g->nx; j++) {
            double a = g->nx > 1 ? g->x0 + (g->x1 - g->x0) * j / (g->nx - 1) : g->x0;
            double b = g->ny > 1 ? g->y0 + (g->y1 - g->y0) * i / (g->ny - 1) : g->y0;
            sqlite3_bind_text(ip, 1, run, -1, SQLITE_STATIC);
            sqlite3_bind_int(ip, 2, *grid);
            sqlite3_bind_int(ip, 3, i);
            sqlite3_bind_int(ip, 4, j);
            sqlite3_bind_double(ip, 5, a);
            sqlite3_bind_double(ip, 6, b);
            sqlite3_bind_double(ip, 7, loss[(size_t)i * (size_t)g->nx + (size_t)j]);
            if (acc)
                sqlite3_bind_double(ip, 8, acc[(size_t)i * (size_t)g->nx + (size_t)j]);
            else
                sqlite3_bind_null(ip, 8);
            rc = done(s, ip, e);
        }
    rc = end(s, rc, e);
out:
    sqlite3_finalize(q);
    sqlite3_finalize(ig);
    sqlite3_finalize(ip);
    return rc;
}

/* --- merge --- */

#include <sys/stat.h>

/* How merge copies the rows of a table: in units, each whole or not at all
 * (results/README.md, Merging). A unit is named by its key columns. */
enum merge_kind {
    MERGE_ROW,       /* one row: copied when OUT has no row of its key */
    MERGE_RUN,       /* a run's row: from the copy whose run state wins (merge_one) */
    MERGE_TRAINING,  /* a run's training state: all its rows, from the same copy */
    MERGE_PROBE,     /* a probe result: copied when OUT has no row of its key; where
                      * both have it, OUT's, unless the input's training state won */
    MERGE_GRID,      /* a landscape grid with its points (merge_grids) */
    MERGE_POINTS,    /* a grid's points: copied with their grid */
};

static const struct merge_unit {
    const char *table;
    enum merge_kind kind;
    const char *key[5];   /* NULL-terminated; "run" first wherever a run owns the rows */
    const char *rows;     /* which rows of the table the entry covers (NULL: all) */
    int renumber;         /* its grid column follows its grid's number in OUT */
} merge_units[] = {
    {"experiments", MERGE_ROW, {"name"}, NULL, 0},
    {"metric_keys", MERGE_ROW, {"key"}, NULL, 0},
    {"runs", MERGE_RUN, {"id"}, NULL, 0},
    {"experiment_runs", MERGE_ROW, {"experiment", "run"}, NULL, 0},
    {"params", MERGE_ROW, {"run", "key"}, NULL, 0},
    {"metrics", MERGE_TRAINING, {"run"}, NULL, 0},
    {"checkpoints", MERGE_TRAINING, {"run"}, NULL, 0},
    {"trajectories", MERGE_TRAINING, {"run"}, "basis IS NOT 'pca'", 0},
    {"hessian_eigs", MERGE_PROBE, {"run", "step", "method"}, NULL, 0},
    {"density", MERGE_PROBE, {"run", "step"}, NULL, 0},
    {"trace", MERGE_PROBE, {"run", "step"}, NULL, 0},
    {"sharpness", MERGE_PROBE, {"run", "step", "kind", "rho"}, NULL, 0},
    {"collapse", MERGE_PROBE, {"run", "step", "split"}, NULL, 0},
    {"landscape_grids", MERGE_GRID, {"run", "grid"}, NULL, 0},
    {"landscape_points", MERGE_POINTS, {"run", "grid"}, NULL, 0},
    /* a run's one pca trajectory (the latest pca grid's, store_grid_put) */
    {"trajectories", MERGE_PROBE, {"run", "basis"}, "basis = 'pca'", 1},
};
#define NMERGE_UNITS (sizeof merge_units / sizeof merge_units[0])

/* db_err for an error of the attached input: the same message, naming `path`. */
static int src_err(store *s, const char *path, int rc, const char *what, err *e)
{
    char out[sizeof s->path];
    memcpy(out, s->path, sizeof out);
    snprintf(s->path, sizeof s->path, "%s", path);
    rc = db_err(s, rc, what, e);
    memcpy(s->path, out, sizeof out);
    return rc;
}

/* `path` as an SQLite URI file:PATH[?query], percent-encoded where URIs need it (an
 * absolute path gets an empty authority, so "//x" stays a path). */
static int file_uri(const char *path, const char *query, char *uri, size_t cap, err *e)
{
    size_t k = (size_t)snprintf(uri, cap, path[0] == '/' ? "file://" : "file:");
    const unsigned char *c = (const unsigned char *)path;
    for (; *c && k + 4 < cap; c++)
        k += (size_t)(*c == '%' || *c == '?' || *c == '#' || *c < 0x20 || *c >= 0x7f
                          ? snprintf(uri + k, cap - k, "%%%02X", *c)
                          : snprintf(uri + k, cap - k, "%c", *c));
    if (*c || k + (query ? strlen(query) + 2 : 1) > cap)
        return err_set(e, ERR_SYS, "%s: path too long", path);
    if (query)
        snprintf(uri + k, cap - k, "?%s", query);
    return 0;
}

/* OUT for merging: created or migrated by store_open, then opened again with URI
 * filenames enabled, so that ATTACH can open each input read-only (file:IN?mode=ro)
 * whatever SQLite's compile-time default. */
static int merge_open(const char *out, store **s, err *e)
{
    char uri[3200];
    int rc = store_open(out, s, e);
    store_close(*s);
    *s = NULL;
    rc = rc ? rc : file_uri(out, NULL, uri, sizeof uri, e);
    rc = rc ? rc : open_conn(uri, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, s, e);
    if (*s)
        snprintf((*s)->path, sizeof (*s)->path, "%s", out);
    rc = rc ? rc : exec(*s, "PRAGMA synchronous = NORMAL", e);
    if (rc) {
        store_close(*s);
        *s = NULL;
    }
    return rc;
}

/* ATTACH the input at `path` as src, read-only (immutable where nothing can write it,
 * as store_open_read), and read its schema version into *v. Merge never writes to an
 * input: it is not migrated, and no checkpoint of its WAL is run. *attached says
 * whether src must be detached. */
static int merge_attach(store *s, const char *path, int *v, int *attached, err *e)
{
    char uri[3200];
    sqlite3_stmt *st;
    *attached = 0;
    int rc = file_uri(path, unwritable(path) ? "immutable=1" : "mode=ro", uri, sizeof uri, e);
    rc = rc ? rc : prep(s, "ATTACH DATABASE ? AS src", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE)
        return src_err(s, path, r, "open", e);
    *attached = 1;
    if ((rc = prep(s, "PRAGMA src.user_version", &st, e)))
        return rc;
    r = sqlite3_step(st);
    *v = r == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (r != SQLITE_ROW)
        return src_err(s, path, r, "PRAGMA user_version", e);
    if (*v > STORE_SCHEMA_VERSION)
        return err_set(e, ERR_DATA, "%s: schema version %d is newer than this basin's (%d); "
                       "use a newer basin", path, *v, STORE_SCHEMA_VERSION);
    if (*v <= 0)
        return err_set(e, ERR_DATA, "%s: not a basin database (schema version %d)", path, *v);
    return 0;
}

/* Every table and column of a database, sorted: (table, column, declared type). */
#define SCHEMA_SQL(db, arg)                                                                \
    "SELECT m.name, p.name, upper(p.type) FROM " db "sqlite_master m, "                  \
    "pragma_table_xinfo(m.name" arg ") p WHERE m.type = 'table' AND m.name NOT LIKE "     \
    "'sqlite!_%' ESCAPE '!' ORDER BY 1, 2"

/* Authorizer of the scratch database while it runs migrations: flags a statement that
 * inserts, updates or deletes rows of a basin table (not SQLite's own schema table). */
static int merge_auth(void *dml, int action, const char *a, const char *b, const char *c,
                      const char *d)
{
    (void)b, (void)c, (void)d;
    if ((action == SQLITE_INSERT || action == SQLITE_UPDATE || action == SQLITE_DELETE)
        && a && strncmp(a, "sqlite_", 7) != 0)
        *(int *)dml = 1;
    return SQLITE_OK;
}

/* Whether `db` has table t in its schema `schema` ("main", "src"): *has 1 or 0; the
 * SQLite rc. */
static int table_in(sqlite3 *db, const char *schema, const char *t, int *has)
{
    sqlite3_stmt *st;
    char *q = sqlite3_mprintf("SELECT count(*) FROM \"%w\".sqlite_master WHERE type = 'table' "
                              "AND name = %Q", schema, t);
    int r = q ? sqlite3_prepare_v2(db, q, -1, &st, NULL) : SQLITE_NOMEM;
    sqlite3_free(q);
    *has = 0;
    if (r != SQLITE_OK)
        return r;
    r = sqlite3_step(st);
    *has = r == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    return r == SQLITE_ROW ? SQLITE_OK : r;
}

/* Check the attached input's tables and columns (names and declared types, in any
 * order) against exactly those of schema version v, which it claims: the oracle is a
 * scratch in-memory database that ran migrations[0..v), the very SQL store_open runs.
 * An older input is merged by name (the columns later versions added take their
 * defaults: NULL), which equals migrating it first only while the migrations after v
 * add tables and columns and rewrite no rows; one that rewrites rows refuses it. */
static int merge_schema(store *s, const char *path, int v, err *e)
{
    sqlite3 *ref = NULL;
    sqlite3_stmt *a = NULL, *b = NULL;   /* (table, column, type) of version v, of the input */
    int rc = 0, r = sqlite3_open_v2(":memory:", &ref, SQLITE_OPEN_READWRITE, NULL);
    for (int k = 0; r == SQLITE_OK && k < v; k++)
        r = sqlite3_exec(ref, migrations[k], NULL, NULL, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_prepare_v2(ref, SCHEMA_SQL("", ""), -1, &a, NULL);
    if (r != SQLITE_OK)
        rc = err_set(e, ERR_SYS, "merge: schema version %d in memory: %s", v,
                     ref ? sqlite3_errmsg(ref) : sqlite3_errstr(r));
    rc = rc ? rc : prep(s, SCHEMA_SQL("src.", ", 'src'"), &b, e);
    int ra = rc ? SQLITE_DONE : sqlite3_step(a), rb = rc ? SQLITE_DONE : sqlite3_step(b);
    while (!rc && (ra == SQLITE_ROW || rb == SQLITE_ROW)) {
        int c = ra != SQLITE_ROW ? 1 : rb != SQLITE_ROW ? -1 : 0;
        if (!c && !(c = strcmp(store_text(a, 0), store_text(b, 0))))
            c = strcmp(store_text(a, 1), store_text(b, 1));
        sqlite3_stmt *d = c < 0 ? a : b;   /* the row of the difference */
        const char *t = store_text(d, 0), *col = store_text(d, 1);
        int whole = 0;   /* the other side lacks the whole table */
        if (c) {
            r = table_in(c < 0 ? s->db : ref, c < 0 ? "src" : "main", t, &whole);
            whole = r == SQLITE_OK && !whole;
        }
        if (c || strcmp(store_text(a, 2), store_text(b, 2)) != 0) {
            char why[320];
            if (!c)
                snprintf(why, sizeof why, "column %s.%s is declared %s, not %s", t, col,
                         store_text(b, 2), store_text(a, 2));
            else if (c < 0)
                snprintf(why, sizeof why, whole ? "no table %s" : "no column %s.%s", t, col);
            else if (whole)
                snprintf(why, sizeof why, "table %s is not version %d's", t, v);
            else
                snprintf(why, sizeof why, "column %s.%s is not version %d's", t, col, v);
            rc = err_set(e, ERR_DATA, "%s: not the schema of version %d, which it claims: %s",
                         path, v, why);
            break;
        }
        size_t k;
        for (k = 0; k < NMERGE_UNITS && strcmp(merge_units[k].table, t); k++)
            ;
        if (k == NMERGE_UNITS)   /* a migration added a table: give it a merge unit */
            rc = err_set(e, ERR_SYS, "merge: table %s of schema version %d has no merge unit "
                         "(results/store.c, merge_units)", t, v);
        ra = sqlite3_step(a);
        rb = sqlite3_step(b);
    }
    if (!rc && ra != SQLITE_DONE)
        rc = err_set(e, ERR_SYS, "merge: schema version %d in memory: %s", v, sqlite3_errmsg(ref));
    else if (!rc && rb != SQLITE_DONE)
        rc = src_err(s, path, rb, "schema", e);
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    int dml = 0;
    sqlite3_set_authorizer(ref, merge_auth, &dml);
    for (int k = v; !rc && k < STORE_SCHEMA_VERSION; k++)
        if (sqlite3_exec(ref, migrations[k], NULL, NULL, NULL) != SQLITE_OK)
            rc = err_set(e, ERR_SYS, "merge: migration %d in memory: %s", k, sqlite3_errmsg(ref));
        else if (dml)
            rc = err_set(e, ERR_DATA, "%s: schema version %d is older than this basin's (%d), "
                         "and migration %d -> %d rewrites rows, which merge cannot do without "
                         "writing to its input; migrate it in place first (basin merge %s "
                         "with any current database as the input)", path, v,
                         STORE_SCHEMA_VERSION, k, k + 1, path);
    sqlite3_close(ref);
    return rc;
}

/* Whether the attached input has table `t` (an older version may lack a later table). */
static int src_has(store *s, const char *t, int *has, err *e)
{
    int r = table_in(s->db, "src", t, has);
    return r == SQLITE_OK ? 0 : db_err(s, r, "src tables", e);
}

/* Inside the merge's transaction: temp.merge_T, the input's table T with OUT's columns
 * by name, in OUT's order (a column the input lacks: its default, NULL without one),
 * and its rowid as merge_rowid (rows are copied in the input's order, which readers
 * keep: runs and export list by rowid), for each table of merge_units the input has;
 * has[u] says whether unit u's table has a view. A column of the input that OUT lacks refuses it: nothing is dropped
 * silently. */
static int merge_views(store *s, const char *path, int *has, err *e)
{
    sqlite3_stmt *oc = NULL, *extra = NULL;
    int rc = prep(s, "SELECT o.name, o.dflt_value, i.name IS NOT NULL FROM "
                     "pragma_table_xinfo(?1, 'main') o LEFT JOIN pragma_table_xinfo(?1, 'src') i "
                     "USING (name) WHERE o.hidden = 0 ORDER BY o.cid", &oc, e);
    rc = rc ? rc : prep(s, "SELECT name FROM pragma_table_xinfo(?1, 'src') WHERE name NOT IN "
                           "(SELECT name FROM pragma_table_xinfo(?1, 'main') WHERE hidden = 0)",
                        &extra, e);
    for (size_t u = 0; !rc && u < NMERGE_UNITS; u++) {
        const char *t = merge_units[u].table;
        int r;
        if ((rc = src_has(s, t, &has[u], e)) || !has[u])
            continue;
        sqlite3_bind_text(extra, 1, t, -1, SQLITE_STATIC);
        if ((r = sqlite3_step(extra)) == SQLITE_ROW)
            rc = err_set(e, ERR_DATA, "%s: column %s.%s has no place in %s (whose schema lacks "
                         "it)", path, t, store_text(extra, 0), s->path);
        else if (r != SQLITE_DONE)
            rc = db_err(s, r, "columns", e);
        sqlite3_reset(extra);
        char *sel = NULL;
        sqlite3_bind_text(oc, 1, t, -1, SQLITE_STATIC);
        while (!rc && (r = sqlite3_step(oc)) == SQLITE_ROW) {
            const char *c = store_text(oc, 0);
            const unsigned char *dflt = sqlite3_column_text(oc, 1);
            char *x = sqlite3_column_int(oc, 2) ? sqlite3_mprintf("\"%w\"", c)
                      : sqlite3_mprintf("(%s)", dflt ? (const char *)dflt : "NULL");
            sel = x ? sqlite3_mprintf("%z%s%z AS \"%w\"", sel, sel ? ", " : "", x, c) : NULL;
            if (!sel)
                rc = err_set(e, ERR_SYS, "out of memory");
        }
        if (!rc && r != SQLITE_DONE)
            rc = db_err(s, r, "columns", e);
        sqlite3_reset(oc);
        char *sql = rc ? NULL : sqlite3_mprintf("CREATE TEMP VIEW IF NOT EXISTS \"merge_%w\" AS "
                                                "SELECT %s, rowid AS merge_rowid FROM src.\"%w\"",
                                                t, sel, t);
        if (!rc && !sql)
            rc = err_set(e, ERR_SYS, "out of memory");
        rc = rc ? rc : exec(s, sql, e);
        sqlite3_free(sql);
        sqlite3_free(sel);
    }
    sqlite3_finalize(oc);
    sqlite3_finalize(extra);
    return rc;
}

/* OUT's columns of table t (hidden ones aside), quoted, comma-separated, in order;
 * column `col` given as expression `expr` when col is not NULL; without the columns run
 * and grid when `bare` (what makes two grids the same). *list: sqlite3_free. */
static int merge_cols(store *s, const char *t, const char *col, const char *expr, int bare,
                      char **list, err *e)
{
    sqlite3_stmt *st;
    *list = NULL;
    int r, rc = prep(s, "SELECT name FROM pragma_table_xinfo(?, 'main') WHERE hidden = 0 "
                        "ORDER BY cid", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *c = store_text(st, 0);
        if (bare && (!strcmp(c, "run") || !strcmp(c, "grid")))
            continue;
        *list = col && !strcmp(c, col)
                ? sqlite3_mprintf("%z%s%s", *list, *list ? ", " : "", expr)
                : sqlite3_mprintf("%z%s\"%w\"", *list, *list ? ", " : "", c);
        if (!*list)
            rc = err_set(e, ERR_SYS, "out of memory");
    }
    if (!rc && r != SQLITE_DONE)
        rc = db_err(s, r, "columns", e);
    sqlite3_finalize(st);
    if (rc) {
        sqlite3_free(*list);
        *list = NULL;
    }
    return rc;
}

/* "a.k1 IS b.k1 AND ..." over unit u's key (and its rows condition, on a's row). */
static char *merge_match(const struct merge_unit *u, const char *a, const char *b)
{
    char *m = NULL;
    for (int k = 0; u->key[k]; k++) {
        m = sqlite3_mprintf("%z%s%s.\"%w\" IS %s.\"%w\"", m, k ? " AND " : "", a, u->key[k], b,
                            u->key[k]);
        if (!m)
            return NULL;
    }
    return u->rows ? sqlite3_mprintf("%z AND (%s)", m, u->rows) : m;
}

/* Run `sql` (sqlite3_mprintf'ed, NULL when it ran out of memory) and free it. */
static int merge_exec(store *s, char *sql, err *e)
{
    int rc = sql ? exec(s, sql, e) : err_set(e, ERR_SYS, "out of memory");
    sqlite3_free(sql);
    return rc;
}

/* SQL of the runs whose training state the input brings: those OUT lacks, and those
 * whose copy in the input wins: final (COMPLETED, DIVERGED) over not final, and between
 * two unfinished copies the one with the larger step (ties: OUT's). Between two final
 * copies OUT's stays. */
#define MERGE_FINAL "('" STORE_COMPLETED "', '" STORE_DIVERGED "')"
#define MERGE_WINNERS                                                                     \
    "INSERT OR IGNORE INTO temp.merge_win SELECT r.id FROM temp.merge_runs r "            \
    "LEFT JOIN main.runs m ON m.id = r.id WHERE m.id IS NULL "                            \
    "OR (r.status IN " MERGE_FINAL " AND m.status NOT IN " MERGE_FINAL ") "               \
    "OR (r.status NOT IN " MERGE_FINAL " AND m.status NOT IN " MERGE_FINAL                \
    " AND r.step > m.step)"

/* One unit entry (not a grid's) of the attached input into main. */
static int merge_unit_copy(store *s, const struct merge_unit *u, err *e)
{
    const char *t = u->table, *win = "(SELECT id FROM temp.merge_win)";
    char *cols = NULL, *sel = NULL, *in_out = NULL;
    const char *rows = u->rows ? u->rows : "1";
    int rc = merge_cols(s, t, NULL, NULL, 0, &cols, e);
    rc = rc ? rc : merge_cols(s, t, u->renumber ? "grid" : NULL,
                              "COALESCE((SELECT g.out_grid FROM temp.merge_grid g WHERE g.run = "
                              "s.run AND g.src_grid = s.grid), s.grid)", 0, &sel, e);
    char *m = rc ? NULL : merge_match(u, "o", "s");
    if (!rc && !m)
        rc = err_set(e, ERR_SYS, "out of memory");
    if (!rc && !(in_out = sqlite3_mprintf("NOT EXISTS (SELECT 1 FROM main.\"%w\" o WHERE %s)",
                                          t, m)))   /* the input's rows of units OUT lacks */
        rc = err_set(e, ERR_SYS, "out of memory");
    if (u->kind == MERGE_PROBE) {
        /* where both have a unit of a run whose training state the input brings, the
         * input's replaces OUT's */
        char *mine = rc ? NULL : merge_match(u, "s", t);
        rc = rc ? rc : mine ? merge_exec(s, sqlite3_mprintf(
                                  "DELETE FROM main.\"%w\" WHERE (%s) AND run IN %s AND EXISTS "
                                  "(SELECT 1 FROM temp.\"merge_%w\" s WHERE %s)", t, rows, win,
                                  t, mine), e)
                            : err_set(e, ERR_SYS, "out of memory");
        sqlite3_free(mine);
    }
    switch (u->kind) {
    case MERGE_RUN:
        rc = rc ? rc : merge_exec(s, sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE id IN %s", t,
                                                     win), e);
        rc = rc ? rc : merge_exec(s, sqlite3_mprintf("INSERT INTO main.\"%w\"(%s) SELECT %s FROM "
                                                     "temp.\"merge_%w\" s WHERE id IN %s ORDER BY "
                                                     "merge_rowid", t, cols, sel, t, win), e);
        break;
    case MERGE_TRAINING:
        /* the winners' rows; and a run's rows where no copy of the run says whose they
         * are (no runs row in either file), when OUT has none of them */
        rc = rc ? rc : merge_exec(s, sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE (%s) AND run "
                                                     "IN %s", t, rows, win), e);
        rc = rc ? rc : merge_exec(s, sqlite3_mprintf(
                           "INSERT INTO main.\"%w\"(%s) SELECT %s FROM temp.\"merge_%w\" s WHERE "
                           "(%s) AND (run IN %s OR (NOT EXISTS (SELECT 1 FROM temp.merge_runs r "
                           "WHERE r.id = s.run) AND NOT EXISTS (SELECT 1 FROM main.runs r WHERE "
                           "r.id = s.run) AND %s)) ORDER BY merge_rowid", t, cols, sel, t, rows,
                           win, in_out), e);
        break;
    case MERGE_PROBE:
    case MERGE_ROW:
        rc = rc ? rc : merge_exec(s, sqlite3_mprintf("INSERT INTO main.\"%w\"(%s) SELECT %s FROM "
                                                     "temp.\"merge_%w\" s WHERE (%s) AND %s "
                                                     "ORDER BY merge_rowid", t, cols, sel, t, rows,
                                                     in_out), e);
        break;
    case MERGE_GRID:
    case MERGE_POINTS:
        break;
    }
    sqlite3_free(cols);
    sqlite3_free(sel);
    sqlite3_free(m);
    sqlite3_free(in_out);
    return rc;
}

/* The input's landscape grids (a grid: its landscape_grids row and its points): one
 * that equals a grid OUT has for the run (all columns but run and grid, every point) is
 * that grid, kept once; any other is copied, under its own number when the run's grid
 * of that number is free in OUT, else under the run's next number. Each of OUT's grids
 * stands for at most one grid of the input, so an input's two equal grids stay two.
 * temp.merge_grid maps each input grid to its number in OUT (for the pca trajectory). */
static int merge_grids(store *s, const char *path, err *e)
{
    char *gc = NULL, *pc = NULL, *gs = NULL, *ps = NULL, *gb = NULL, *pb = NULL;
    sqlite3_stmt *q = NULL, *find = NULL, *num = NULL, *ig = NULL, *ip = NULL, *map = NULL;
    int rc = merge_cols(s, "landscape_grids", NULL, NULL, 0, &gc, e);
    rc = rc ? rc : merge_cols(s, "landscape_points", NULL, NULL, 0, &pc, e);
    rc = rc ? rc : merge_cols(s, "landscape_grids", "grid", "?3", 0, &gs, e);
    rc = rc ? rc : merge_cols(s, "landscape_points", "grid", "?3", 0, &ps, e);
    rc = rc ? rc : merge_cols(s, "landscape_grids", NULL, NULL, 1, &gb, e);
    rc = rc ? rc : merge_cols(s, "landscape_points", NULL, NULL, 1, &pb, e);
    /* the same rows of T for input grid (?1, ?2) and OUT grid (?1, o.grid) */
#define SAME(T, c)                                                                        \
    "NOT EXISTS (SELECT " c " FROM temp.merge_" T " WHERE run = ?1 AND grid = ?2 EXCEPT "   \
    "SELECT " c " FROM main." T " WHERE run = ?1 AND grid = o.grid) AND NOT EXISTS (SELECT " \
    c " FROM main." T " WHERE run = ?1 AND grid = o.grid EXCEPT SELECT " c " FROM "         \
    "temp.merge_" T " WHERE run = ?1 AND grid = ?2)"
    char *sql[6] = {
        sqlite3_mprintf("SELECT run, grid FROM temp.merge_landscape_grids UNION "
                        "SELECT run, grid FROM temp.merge_landscape_points ORDER BY 1, 2"),
        sqlite3_mprintf("SELECT o.grid FROM (SELECT grid FROM main.landscape_grids WHERE run = ?1 "
                        "UNION SELECT grid FROM main.landscape_points WHERE run = ?1) o "
                        "WHERE o.grid NOT IN (SELECT out_grid FROM temp.merge_grid WHERE run = ?1) "
                        "AND " SAME("landscape_grids", "%s") " AND " SAME("landscape_points", "%s")
                        " ORDER BY o.grid LIMIT 1", gb, gb, gb, gb, pb, pb, pb, pb),
        sqlite3_mprintf("WITH o(grid) AS (SELECT grid FROM main.landscape_grids WHERE run = ?1 "
                        "UNION ALL SELECT grid FROM main.landscape_points WHERE run = ?1) "
                        "SELECT CASE WHEN EXISTS (SELECT 1 FROM o WHERE grid = ?2) "
                        "THEN (SELECT max(grid) + 1 FROM o) ELSE ?2 END"),
        sqlite3_mprintf("INSERT INTO main.landscape_grids(%s) SELECT %s FROM "
                        "temp.merge_landscape_grids WHERE run = ?1 AND grid = ?2 "
                        "ORDER BY merge_rowid", gc, gs),
        sqlite3_mprintf("INSERT INTO main.landscape_points(%s) SELECT %s FROM "
                        "temp.merge_landscape_points WHERE run = ?1 AND grid = ?2 "
                        "ORDER BY merge_rowid", pc, ps),
        sqlite3_mprintf("INSERT INTO temp.merge_grid VALUES (?1, ?2, ?3)"),
    };
#undef SAME
    sqlite3_stmt **st[6] = {&q, &find, &num, &ig, &ip, &map};
    for (int k = 0; k < 6; k++) {
        if (!rc && !sql[k])
            rc = err_set(e, ERR_SYS, "out of memory");
        rc = rc ? rc : prep(s, sql[k], st[k], e);
        sqlite3_free(sql[k]);
    }
    int r = SQLITE_DONE;
    while (!rc && (r = sqlite3_step(q)) == SQLITE_ROW) {
        sqlite3_stmt *each[5] = {find, num, ig, ip, map};
        for (int k = 0; k < 5; k++) {
            sqlite3_bind_value(each[k], 1, sqlite3_column_value(q, 0));
            sqlite3_bind_value(each[k], 2, sqlite3_column_value(q, 1));
        }
        int found = sqlite3_step(find), copy = found == SQLITE_DONE;
        sqlite3_int64 to = found == SQLITE_ROW ? sqlite3_column_int64(find, 0) : 0;
        sqlite3_reset(find);
        if (found != SQLITE_ROW && found != SQLITE_DONE) {
            rc = db_err(s, found, "landscape grids", e);
            break;
        }
        if (copy) {
            if ((r = sqlite3_step(num)) == SQLITE_ROW)
                to = sqlite3_column_int64(num, 0);
            sqlite3_reset(num);
            if (r != SQLITE_ROW) {
                rc = db_err(s, r, "landscape grid number", e);
                break;
            }
            sqlite3_bind_int64(ig, 3, to);
            sqlite3_bind_int64(ip, 3, to);
            rc = done(s, ig, e);
            rc = rc ? rc : done(s, ip, e);
        }
        sqlite3_bind_int64(map, 3, to);
        rc = rc ? rc : done(s, map, e);
    }
    if (!rc && r != SQLITE_DONE)
        rc = src_err(s, path, r, "landscape grids", e);
    for (int k = 0; k < 6; k++)
        sqlite3_finalize(*st[k]);
    sqlite3_free(gc);
    sqlite3_free(pc);
    sqlite3_free(gs);
    sqlite3_free(ps);
    sqlite3_free(gb);
    sqlite3_free(pb);
    return rc;
}

/* Copy the attached input (at `path`) into main through its views (has[u]: unit u's
 * table has one), unit by unit, inside the caller's transaction. */
static int merge_one(store *s, const char *path, const int *has, err *e)
{
    int rc = exec(s, "CREATE TEMP TABLE merge_win(id TEXT PRIMARY KEY);"
                     "CREATE TEMP TABLE merge_grid(run TEXT, src_grid INTEGER, out_grid INTEGER, "
                     "PRIMARY KEY(run, src_grid))", e);
    rc = rc ? rc : exec(s, MERGE_WINNERS, e);
    for (size_t u = 0; !rc && u < NMERGE_UNITS; u++)
        if (has[u])
            rc = merge_units[u].kind == MERGE_GRID ? merge_grids(s, path, e)
                                                   : merge_unit_copy(s, &merge_units[u], e);
    return rc ? rc : exec(s, "DROP TABLE temp.merge_win; DROP TABLE temp.merge_grid", e);
}

/* The attached `src` must pass PRAGMA integrity_check: a damaged b-tree in an input
 * would be read (and its records copied) as if it were whole (found by fuzz_merge). */
static int src_intact(store *s, const char *path, err *e)
{
    sqlite3_stmt *st;
    int rc = prep(s, "PRAGMA src.integrity_check(1)", &st, e);
    if (rc)
        return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW && strcmp(store_text(st, 0), "ok") != 0) {
        char what[200];   /* its first complaint, on one line */
        snprintf(what, sizeof what, "%s", store_text(st, 0));
        for (char *c = what; *c; c++)
            if (*c == '\n')
                *c = ' ';
        rc = err_set(e, ERR_DATA, "%s: damaged database (integrity_check: %s)", path, what);
    } else if (r != SQLITE_ROW)
        rc = src_err(s, path, r, "integrity check", e);
    sqlite3_finalize(st);
    return rc;
}

/* Refuse, before anything is opened, an input that is OUT itself or one given twice:
 * the same file is the same device and inode, whatever the path says (a symlink,
 * ./a.db, a hard link). Either is a mistake of the command line (merged into itself, a
 * database opened for writing as an input waited the busy timeout on its own lock). */
static int merge_distinct(const char *out, const char *const *ins, int n, err *e)
{
    struct stat so, *si = err_malloc(e, (size_t)(n > 0 ? n : 1) * sizeof *si);
    if (!si)
        return ERR_SYS;
    int rc = 0, have_out = stat(out, &so) == 0;
    for (int i = 0; !rc && i < n; i++) {
        if (stat(ins[i], &si[i]) != 0) {
            rc = err_set(e, ERR_DATA, "%s: %s", ins[i], strerror(errno));
            break;
        }
        if (have_out && si[i].st_dev == so.st_dev && si[i].st_ino == so.st_ino)
            rc = err_set(e, ERR_USAGE, "%s: is %s itself (the same file); a database cannot "
                         "be merged into itself", ins[i], out);
        for (int j = 0; !rc && j < i; j++)
            if (si[i].st_dev == si[j].st_dev && si[i].st_ino == si[j].st_ino)
                rc = err_set(e, ERR_USAGE, "%s: given twice (the same file as %s)", ins[i],
                             ins[j]);
    }
    free(si);
    return rc;
}

/* Merge the input at `path` into OUT (its connection s): checks first (schema, then
 * integrity), then one transaction, in which the views are made and dropped. */
static int merge_in(store *s, const char *path, err *e)
{
    if (access(path, R_OK) != 0)
        return err_set(e, ERR_DATA, "%s: %s", path, strerror(errno));
    int v = 0, attached, rc = merge_attach(s, path, &v, &attached, e);
    rc = rc ? rc : merge_schema(s, path, v, e);
    rc = rc ? rc : src_intact(s, path, e);
    rc = rc ? rc : begin(s, e);
    if (!rc) {
        int has[NMERGE_UNITS] = {0};
        rc = merge_views(s, path, has, e);
        rc = rc ? rc : merge_one(s, path, has, e);
        rc = rc ? rc : views_refresh(s, e);
        for (size_t u = 0; !rc && u < NMERGE_UNITS; u++)
            if (has[u])
                rc = merge_exec(s, sqlite3_mprintf("DROP VIEW IF EXISTS temp.\"merge_%w\"",
                                                   merge_units[u].table), e);
        rc = end(s, rc, e);
    }
    if (attached) {
        int r2 = exec(s, "DETACH DATABASE src", e);
        rc = rc ? rc : r2;
    }
    return rc;
}

int store_merge(const char *out, const char *const *ins, int n, err *e)
{
    store *s = NULL;
    int rc = merge_distinct(out, ins, n, e);
    rc = rc ? rc : merge_open(out, &s, e);
    for (int i = 0; !rc && i < n; i++)
        rc = merge_in(s, ins[i], e);
    if (rc)
        err_wrap(e, "merge into %s", out);
    store_close(s);
    return rc;
}
