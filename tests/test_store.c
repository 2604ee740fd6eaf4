/* test_store.c -- the results store (results/store.h): schema creation and
 * versioning, run registration and claiming (live, dead and stale owners), metric
 * buffering, checkpoints (bit-exact round trip, resume keeps only the latest),
 * truncation for resume, id prefixes, probe tables (a pca grid's explained variance and
 * trajectory), listing snapshots, migration from version 2, views, concurrent writers
 * from forked processes, idempotent merge; an owner whose run was taken over writes
 * nothing more, a zombie owner is dead, the heartbeat thread keeps a busy owner fresh,
 * and a database deleted or replaced under a writer is an error; merging a database
 * into itself refused, columns merged by name, units merged whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../results/store.h"
#include "check.h"

static char dir[256];

static void path(char *out, const char *name)
{
    snprintf(out, 512, "%s/%s", dir, name);
}

/* The first column of the first row of `sql` as a double (NAN when no row). */
static double q1(store *s, const char *sql)
{
    sqlite3_stmt *st;
    double v = NAN;
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
        return NAN;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

static const char *text1(store *s, const char *sql, char *buf, size_t cap)
{
    sqlite3_stmt *st;
    buf[0] = 0;
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    return buf;
}

static void sql(store *s, const char *q)
{
    sqlite3_exec(store_db(s), q, NULL, NULL, NULL);
}

static const store_prov prov = {"test", "unknown", "cc", "cpu", "host", "blas", "test_store", 1};

/* Run i of `tag`: the tag, two digits, then zeros to 64 characters. */
static void id_of(char *id, const char *tag, int i)
{
    snprintf(id, 65, "%s%02d%060d", tag, i, 0);
    id[64] = 0;
}

/* Register n runs of `tag` (params lr = 0.1, optim = sgd; seeds seed0, seed0 + 1, ...)
 * in one seed group. */
static int reg(store *s, const char *exp, const char *tag, int n, int seed0, err *e)
{
    char ids[8][65], grp[65], cfgs[8][64];
    const char *keys[2] = {"lr", "optim"}, *vals[2] = {"0.1", "sgd"};
    store_run runs[8];
    memset(grp, '9', 64);
    grp[64] = 0;
    for (int i = 0; i < n; i++) {
        id_of(ids[i], tag, i);
        snprintf(cfgs[i], sizeof cfgs[i], "seed = %d\n", seed0 + i);
        runs[i] = (store_run){ids[i], exp, grp, cfgs[i], "x", (uint64_t)(seed0 + i), 10, 2, keys, vals};
    }
    return store_runs_register(s, runs, (size_t)n, e);
}

static void test_schema(void)
{
    char p[512], buf[256];
    err e = {0};
    store *s;
    path(p, "a.db");
    int rc = store_open(p, &s, &e);
    CHECK(rc == 0, "schema: create", "%s", e.msg);
    if (rc)
        return;
    CHECK(q1(s, "PRAGMA user_version") == STORE_SCHEMA_VERSION, "schema: user_version", "%g",
          q1(s, "PRAGMA user_version"));
    CHECK(strcmp(text1(s, "PRAGMA journal_mode", buf, sizeof buf), "wal") == 0, "schema: WAL",
          "%s", buf);
    CHECK(q1(s, "SELECT count(*) FROM metric_keys WHERE key IN ('train_loss','lr','sharp_worst')")
          == 3, "schema: metric_keys table filled", "-");
    store_close(s);
    rc = store_open(p, &s, &e);
    CHECK(rc == 0, "schema: reopen", "%s", e.msg);
    store_close(s);

    /* a foreign database and a newer schema are refused */
    sqlite3 *db;
    path(p, "foreign.db");
    sqlite3_open(p, &db);
    sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL);
    sqlite3_close(db);
    rc = store_open(p, &s, &e);
    CHECK(rc == ERR_DATA && strstr(e.msg, "not a basin database"), "schema: foreign db refused",
          "rc %d %s", rc, e.msg);
    path(p, "newer.db");
    sqlite3_open(p, &db);
    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(db);
    rc = store_open(p, &s, &e);
    CHECK(rc == ERR_DATA && strstr(e.msg, "newer"), "schema: newer version refused", "rc %d %s",
          rc, e.msg);

    /* a version-2 file (made by dropping what versions 3 and 4 added) is migrated, its
     * rows kept */
    path(p, "v2.db");
    rc = store_open(p, &s, &e);
    if (!rc) {
        sql(s, "ALTER TABLE landscape_grids DROP COLUMN pca_explained1;"
               "ALTER TABLE landscape_grids DROP COLUMN pca_explained2;"
               "ALTER TABLE trajectories DROP COLUMN grid;"
               "ALTER TABLE runs DROP COLUMN owner_token;"
               "INSERT INTO landscape_grids(run, grid, axes) VALUES ('r', 0, 'random');"
               "INSERT INTO trajectories VALUES ('r', 'theta', 3, 1, 2, 0.5);"
               "PRAGMA user_version = 2");
        store_close(s);
        rc = store_open(p, &s, &e);
    }
    CHECK(rc == 0 && q1(s, "PRAGMA user_version") == STORE_SCHEMA_VERSION
          && q1(s, "SELECT count(*) FROM landscape_grids WHERE axes = 'random' AND "
                   "pca_explained1 IS NULL AND pca_explained2 IS NULL") == 1
          && q1(s, "SELECT count(*) FROM trajectories WHERE step = 3 AND grid IS NULL") == 1
          && q1(s, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'owner_token'") == 1,
          "schema: version 2 migrated to the current one (pca columns NULL, owner_token added)",
          "rc %d %s", rc, e.msg);
    store_close(s);
}

static void test_runs(void)
{
    char p[512], id[65], st[16], ver[64], buf[256];
    err e = {0};
    store *s;
    path(p, "runs.db");
    if (store_open(p, &s, &e)) {
        CHECK(0, "runs: open", "%s", e.msg);
        return;
    }
    int rc = reg(s, "exp", "ab", 3, 1, &e);
    CHECK(rc == 0, "runs: register", "%s", e.msg);
    rc = reg(s, "exp", "ab", 3, 1, &e);
    CHECK(rc == 0 && q1(s, "SELECT count(*) FROM runs") == 3, "runs: register twice is a no-op",
          "%s", e.msg);
    CHECK(q1(s, "SELECT num FROM params WHERE key = 'lr' LIMIT 1") == 0.1
          && q1(s, "SELECT count(*) FROM params WHERE key = 'optim' AND num IS NULL") == 3,
          "runs: params typed", "-");
    CHECK(q1(s, "SELECT lr FROM runs_wide LIMIT 1") == 0.1
          && strcmp(text1(s, "SELECT optim FROM runs_wide LIMIT 1", buf, sizeof buf), "sgd") == 0,
          "runs: runs_wide has a column per param", "%s", buf);
    id_of(id, "ab", 0);
    store_run_status(s, id, st, ver, &e);
    CHECK(strcmp(st, "PENDING") == 0, "runs: new run PENDING", "%s", st);

    int res = -1;
    rc = store_run_claim(s, id, &prov, 0, &res, &e);
    CHECK(rc == 0 && res == STORE_CLAIMED, "claim: pending run", "rc %d res %d %s", rc, res, e.msg);
    rc = store_run_claim(s, id, &prov, 0, &res, &e);
    CHECK(rc == 0 && res == STORE_SKIP_BUSY, "claim: running with live owner is busy", "res %d", res);

    /* a dead pid on this host: taken over */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    char q[256];
    snprintf(q, sizeof q, "UPDATE runs SET owner_pid = %d WHERE id = '%s'", (int)child, id);
    sql(s, q);
    rc = store_run_claim(s, id, &prov, 0, &res, &e);
    CHECK(rc == 0 && res == STORE_CLAIMED, "claim: dead owner taken over", "res %d", res);
    /* another host: only a stale heartbeat frees it */
    snprintf(q, sizeof q, "UPDATE runs SET owner_host = 'elsewhere', owner_pid = 1 WHERE id = '%s'", id);
    sql(s, q);
    rc = store_run_claim(s, id, &prov, 0, &res, &e);
    CHECK(rc == 0 && res == STORE_SKIP_BUSY, "claim: other host, fresh heartbeat busy", "res %d", res);
    snprintf(q, sizeof q, "UPDATE runs SET heartbeat = heartbeat - %g WHERE id = '%s'",
             STORE_STALE_S + 1, id);
    sql(s, q);
    rc = store_run_claim(s, id, &prov, 0, &res, &e);
    CHECK(rc == 0 && res == STORE_CLAIMED, "claim: stale heartbeat taken over", "res %d", res);

    /* metrics, finish, completed skip, force */
    for (long k = 0; k < 5; k++)
        store_metric(s, id, "batch_loss", k, k / 5.0, 1.0 / (double)(k + 1), &e);
    store_metric(s, id, "batch_loss", 4, 0.8, 0.125, &e);
    rc = store_metric(s, id, "nonsense", 0, 0, 0, &e);
    CHECK(rc == ERR_USAGE && strstr(e.msg, "nonsense"), "metrics: unknown key refused", "%s", e.msg);
    CHECK(q1(s, "SELECT count(*) FROM metrics") == 0, "metrics: buffered until flush", "-");
    rc = store_run_finish(s, id, STORE_COMPLETED, NULL, &e);
    CHECK(rc == 0 && q1(s, "SELECT count(*) FROM metrics") == 5
          && q1(s, "SELECT value FROM metrics WHERE step = 4") == 0.125,
          "metrics: flushed on finish, later row replaces", "%s", e.msg);
    CHECK(q1(s, "SELECT value FROM metrics_latest WHERE key = 'batch_loss'") == 0.125,
          "views: metrics_latest", "-");
    rc = store_run_claim(s, id, &prov, 0, &res, &e);
    CHECK(rc == 0 && res == STORE_SKIP_DONE, "claim: completed skipped", "res %d", res);
    rc = store_run_claim(s, id, &prov, 1, &res, &e);
    CHECK(rc == 0 && res == STORE_CLAIMED && q1(s, "SELECT count(*) FROM metrics") == 0,
          "claim: --force reclaims and clears rows", "res %d", res);

    /* prefixes */
    rc = store_run_resolve(s, "ab01", buf, &e);
    CHECK(rc == 0 && strncmp(buf, "ab01", 4) == 0 && strlen(buf) == 64, "resolve: unique prefix",
          "%s", e.msg);
    rc = store_run_resolve(s, "ab00", buf, &e);
    CHECK(rc == 0, "resolve: another unique prefix", "%s", e.msg);
    reg(s, "exp", "ab001", 1, 7, &e);   /* id "ab00100..." shares the prefix "ab00" */
    rc = store_run_resolve(s, "ab00", buf, &e);
    CHECK(rc == ERR_USAGE && strstr(e.msg, "ambiguous"), "resolve: ambiguous prefix", "%s", e.msg);
    rc = store_run_resolve(s, "ffff", buf, &e);
    CHECK(rc == ERR_USAGE && strstr(e.msg, "no run"), "resolve: no match", "%s", e.msg);
    rc = store_run_resolve(s, "ab", buf, &e);
    CHECK(rc == ERR_USAGE, "resolve: too short", "%s", e.msg);

    /* seed groups: final values 1, 2, 3 -> mean 2, std 1 */
    for (int i = 0; i < 3; i++) {
        char rid[65];
        id_of(rid, "ab", i);
        store_run_claim(s, rid, &prov, 1, &res, &e);
        store_metric(s, rid, "test_acc", 10, 1, i + 1.0, &e);
        store_run_finish(s, rid, STORE_COMPLETED, NULL, &e);
    }
    CHECK(q1(s, "SELECT n FROM final_by_seed WHERE key = 'test_acc'") == 3
          && q1(s, "SELECT mean FROM final_by_seed WHERE key = 'test_acc'") == 2,
          "views: final_by_seed n and mean", "n %g", q1(s, "SELECT n FROM final_by_seed"));
    check_close("views: final_by_seed std", q1(s, "SELECT std FROM final_by_seed WHERE key = 'test_acc'"),
                1.0, 1e-15, 0);
    store_close(s);
}

static void test_ckpt(void)
{
    char p[512], id[65];
    err e = {0};
    store *s;
    path(p, "ckpt.db");
    if (store_open(p, &s, &e) || reg(s, "exp", "cd", 1, 0, &e)) {
        CHECK(0, "ckpt: open", "%s", e.msg);
        return;
    }
    id_of(id, "cd", 0);
    double th[5] = {1.0 / 3, -0.0, 1e-310, 2.5, -7}, stt[3] = {0.1, 0.2, 0.3};
    unsigned char aux[7] = {1, 2, 3, 4, 5, 6, 7};
    for (long k = 0; k < 30; k++)
        store_metric(s, id, "lr", k, 0, 0.1, &e);
    int rc = 0;
    for (long step = 10; step <= 20; step += 10) {
        th[3] = (double)step;
        store_ckpt c = {step, step / 10.0, th, 5, stt, 3, aux, sizeof aux};
        rc |= store_ckpt_put(s, id, STORE_RESUME, &c, &e);
        rc |= store_ckpt_put(s, id, STORE_SNAPSHOT, &c, &e);
    }
    CHECK(rc == 0 && q1(s, "SELECT count(*) FROM checkpoints WHERE kind = 'resume'") == 1
          && q1(s, "SELECT count(*) FROM checkpoints WHERE kind = 'snapshot'") == 2,
          "ckpt: resume keeps the latest, snapshots all", "%s", e.msg);
    CHECK(q1(s, "SELECT count(*) FROM metrics") == 30, "ckpt: commits the buffered metrics", "-");
    store_ckpt_data d;
    int found = 0;
    rc = store_ckpt_get(s, id, STORE_RESUME, -1, &d, &found, &e);
    CHECK(rc == 0 && found && d.step == 20 && d.n == 5 && d.nstate == 3 && d.naux == 7
          && memcmp(d.theta, th, sizeof th) == 0 && memcmp(d.state, stt, sizeof stt) == 0
          && memcmp(d.aux, aux, sizeof aux) == 0, "ckpt: bit-exact round trip", "%s", e.msg);
    store_ckpt_data_free(&d);
    rc = store_ckpt_get(s, id, STORE_SNAPSHOT, 10, &d, &found, &e);
    CHECK(rc == 0 && found && d.step == 10 && d.theta[3] == 10, "ckpt: snapshot at a step", "-");
    store_ckpt_data_free(&d);
    rc = store_ckpt_get(s, id, STORE_SNAPSHOT, 15, &d, &found, &e);
    CHECK(rc == 0 && !found, "ckpt: missing step not found", "-");

    double ev[3] = {5, 2, 1}, w[3] = {0.5, 0.3, 0.2}, loss[6] = {1, 2, 3, 4, 5, 6}, nc[4] = {1, 2, 3, 4};
    int grid = -1;
    store_grid g = {.step = 25, .split = "train", .dir_seed = 7, .normalization = "filter",
                    .x0 = -1, .x1 = 1, .y0 = -2, .y1 = 2, .nx = 3, .ny = 2, .axes = "random",
                    .ignore_biasbn = 1, .samples = 6, .subset = "first"};
    rc = store_eigs_put(s, id, 25, "lanczos", ev, 3, &e);
    rc |= store_density_put(s, id, 25, ev, w, 3, &e);
    rc |= store_trace_put(s, id, 25, 8.0, 0.5, 10, &e);
    rc |= store_sharpness_put(s, id, 25, "sharp_worst", 0.05, 0.01, &e);
    rc |= store_collapse_put(s, id, 25, "train", nc, &e);
    rc |= store_grid_put(s, id, &g, loss, NULL, &grid, &e);
    rc |= store_traj(s, id, "theta", 25, 0.5, -0.5, 1.0, &e);
    rc |= store_flush(s, &e);
    CHECK(rc == 0 && grid == 0 && q1(s, "SELECT count(*) FROM landscape_points") == 6
          && q1(s, "SELECT beta FROM landscape_points WHERE i = 1 AND j = 2") == 2
          && q1(s, "SELECT alpha FROM landscape_points WHERE i = 1 AND j = 2") == 1
          && q1(s, "SELECT value FROM hessian_eigs WHERE k = 0") == 5,
          "probes: tables written", "%s", e.msg);
    CHECK(q1(s, "SELECT count(*) FROM landscape_grids WHERE pca_explained1 IS NULL") == 1,
          "probes: a random grid has no explained variance", "-");

    /* a pca grid with its trajectory; a second one replaces the run's pca rows */
    long tstep[3] = {10, 20, 25};
    double tx[3] = {-2, -1, 0}, ty[3] = {0.5, -0.5, 0}, tl[3] = {3, 2, 1};
    store_grid gp = {.step = 25, .split = "train", .normalization = "none", .x0 = -1, .x1 = 1,
                     .nx = 3, .y0 = -1, .y1 = 1, .ny = 2, .axes = "pca",
                     .pca_explained = {0.75, 0.25}, .ntraj = 3, .traj_step = tstep,
                     .traj_x = tx, .traj_y = ty, .traj_loss = tl};
    int g1 = -1, g2 = -1;
    rc = store_grid_put(s, id, &gp, loss, NULL, &g1, &e);
    gp.ntraj = 2;
    gp.traj_step = tstep + 1;
    gp.traj_x = tx + 1;
    gp.traj_y = ty + 1;
    gp.traj_loss = tl + 1;
    gp.pca_explained[0] = 0.875;
    rc |= store_grid_put(s, id, &gp, loss, NULL, &g2, &e);
    CHECK(rc == 0 && g1 == 1 && g2 == 2
          && q1(s, "SELECT pca_explained1 + pca_explained2 FROM landscape_grids WHERE grid = 1") == 1
          && q1(s, "SELECT pca_explained1 FROM landscape_grids WHERE grid = 2") == 0.875
          && q1(s, "SELECT count(*) FROM trajectories WHERE basis = 'pca'") == 2
          && q1(s, "SELECT count(*) FROM trajectories WHERE basis = 'pca' AND grid = 2") == 2
          && q1(s, "SELECT x FROM trajectories WHERE basis = 'pca' AND step = 20") == -1
          && q1(s, "SELECT count(*) FROM trajectories WHERE basis = 'theta'") == 1,
          "probes: a pca grid's ratios and trajectory, replaced by the next", "%s", e.msg);
    long *steps = NULL;
    size_t nsteps = 0;
    rc = store_ckpt_steps(s, id, STORE_SNAPSHOT, -1, &steps, &nsteps, &e);
    int ok = rc == 0 && nsteps == 2 && steps[0] == 10 && steps[1] == 20;
    free(steps);
    rc = store_ckpt_steps(s, id, STORE_SNAPSHOT, 15, &steps, &nsteps, &e);
    ok &= rc == 0 && nsteps == 1 && steps[0] == 10;
    free(steps);
    rc = store_ckpt_steps(s, id, STORE_SNAPSHOT, 5, &steps, &nsteps, &e);
    CHECK(ok && rc == 0 && nsteps == 0 && !steps, "ckpt: snapshot steps listed, up to a step",
          "%s", e.msg);
    rc = store_run_truncate(s, id, 10, &e);
    CHECK(rc == 0 && q1(s, "SELECT max(step) FROM metrics") == 10
          && q1(s, "SELECT count(*) FROM checkpoints WHERE kind = 'snapshot'") == 1
          && q1(s, "SELECT count(*) FROM checkpoints WHERE kind = 'resume'") == 1
          && q1(s, "SELECT count(*) FROM hessian_eigs") == 0
          && q1(s, "SELECT count(*) FROM landscape_points") == 0
          && q1(s, "SELECT count(*) FROM trajectories") == 0,
          "truncate: rows past the checkpoint deleted", "%s", e.msg);
    store_close(s);
}

/* Two processes write 3000 metric rows each, flushing every 100, on one file. */
static void test_concurrent(void)
{
    char p[512];
    err e = {0};
    store *s;
    path(p, "conc.db");
    if (store_open(p, &s, &e) || reg(s, "exp", "ef", 2, 0, &e)) {
        CHECK(0, "concurrent: open", "%s", e.msg);
        return;
    }
    store_close(s);
    pid_t kids[2];
    for (int w = 0; w < 2; w++) {
        if ((kids[w] = fork()) == 0) {
            char id[65];
            err ce = {0};
            store *cs;
            int rc = store_open(p, &cs, &ce);
            id_of(id, "ef", w);
            for (long k = 0; !rc && k < 3000; k++) {
                rc = store_metric(cs, id, "batch_loss", k, 0, (double)k, &ce);
                if (!rc && k % 100 == 99)
                    rc = store_flush(cs, &ce) || store_run_heartbeat(cs, id, k, &ce);
            }
            if (rc)
                fprintf(stderr, "worker %d: %s\n", w, ce.msg);
            store_close(cs);
            _exit(rc ? 1 : 0);
        }
    }
    int ok = 1;
    for (int w = 0; w < 2; w++) {
        int status;
        waitpid(kids[w], &status, 0);
        ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    store_open(p, &s, &e);
    char buf[64];
    CHECK(ok && q1(s, "SELECT count(*) FROM metrics") == 6000, "concurrent: 2 writers, all rows",
          "ok %d rows %g", ok, q1(s, "SELECT count(*) FROM metrics"));
    CHECK(strcmp(text1(s, "PRAGMA integrity_check", buf, sizeof buf), "ok") == 0,
          "concurrent: integrity_check", "%s", buf);
    store_close(s);
}

static void test_merge(void)
{
    char a[512], b[512], o[512];
    const char *ins[2] = {a, b};
    err e = {0};
    store *s;
    path(a, "m1.db");
    path(b, "m2.db");
    path(o, "merged.db");
    int res, rc = 0;
    for (int k = 0; k < 2; k++) {
        rc |= store_open(ins[k], &s, &e);
        rc |= reg(s, "exp", k ? "bb" : "aa", 2, 10 * k, &e);
        for (int i = 0; i < 2; i++) {
            char id[65];
            id_of(id, k ? "bb" : "aa", i);
            rc |= store_run_claim(s, id, &prov, 0, &res, &e);
            for (long t = 0; t < 50; t++)
                rc |= store_metric(s, id, "train_loss", t, 0, 1.0 / (double)(t + 1), &e);
            rc |= store_run_finish(s, id, STORE_COMPLETED, NULL, &e);
        }
        store_close(s);
    }
    CHECK(rc == 0, "merge: inputs", "%s", e.msg);
    rc = store_merge(o, ins, 2, &e);
    CHECK(rc == 0, "merge: once", "%s", e.msg);
    rc = store_merge(o, ins, 2, &e);
    CHECK(rc == 0, "merge: twice", "%s", e.msg);
    char buf[64];
    if (!store_open(o, &s, &e)) {
        CHECK(q1(s, "SELECT count(*) FROM runs") == 4 && q1(s, "SELECT count(*) FROM metrics") == 200
              && q1(s, "SELECT count(*) FROM params") == 8
              && q1(s, "SELECT count(*) FROM experiment_runs") == 4,
              "merge: no duplicates", "runs %g metrics %g", q1(s, "SELECT count(*) FROM runs"),
              q1(s, "SELECT count(*) FROM metrics"));
        CHECK(strcmp(text1(s, "PRAGMA integrity_check", buf, sizeof buf), "ok") == 0,
              "merge: integrity_check", "%s", buf);
        CHECK(q1(s, "SELECT lr FROM runs_wide LIMIT 1") == 0.1, "merge: runs_wide refreshed", "-");
        store_close(s);
    }
    path(a, "missing.db");
    rc = store_merge(o, ins, 1, &e);
    CHECK(rc == ERR_DATA && strstr(e.msg, "missing.db"), "merge: missing input named", "%s", e.msg);
}

/* Issue 18, findings 2, 3 and 6: ownership and the file under a writer. */
static void test_owner(void)
{
    char p[512], id[65], q[256];
    err e = {0};
    store *a, *b;
    path(p, "owner.db");
    if (store_open(p, &a, &e) || reg(a, "exp", "cc", 1, 1, &e) || store_open(p, &b, &e)) {
        CHECK(0, "owner: open", "%s", e.msg);
        return;
    }
    id_of(id, "cc", 0);
    int res = -1, rc = store_run_claim(a, id, &prov, 0, &res, &e);
    CHECK(rc == 0 && res == STORE_CLAIMED, "owner: a claims", "%s", e.msg);
    for (long k = 0; k < 3; k++)
        store_metric(a, id, "batch_loss", k, 0, 1.0, &e);
    rc = store_flush(a, &e);
    CHECK(rc == 0 && q1(a, "SELECT count(*) FROM metrics") == 3, "owner: a writes while it owns",
          "%s", e.msg);
    /* a stopped past the stale limit: b takes the run over */
    snprintf(q, sizeof q, "UPDATE runs SET heartbeat = heartbeat - %g", STORE_STALE_S + 1);
    sql(b, q);
    rc = store_run_claim(b, id, &prov, 0, &res, &e);
    CHECK(rc == 0 && res == STORE_CLAIMED, "owner: b takes the stale run over", "%s", e.msg);
    store_metric(a, id, "batch_loss", 3, 0, 1.0, &e);
    rc = store_flush(a, &e);
    CHECK(rc == ERR_SYS && strstr(e.msg, "taken over") && store_claim_lost(a)
          && q1(a, "SELECT count(*) FROM metrics") == 3,
          "owner: a's next write is refused, nothing written, claim lost", "rc %d %s", rc, e.msg);
    rc = store_run_finish(a, id, STORE_COMPLETED, NULL, &e);
    char st[16], ver[64];
    store_run_status(a, id, st, ver, &e);
    CHECK(rc == ERR_SYS && strcmp(st, STORE_RUNNING) == 0, "owner: a lost claim marks nothing",
          "rc %d status %s", rc, st);
    CHECK(store_run_release(a) == 1 && !store_claim_lost(a), "owner: release reports the loss", "-");
    rc = store_run_finish(b, id, STORE_COMPLETED, NULL, &e);
    CHECK(rc == 0, "owner: b finishes the run", "%s", e.msg);
    store_close(b);

    /* a zombie owner (killed, not reaped) is dead */
    pid_t z = fork();
    if (z == 0) {
        pause();
        _exit(0);
    }
    kill(z, SIGKILL);
    struct timespec ms = {0, 100000000};
    nanosleep(&ms, NULL);   /* dead, not reaped: a zombie */
    char stat_[64], buf[256] = "";
    snprintf(stat_, sizeof stat_, "/proc/%d/stat", (int)z);
    FILE *f = fopen(stat_, "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = 0;
        fclose(f);
    }
    reg(a, "exp", "cd", 1, 1, &e);
    id_of(id, "cd", 0);
    store_run_claim(a, id, &prov, 0, &res, &e);
    snprintf(q, sizeof q, "UPDATE runs SET owner_pid = %d WHERE id = '%s'", (int)z, id);
    sql(a, q);
    rc = store_run_claim(a, id, &prov, 0, &res, &e);
    CHECK(rc == 0 && res == STORE_CLAIMED && strstr(buf, ") Z"), "owner: a zombie owner is dead",
          "res %d, /proc: %.60s", res, buf);
    waitpid(z, NULL, 0);

    /* the heartbeat thread keeps a claim fresh while the owner computes */
    store_close(a);
    setenv("BASIN_STALE_S", "1", 1);
    store_open(p, &a, &e);
    store_open(p, &b, &e);
    reg(a, "exp", "ce", 1, 1, &e);
    id_of(id, "ce", 0);
    rc = store_run_claim(a, id, &prov, 0, &res, &e);
    struct timespec wait = {2, 500000000};
    nanosleep(&wait, NULL);   /* 2.5 stale limits without a write of a's */
    rc = store_run_claim(b, id, &prov, 0, &res, &e);
    CHECK(rc == 0 && res == STORE_SKIP_BUSY, "owner: a busy owner's heartbeat thread keeps it live",
          "res %d %s", res, e.msg);
    store_close(b);
    unsetenv("BASIN_STALE_S");

    /* the file deleted, or replaced, under a writer */
    store_metric(a, id, "batch_loss", 0, 0, 1.0, &e);
    char wal[600], moved[600];
    snprintf(moved, sizeof moved, "%s.moved", p);
    rename(p, moved);
    rc = store_flush(a, &e);
    CHECK(rc == ERR_SYS && strstr(e.msg, "deleted or moved"), "file: a moved database is an error",
          "rc %d %s", rc, e.msg);
    rename(moved, p);
    snprintf(wal, sizeof wal, "%s-wal", p);
    rc = store_flush(a, &e);
    CHECK(rc == 0, "file: moved back, writes go on", "%s", e.msg);
    store_metric(a, id, "batch_loss", 1, 0, 1.0, &e);
    unlink(wal);
    rc = store_flush(a, &e);
    CHECK(rc == ERR_SYS && strstr(e.msg, "-wal file was deleted"), "file: a deleted -wal is an error",
          "rc %d %s", rc, e.msg);
    store_close(a);
}

/* A file's bytes (*n of them; the caller frees), NULL when it cannot be read. */
static char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    char *b = NULL;
    *n = 0;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        if (len >= 0 && (b = malloc((size_t)len + 1)) && fseek(f, 0, SEEK_SET) == 0)
            *n = fread(b, 1, (size_t)len, f);
    }
    fclose(f);
    return b;
}

/* Whether the file at `p` holds the bytes b[0..n). */
static int same_bytes(const char *p, const char *b, size_t n)
{
    size_t m;
    char *now = slurp(p, &m);
    int same = now && b && m == n && memcmp(now, b, n) == 0;
    free(now);
    return same;
}

/* `q` on the database at `p` through a connection of its own (SQLITE_OK or the rc). */
static int raw(const char *p, const char *q)
{
    sqlite3 *db;
    int rc = sqlite3_open(p, &db);
    rc = rc ? rc : sqlite3_exec(db, q, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

/* PRAGMA user_version of the database at `p`, read without writing (-1: unreadable). */
static int raw_version(const char *p)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

/* A store at `p` with one COMPLETED run of `tag`: train_loss 1/(t+1) at epoch t/2 for
 * t < 5, a 3 x 2 landscape grid and a theta trajectory point. */
static int merge_src(const char *p, const char *tag, err *e)
{
    store *s;
    char id[65];
    int res, grid, rc = store_open(p, &s, e);
    if (rc)
        return rc;
    id_of(id, tag, 0);
    double loss[6] = {1, 2, 3, 4, 5, 6};
    store_grid g = {.step = 4, .split = "train", .dir_seed = 7, .normalization = "filter",
                    .x0 = -1, .x1 = 1, .y0 = -2, .y1 = 2, .nx = 3, .ny = 2, .axes = "random",
                    .ignore_biasbn = 1, .samples = 6, .subset = "first"};
    rc = reg(s, "exp", tag, 1, 0, e);
    rc = rc ? rc : store_run_claim(s, id, &prov, 0, &res, e);
    for (long t = 0; !rc && t < 5; t++)
        rc = store_metric(s, id, "train_loss", t, (double)t / 2, 1.0 / (double)(t + 1), e);
    rc = rc ? rc : store_traj(s, id, "theta", 4, 0.5, -0.5, 0.2, e);
    rc = rc ? rc : store_grid_put(s, id, &g, loss, NULL, &grid, e);
    rc = rc ? rc : store_run_finish(s, id, STORE_COMPLETED, NULL, e);
    store_close(s);
    return rc;
}

/* Columns are merged by name, every input's schema is checked against the version it
 * claims, and no input is written (an older one is not migrated) (issue 18, finding 7). */
static void test_merge_schema(void)
{
    char a[512], o[512], v2[512], o2[512], bad[512], buf[64];
    const char *ins[1] = {a};
    err e = {0};
    store *s;
    path(a, "perm.db");
    path(o, "perm_out.db");
    /* metrics with its columns in another order (a table rebuilt by hand or a tool) */
    int rc = merge_src(a, "pm", &e);
    rc = rc ? rc : raw(a, "PRAGMA legacy_alter_table = ON;"
                       "CREATE TABLE m2(value REAL, wall REAL, step INTEGER NOT NULL, run TEXT "
                       "NOT NULL, epoch REAL, key TEXT NOT NULL, UNIQUE(run, key, step));"
                       "INSERT INTO m2(value, wall, step, run, epoch, key) SELECT value, wall, "
                       "step, run, epoch, key FROM metrics;"
                       "DROP TABLE metrics; ALTER TABLE m2 RENAME TO metrics");
    CHECK(rc == 0, "merge schema: an input with metrics' columns in another order", "rc %d %s",
          rc, e.msg);
    size_t na;
    char *before = slurp(a, &na);
    rc = store_merge(o, ins, 1, &e);
    CHECK(rc == 0, "merge schema: reordered columns merge", "%s", e.msg);
    if (!store_open(o, &s, &e)) {
        CHECK(q1(s, "SELECT count(*) FROM metrics") == 5
              && q1(s, "SELECT value FROM metrics WHERE key = 'train_loss' AND step = 2") == 1.0 / 3
              && q1(s, "SELECT epoch FROM metrics WHERE key = 'train_loss' AND step = 2") == 1
              && q1(s, "SELECT count(*) FROM metrics WHERE run LIKE 'pm%'") == 5,
              "merge schema: columns copied by name, not by position", "value %g epoch %g",
              q1(s, "SELECT value FROM metrics WHERE step = 2"),
              q1(s, "SELECT epoch FROM metrics WHERE step = 2"));
        store_close(s);
    }
    CHECK(same_bytes(a, before, na), "merge schema: the input's bytes unchanged", "-");
    free(before);

    /* schemas that are not the version they claim: refused, naming the difference, OUT
     * unchanged */
    static const struct { const char *name, *sql, *says; } mismatch[] = {
        {"a column missing", "ALTER TABLE metrics DROP COLUMN wall", "metrics.wall"},
        {"a column of another type", "PRAGMA writable_schema = ON; UPDATE sqlite_master SET "
         "sql = replace(sql, 'seed INTEGER NOT NULL', 'seed TEXT NOT NULL') WHERE name = 'runs'",
         "runs.seed"},
        {"an extra column", "ALTER TABLE trace ADD COLUMN extra REAL", "trace.extra"},
        {"an extra table", "CREATE TABLE notes(x)", "notes"},
        {"a table missing", "DROP TABLE collapse", "collapse"},
        {"claims version 2, holds 3's columns", "PRAGMA user_version = 2", "pca_explained1"},
    };
    path(bad, "mismatch.db");
    for (size_t k = 0; k < sizeof mismatch / sizeof mismatch[0]; k++) {
        char name[128];
        snprintf(name, sizeof name, "merge schema: refused: %s", mismatch[k].name);
        remove(bad);
        rc = merge_src(bad, "mm", &e);
        rc = rc ? rc : raw(bad, mismatch[k].sql);
        const char *one[1] = {bad};
        e = (err){0};
        rc = rc ? rc : store_merge(o, one, 1, &e);
        CHECK(rc == ERR_DATA && strstr(e.msg, "mismatch.db") && strstr(e.msg, mismatch[k].says)
              && strstr(e.msg, "version"), name, "rc %d %s", rc, e.msg);
    }
    if (!store_open(o, &s, &e)) {
        CHECK(q1(s, "SELECT count(*) FROM runs") == 1 && q1(s, "SELECT count(*) FROM metrics") == 5,
              "merge schema: refused inputs left OUT unchanged", "runs %g",
              q1(s, "SELECT count(*) FROM runs"));
        store_close(s);
    }

    /* an input of schema version 1 (the fuzz corpus's shard.db, a real shard of that
     * version, copied here): merged by name, the columns later versions added NULL, and
     * not migrated: its bytes and version stay */
    path(v2, "old1.db");
    path(o2, "old1_out.db");
    before = slurp("tests/fuzz/corpus/merge/shard.db", &na);
    FILE *f = before ? fopen(v2, "wb") : NULL;
    rc = !f || fwrite(before, 1, na, f) != na;
    rc |= f && fclose(f) != 0;
    CHECK(rc == 0 && raw_version(v2) == 1, "merge schema: a version-1 shard (tests/fuzz/corpus)",
          "cannot copy tests/fuzz/corpus/merge/shard.db (run from the repository root)");
    const char *old[1] = {v2};
    rc = rc ? rc : store_merge(o2, old, 1, &e);
    CHECK(rc == 0, "merge schema: an input of version 1 merges", "%s", e.msg);
    rc = rc ? rc : store_merge(o2, old, 1, &e);
    CHECK(raw_version(v2) == 1 && same_bytes(v2, before, na),
          "merge schema: the version-1 input is not migrated (bytes unchanged)", "version %d",
          raw_version(v2));
    free(before);
    if (!rc && !store_open(o2, &s, &e)) {
        CHECK(q1(s, "SELECT count(*) FROM metrics") == 24 && q1(s, "SELECT count(*) FROM params") == 77
              && q1(s, "SELECT count(*) FROM checkpoints WHERE kind = 'snapshot' AND step = 4") == 1
              && strcmp(text1(s, "SELECT status FROM runs", buf, sizeof buf), "COMPLETED") == 0
              && q1(s, "SELECT lr FROM runs_wide") > 0,
              "merge schema: version 1's rows by name, merged twice once", "metrics %g params %g",
              q1(s, "SELECT count(*) FROM metrics"), q1(s, "SELECT count(*) FROM params"));
        store_close(s);
    }
}

/* Run `tag`00... in a new store at `p`, as one copy of it: `status`, batch_loss
 * base + t at steps 0..last, runs.step = last, a snapshot at `last` and, when `resume`,
 * a resume checkpoint there. */
static int run_copy(const char *p, const char *tag, const char *status, long last, double base,
                    int resume, err *e)
{
    store *s;
    char id[65];
    int res, rc = store_open(p, &s, e);
    if (rc)
        return rc;
    id_of(id, tag, 0);
    double th[2] = {base, (double)last};
    store_ckpt c = {last, 0, th, 2, th, 2, "x", 1};
    rc = reg(s, "exp", tag, 1, 0, e);
    rc = rc ? rc : store_run_claim(s, id, &prov, 0, &res, e);
    for (long t = 0; !rc && t <= last; t++)
        rc = store_metric(s, id, "batch_loss", t, 0, base + (double)t, e);
    rc = rc || !resume ? rc : store_ckpt_put(s, id, STORE_RESUME, &c, e);
    rc = rc ? rc : store_ckpt_put(s, id, STORE_SNAPSHOT, &c, e);
    rc = rc ? rc : store_run_heartbeat(s, id, last, e);
    rc = rc ? rc : store_run_finish(s, id, status, NULL, e);
    store_close(s);
    return rc;
}

/* Merge ins[0..n) into a new store `out` (removed first); 0 or the status. */
static int merge_fresh(const char *out, const char *const *ins, int n, err *e)
{
    char wal[600];
    remove(out);
    snprintf(wal, sizeof wal, "%s-wal", out);
    remove(wal);
    return store_merge(out, ins, n, e);
}

/* The rows of every table of the store at p, one number (for "merging again adds
 * nothing"). */
static double all_rows(store *s)
{
    static const char *const t[] = {"runs", "experiments", "experiment_runs", "params",
        "metrics", "hessian_eigs", "density", "trace", "sharpness", "collapse",
        "landscape_grids", "landscape_points", "trajectories", "checkpoints"};
    double n = 0;
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        char q[96];
        snprintf(q, sizeof q, "SELECT count(*) FROM %s", t[k]);
        n += q1(s, q);
    }
    return n;
}

/* A probe result is one unit, all its rows or none; a final run's training state is not
 * overwritten by an unfinished copy's; grids that differ are all kept (issue 18,
 * finding 8). */
static void test_merge_units(void)
{
    char h1[512], h2[512], o[512], c[512], i[512], a[512], b[512], g1[512], g2[512], g3[512];
    char buf[64], id[65];
    err e = {0};
    store *s;
    id_of(id, "uu", 0);
    path(h1, "h1.db");
    path(h2, "h2.db");
    path(o, "units_out.db");
    /* two post-hoc Hessians of one completed run, --top 2 and --top 5, and densities */
    int rc = run_copy(h1, "uu", STORE_COMPLETED, 9, 0, 0, &e);
    rc = rc ? rc : run_copy(h2, "uu", STORE_COMPLETED, 9, 0, 0, &e);
    double top2[2] = {10, 9}, top5[5] = {20, 19, 18, 17, 16}, w[5] = {.2, .2, .2, .2, .2};
    if (!rc && !(rc = store_open(h1, &s, &e))) {
        rc = store_eigs_put(s, id, 9, "lanczos", top2, 2, &e);
        rc = rc ? rc : store_density_put(s, id, 9, top2, w, 2, &e);
        store_close(s);
    }
    if (!rc && !(rc = store_open(h2, &s, &e))) {
        rc = store_eigs_put(s, id, 9, "lanczos", top5, 5, &e);
        rc = rc ? rc : store_density_put(s, id, 9, top5, w, 5, &e);
        store_close(s);
    }
    CHECK(rc == 0, "merge units: two Hessians of one run", "%s", e.msg);
    const char *hh[2] = {h1, h2}, *hr[2] = {h2, h1};
    rc = merge_fresh(o, hh, 2, &e);
    rc = rc ? rc : store_merge(o, hh, 2, &e);
    if (!rc && !store_open(o, &s, &e)) {
        CHECK(q1(s, "SELECT count(*) FROM hessian_eigs") == 2
              && q1(s, "SELECT sum(value) FROM hessian_eigs") == 19
              && q1(s, "SELECT count(*) FROM density") == 2
              && q1(s, "SELECT sum(node) FROM density") == 19,
              "merge units: a spectrum is one unit, OUT's kept (no k = 2..4 spliced on)",
              "%g eigenvalue rows summing to %g, %g density rows",
              q1(s, "SELECT count(*) FROM hessian_eigs"),
              q1(s, "SELECT sum(value) FROM hessian_eigs"),
              q1(s, "SELECT count(*) FROM density"));
        store_close(s);
    } else
        CHECK(0, "merge units: a spectrum is one unit, OUT's kept (no k = 2..4 spliced on)", "%s",
              e.msg);
    rc = merge_fresh(o, hr, 2, &e);
    if (!rc && !store_open(o, &s, &e)) {
        CHECK(q1(s, "SELECT count(*) FROM hessian_eigs") == 5
              && q1(s, "SELECT sum(value) FROM hessian_eigs") == 90,
              "merge units: in the other order, the other spectrum whole", "%g rows",
              q1(s, "SELECT count(*) FROM hessian_eigs"));
        store_close(s);
    }

    /* a COMPLETED copy, then an older INTERRUPTED one with a resume checkpoint (and a
     * probe result the completed copy lacks) */
    path(c, "done.db");
    path(i, "interrupted.db");
    rc = run_copy(c, "uu", STORE_COMPLETED, 9, 0, 0, &e);
    rc = rc ? rc : run_copy(i, "uu", STORE_INTERRUPTED, 5, 100, 1, &e);
    if (!rc && !(rc = store_open(i, &s, &e))) {
        rc = store_trace_put(s, id, 3, 8.0, 0.5, 10, &e);
        store_close(s);
    }
    const char *ci[2] = {c, i}, *ic[2] = {i, c};
    rc = rc ? rc : merge_fresh(o, ci, 2, &e);
    CHECK(rc == 0, "merge units: completed, then interrupted", "%s", e.msg);
    if (!rc && !store_open(o, &s, &e)) {
        CHECK(strcmp(text1(s, "SELECT status FROM runs", buf, sizeof buf), "COMPLETED") == 0
              && q1(s, "SELECT step FROM runs") == 9
              && q1(s, "SELECT count(*) FROM checkpoints WHERE kind = 'resume'") == 0
              && q1(s, "SELECT count(*) FROM checkpoints") == 1
              && q1(s, "SELECT count(*) FROM metrics") == 10
              && q1(s, "SELECT max(value) FROM metrics") == 9,
              "merge units: nothing of an interrupted copy's training lands on a COMPLETED run",
              "status %s, %g resume checkpoints, %g metric rows up to %g",
              text1(s, "SELECT status FROM runs", buf, sizeof buf),
              q1(s, "SELECT count(*) FROM checkpoints WHERE kind = 'resume'"),
              q1(s, "SELECT count(*) FROM metrics"), q1(s, "SELECT max(value) FROM metrics"));
        CHECK(q1(s, "SELECT count(*) FROM trace WHERE step = 3") == 1,
              "merge units: a probe result OUT lacks is copied onto its COMPLETED run", "-");
        store_close(s);
    }
    rc = merge_fresh(o, ic, 2, &e);
    if (!rc && !store_open(o, &s, &e)) {
        CHECK(strcmp(text1(s, "SELECT status FROM runs", buf, sizeof buf), "COMPLETED") == 0
              && q1(s, "SELECT count(*) FROM checkpoints WHERE kind = 'resume'") == 0
              && q1(s, "SELECT count(*) FROM checkpoints") == 1
              && q1(s, "SELECT count(*) FROM metrics") == 10
              && q1(s, "SELECT max(value) FROM metrics") == 9
              && q1(s, "SELECT count(*) FROM trace") == 1,
              "merge units: interrupted, then completed: the completed copy replaces its training",
              "status %s, %g metric rows", text1(s, "SELECT status FROM runs", buf, sizeof buf),
              q1(s, "SELECT count(*) FROM metrics"));
        store_close(s);
    } else
        CHECK(0, "merge units: interrupted, then completed", "%s", e.msg);

    /* neither final: the copy with the larger step, whole */
    path(a, "int3.db");
    path(b, "int6.db");
    rc = run_copy(a, "uu", STORE_INTERRUPTED, 3, 0, 1, &e);
    rc = rc ? rc : run_copy(b, "uu", STORE_INTERRUPTED, 6, 50, 1, &e);
    const char *ab[2] = {a, b}, *ba[2] = {b, a};
    for (int k = 0; k < 2; k++) {
        rc = rc ? rc : merge_fresh(o, k ? ba : ab, 2, &e);
        if (!rc && !store_open(o, &s, &e)) {
            CHECK(q1(s, "SELECT step FROM runs") == 6
                  && q1(s, "SELECT count(*) FROM checkpoints WHERE kind = 'resume'") == 1
                  && q1(s, "SELECT step FROM checkpoints WHERE kind = 'resume'") == 6
                  && q1(s, "SELECT count(*) FROM checkpoints") == 2
                  && q1(s, "SELECT count(*) FROM metrics") == 7
                  && q1(s, "SELECT min(value) FROM metrics") == 50,
                  k ? "merge units: neither final, the larger step first: it stays whole"
                    : "merge units: neither final, the larger step second: it replaces the other",
                  "step %g, %g resume checkpoints, %g metric rows from %g",
                  q1(s, "SELECT step FROM runs"),
                  q1(s, "SELECT count(*) FROM checkpoints WHERE kind = 'resume'"),
                  q1(s, "SELECT count(*) FROM metrics"), q1(s, "SELECT min(value) FROM metrics"));
            store_close(s);
        } else
            CHECK(0, "merge units: neither final", "%s", e.msg);
    }

    /* grids: g1's grid 0 is A; g2's grid 0 is B (pca, with its trajectory) and its grid
     * 1 is A again; g3 holds A twice */
    path(g1, "g1.db");
    path(g2, "g2.db");
    path(g3, "g3.db");
    double loss[6] = {1, 2, 3, 4, 5, 6};
    long tstep[2] = {3, 9};
    double tx[2] = {-1, 0}, ty[2] = {1, 0}, tl[2] = {2, 1};
    store_grid ga = {.step = 9, .split = "train", .dir_seed = 7, .normalization = "filter",
                     .x0 = -1, .x1 = 1, .y0 = -2, .y1 = 2, .nx = 3, .ny = 2, .axes = "random",
                     .ignore_biasbn = 1, .samples = 6, .subset = "first"};
    store_grid gb = {.step = 9, .split = "train", .normalization = "none", .x0 = -3, .x1 = 3,
                     .y0 = -1, .y1 = 1, .nx = 3, .ny = 2, .axes = "pca",
                     .pca_explained = {0.75, 0.25}, .ntraj = 2, .traj_step = tstep,
                     .traj_x = tx, .traj_y = ty, .traj_loss = tl};
    int gn[4] = {-1, -1, -1, -1};
    rc = run_copy(g1, "uu", STORE_COMPLETED, 9, 0, 0, &e);
    rc = rc ? rc : run_copy(g2, "uu", STORE_COMPLETED, 9, 0, 0, &e);
    rc = rc ? rc : run_copy(g3, "uu", STORE_COMPLETED, 9, 0, 0, &e);
    if (!rc && !(rc = store_open(g1, &s, &e))) {
        rc = store_grid_put(s, id, &ga, loss, NULL, &gn[0], &e);
        store_close(s);
    }
    if (!rc && !(rc = store_open(g2, &s, &e))) {
        rc = store_grid_put(s, id, &gb, loss, NULL, &gn[1], &e);
        rc = rc ? rc : store_grid_put(s, id, &ga, loss, NULL, &gn[2], &e);
        store_close(s);
    }
    if (!rc && !(rc = store_open(g3, &s, &e))) {
        rc = store_grid_put(s, id, &ga, loss, NULL, &gn[3], &e);
        rc = rc ? rc : store_grid_put(s, id, &ga, loss, NULL, &gn[3], &e);
        store_close(s);
    }
    CHECK(rc == 0 && gn[0] == 0 && gn[1] == 0 && gn[2] == 1 && gn[3] == 1,
          "merge units: grids", "%s", e.msg);
    const char *gg[2] = {g1, g2};
    rc = rc ? rc : merge_fresh(o, gg, 2, &e);
    if (!rc && !store_open(o, &s, &e)) {
        CHECK(q1(s, "SELECT count(*) FROM landscape_grids") == 2
              && q1(s, "SELECT count(*) FROM landscape_points") == 12
              && q1(s, "SELECT x0 FROM landscape_grids WHERE grid = 0") == -1
              && q1(s, "SELECT x0 FROM landscape_grids WHERE grid = 1") == -3
              && q1(s, "SELECT min(alpha) FROM landscape_points WHERE grid = 1") == -3
              && q1(s, "SELECT min(alpha) FROM landscape_points WHERE grid = 0") == -1,
              "merge units: two different grids 0: both kept (the input's renumbered 1), an "
              "identical one once", "%g grids, %g points",
              q1(s, "SELECT count(*) FROM landscape_grids"),
              q1(s, "SELECT count(*) FROM landscape_points"));
        CHECK(q1(s, "SELECT count(*) FROM trajectories WHERE basis = 'pca'") == 2
              && q1(s, "SELECT count(*) FROM trajectories WHERE basis = 'pca' AND grid = 1") == 2,
              "merge units: the pca trajectory follows its grid's new number",
              "%g rows with grid 1",
              q1(s, "SELECT count(*) FROM trajectories WHERE basis = 'pca' AND grid = 1"));
        double n1 = all_rows(s);
        store_close(s);
        rc = store_merge(o, gg, 2, &e);
        if (!rc && !store_open(o, &s, &e)) {
            CHECK(all_rows(s) == n1 && q1(s, "SELECT count(*) FROM landscape_grids") == 2,
                  "merge units: grids merged again: nothing added", "%g rows, were %g",
                  all_rows(s), n1);
            store_close(s);
        }
    } else
        CHECK(0, "merge units: two different grids 0", "%s", e.msg);
    const char *g33[1] = {g3};
    rc = merge_fresh(o, g33, 1, &e);
    rc = rc ? rc : store_merge(o, g33, 1, &e);
    if (!rc && !store_open(o, &s, &e)) {
        CHECK(q1(s, "SELECT count(*) FROM landscape_grids") == 2
              && q1(s, "SELECT count(*) FROM landscape_points") == 12,
              "merge units: an input's two identical grids stay two, merged twice", "%g grids",
              q1(s, "SELECT count(*) FROM landscape_grids"));
        store_close(s);
    }

    /* everything at once, then again: nothing added */
    const char *every[8] = {h1, c, i, a, b, g1, g2, g3};
    rc = merge_fresh(o, every, 8, &e);
    double n1 = -1, n2 = -2;
    if (!rc && !store_open(o, &s, &e)) {
        n1 = all_rows(s);
        store_close(s);
    }
    rc = rc ? rc : store_merge(o, every, 8, &e);
    if (!rc && !store_open(o, &s, &e)) {
        n2 = all_rows(s);
        CHECK(strcmp(text1(s, "PRAGMA integrity_check", buf, sizeof buf), "ok") == 0,
              "merge units: integrity_check", "%s", buf);
        store_close(s);
    }
    CHECK(rc == 0 && n1 == n2, "merge units: eight inputs merged again: nothing added",
          "%g rows, then %g: %s", n1, n2, e.msg);
}

/* Merging a database into itself (also through a symlink, ./a.db or a hard link), an
 * input given twice, OUT given as an input: refused at once (ERR_USAGE), before OUT is
 * opened, instead of waiting 60 s on the database's own write lock. */
static void test_merge_self(void)
{
    char a[512], b[512], o[512], lnk[512], dot[512], hard[512];
    err e = {0};
    store *s;
    path(a, "self_a.db");
    path(b, "self_b.db");
    path(o, "self_o.db");
    path(lnk, "self_link.db");
    path(hard, "self_hard.db");
    snprintf(dot, sizeof dot, "%s/./self_a.db", dir);
    int rc = 0;
    for (int k = 0; k < 2; k++) {
        rc |= store_open(k ? b : a, &s, &e);
        rc |= reg(s, "exp", k ? "sb" : "sa", 1, 0, &e);
        store_close(s);
    }
    rc |= symlink(a, lnk) | link(a, hard);
    CHECK(rc == 0, "merge self: inputs", "%s", e.msg);
    struct { const char *name, *out, *ins[3], *says; int n; } cases[] = {
        {"merge self: a.db into a.db", a, {a}, "itself", 1},
        {"merge self: through a symlink", a, {lnk}, "itself", 1},
        {"merge self: through ./a.db", a, {dot}, "itself", 1},
        {"merge self: through a hard link", a, {hard}, "itself", 1},
        {"merge self: OUT among the inputs", a, {b, a}, "itself", 2},
        {"merge self: an input given twice", o, {a, b, a}, "twice", 3},
        {"merge self: an input given twice through a symlink", o, {a, lnk}, "twice", 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        time_t t0 = time(NULL);
        e = (err){0};
        rc = store_merge(cases[c].out, cases[c].ins, cases[c].n, &e);
        CHECK(rc == ERR_USAGE && strstr(e.msg, cases[c].says) && time(NULL) - t0 < 5,
              cases[c].name, "rc %d after %ld s: %s", rc, (long)(time(NULL) - t0), e.msg);
    }
    /* nothing was merged: OUT of the refused merges holds only its own run */
    if (!store_open(a, &s, &e)) {
        CHECK(q1(s, "SELECT count(*) FROM runs") == 1, "merge self: OUT unchanged", "%g runs",
              q1(s, "SELECT count(*) FROM runs"));
        store_close(s);
    }
    CHECK(access(o, F_OK) != 0, "merge self: refused before OUT is created", "%s exists", o);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/basin-store.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 3;
    }
    test_schema();
    test_runs();
    test_ckpt();
    test_concurrent();
    test_merge();
    test_owner();
    test_merge_self();
    test_merge_schema();
    test_merge_units();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done();
}
