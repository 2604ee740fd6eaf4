/* session.c -- the set-up shared by commands that work on one model (session.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/npy.h"
#include "../core/pool.h"
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

int session_open(session *s, enum data_split split, int with_test, err *e)
{
    cfg *c = &s->c;
    int rc;
    if (c->threads && (rc = pool_set_threads(c->threads, e)))
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
    free(s->theta);
    model_free(s->m);
    data_free(s->train);
    data_free(s->test);
}

batch session_batch(const data *d)
{
    return d ? (batch){.x = d->x, .y = d->y, .t = d->t, .n = d->n} : (batch){0};
}

