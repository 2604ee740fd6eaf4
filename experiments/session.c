/* session.c -- the set-up shared by commands that work on one model (session.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/npy.h"
#include "../core/pool.h"
#include "../results/store.h"
#include "session.h"

static int needs_data(const cfg *c)
{
    model_opts probe = c->model;
    model *m = NULL;
    /* test functions take no data; model_new on them is cheap and decides */
    if (model_new(&probe, &m, NULL) == 0 && m->in_dim == 0) {
        model_free(m);
        return 0;
    }
    model_free(m);
    return 1;
}

static int load_split(const cfg *c, enum data_split split, size_t samples, data **out, err *e)
{
    data_opts o = c->data;
    o.split = split;
    o.samples = samples;
    o.seed = c->seed;
    return data_load(&o, out, e);
}

int session_read_vector(const char *path, double *v, size_t n, err *e)
{
    int rc = npy_read_exact(path, v, n, e);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return err_set(e, ERR_DATA, "%s: element %zu is %g; vectors must be finite", path, i, v[i]);
    return 0;
}

int session_check_output(const char *path, err *e)
{
    char dir[4096];
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!path)
        return 0;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
    if (access(dir, W_OK) != 0)
        return err_set(e, ERR_SYS, "%s: cannot write into directory %s", path, dir);
    return 0;
}

/* --- --init RUN[@STEP] --- */

int session_names_run(const char *v)
{
    size_t h = strspn(v, "0123456789abcdef");
    if (h < 4 || h > 64 || access(v, F_OK) == 0)
        return 0;
    return !v[h] || (v[h] == '@' && v[h + 1] && strspn(v + h + 1, "0123456789") == strlen(v + h + 1));
}

/* *out = a copy of the text in the first column of the first row of sql (?1 = id),
 * "" without rows or for NULL. */
static int run_text(store *st, const char *sql, const char *id, char **out, err *e)
{
    sqlite3 *db = store_db(st);
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return err_set(e, ERR_SYS, "--init: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    const char *t = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
    *out = rc == SQLITE_ROW || rc == SQLITE_DONE ? strdup(t ? t : "") : NULL;
    int r = rc != SQLITE_ROW && rc != SQLITE_DONE ? err_set(e, ERR_SYS, "--init: %s", sqlite3_errmsg(db))
          : !*out ? err_set(e, ERR_SYS, "out of memory") : 0;
    sqlite3_finalize(q);
    return r;
}

/* The options --init RUN may narrow: which samples, and their physical batching. */
static int narrowing(const char *key)
{
    return !strcmp(key, "samples") || !strcmp(key, "subset") || !strcmp(key, "chunk");
}

/* Set c's data and model options and seed (the rows of CMD_INIT) from the run's
 * configuration text (key = value lines), tokenized in place: c's strings point into
 * it. A command-line value that differs from the default and from the run's is an
 * error, except for the narrowing options, where it wins. */
static int apply_run_config(cfg *c, char *text, const char *id, err *e)
{
    cfg def;
    cfg_default(&def);
    for (char *line = text, *next; line && *line; line = next) {
        if ((next = strchr(line, '\n')))
            *next++ = 0;
        char *eq = strstr(line, " = "), mine[1024], dflt[1024];
        int cmds, takes = 0, i = 0;
        const char *name;
        if (!eq)
            return err_set(e, ERR_DATA, "run %.12s: configuration line '%.80s' is not key = value",
                           id, line);
        *eq = 0;
        while ((name = cfg_option(i++, &cmds, &takes)) && strcmp(name, line))
            ;
        if (!name || !(cmds & CMD_INIT) || cfg_get(c, CMD_INIT, line, mine, sizeof mine)
            || cfg_get(&def, CMD_INIT, line, dflt, sizeof dflt))
            continue;
        const char *val = eq + 3;
        int given = strcmp(mine, dflt) != 0;
        if (given && !narrowing(line) && strcmp(mine, val))
            return err_set(e, ERR_USAGE, "--%s %s conflicts with run %.12s's %s = %s (--init RUN "
                           "takes the data and model options and the seed from the run)", line,
                           mine, id, line, val);
        if (!given && strcmp(val, dflt) && cfg_set(c, CMD_INIT, line, takes ? val : NULL, e))
            return err_wrap(e, "run %.12s's configuration", id);
    }
    return 0;
}

int session_snapshot(const char *db, const char *spec, const char *flag, char id[65],
                     long *step, char **config, double **theta, size_t *n, err *e)
{
    const char *at = strchr(spec, '@');
    char prefix[65];
    snprintf(prefix, sizeof prefix, "%.*s", at ? (int)(at - spec) : 64, spec);
    long want = at ? strtol(at + 1, NULL, 10) : -1;
    *config = NULL;
    *theta = NULL;
    if (access(db, R_OK) != 0)
        return err_set(e, ERR_USAGE, "%s %s: %s: no such database (--db PATH)", flag, spec, db);
    store *st;
    int rc = store_open_read(db, &st, e), found = 0;
    char *steps = NULL;
    store_ckpt_data ck = {0};
    rc = rc ? rc : store_run_resolve(st, prefix, id, e);
    rc = rc ? rc : run_text(st, "SELECT config FROM runs WHERE id = ?1", id, config, e);
    rc = rc ? rc : store_ckpt_get(st, id, STORE_SNAPSHOT, want, &ck, &found, e);
    if (!rc && !found && !(rc = run_text(st, "SELECT group_concat(step, ' ') FROM (SELECT step "
                                         "FROM checkpoints WHERE run = ?1 AND kind = 'snapshot' "
                                         "ORDER BY step)", id, &steps, e)))
        rc = err_set(e, ERR_DATA, "%s %s: run %.12s has no snapshot%s%s (snapshots: %s; "
                     "[train] snapshot-every)", flag, spec, id, at ? " at step " : "", at ? at + 1 : "",
                     steps[0] ? steps : "none");
    if (!rc) {
        *theta = ck.theta;   /* taken over */
        ck.theta = NULL;
        *step = ck.step;
        *n = ck.n;
    }
    store_ckpt_data_free(&ck);
    free(steps);
    store_close(st);
    return rc;
}

/* --init RUN[@STEP]: resolve the run in --db, apply its configuration to s->c and
 * take its snapshot's theta into s->theta (*n values). */
static int open_run(session *s, size_t *n, err *e)
{
    cfg *c = &s->c;
    int rc = session_snapshot(c->db ? c->db : "results/basin.db", c->init, "--init", s->run,
                              &s->run_step, &s->run_config, &s->theta, n, e);
    return rc ? rc : apply_run_config(c, s->run_config, s->run, e);
}

int session_open(session *s, enum data_split split, int with_test, err *e)
{
    cfg *c = &s->c;
    size_t nrun = 0;
    int rc;
    if (c->threads && (rc = pool_set_threads(c->threads, e)))
        return rc;
    if (c->init && session_names_run(c->init) && (rc = open_run(s, &nrun, e)))
        return rc;
    if (needs_data(c)) {
        if ((rc = load_split(c, split, c->data.samples, &s->train, e)))
            return rc;
        const char *spec = c->data.spec ? c->data.spec : "fashion-mnist";
        int csv_single = strncmp(spec, "csv:", 4) == 0 && !strchr(spec, ',');
        if (with_test && !csv_single && (rc = load_split(c, DATA_TEST, c->test_samples, &s->test, e)))
            return rc;
        c->model.in_dim = s->train->d;
        c->model.out_dim = s->train->classes ? s->train->classes : s->train->tdim;
        if (!s->train->classes && c->model.loss == LOSS_CE)
            return err_set(e, ERR_USAGE, "%s is a regression set: use --loss mse", s->train->name);
    }
    if ((rc = model_new(&c->model, &s->m, e)))
        return rc;
    if (s->run[0])
        return nrun == s->m->n ? 0 : err_set(e, ERR_DATA, "--init %s: the snapshot has %zu "
                                             "parameters, the %s model %zu", c->init, nrun,
                                             s->m->kind, s->m->n);
    s->theta = err_malloc(e, s->m->n * sizeof(double));
    if (!s->theta)
        return ERR_SYS;
    if (!c->init)
        return model_init(s->m, s->theta, c->seed, e);
    if ((rc = session_read_vector(c->init, s->theta, s->m->n, e)))
        return err_wrap(e, "--init (the %s model has %zu parameters)", s->m->kind, s->m->n);
    return 0;
}

void session_close(session *s)
{
    free(s->run_config);
    free(s->theta);
    model_free(s->m);
    data_free(s->train);
    data_free(s->test);
}

batch session_batch(const data *d)
{
    return d ? (batch){.x = d->x, .y = d->y, .t = d->t, .n = d->n} : (batch){0};
}

