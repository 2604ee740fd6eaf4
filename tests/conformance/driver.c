/* driver.c -- basin's side of the optimizer conformance test (optim_conformance.py).
 *
 *   driver OUTDIR [basin train/optimize options] [--steps N]
 *
 * Builds the model, data and theta exactly as `basin train` does (--init THETA.npy
 * from `basin init`, or --function/--start for a 2-D test function), then takes N
 * full-batch optimizer steps (default 100) on the whole training selection and writes
 * into OUTDIR, as 1-D float64 .npy files:
 *   traj.npy  (N + 1, n)  theta before the first step and after every step
 *   dirs.npy  (N, K, n)   the random directions each step drew (forward-grad tangents,
 *                         MeZO's z), only for those optimizers
 *   x.npy (samples, d), y.npy (samples) labels as doubles, when the model takes data.
 * Exit status as basin's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/npy.h"
#include "../../experiments/session.h"

static int write(const char *dir, const char *name, const double *x, size_t n, err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return npy_write(path, x, n, e);
}

static int drive(session *s, const char *dir, err *e)
{
    cfg *c = &s->c;
    long steps = c->steps > 0 ? c->steps : 100;
    int rc = session_open(s, DATA_TRAIN, 0, e);
    if (rc)
        return rc;
    model *m = s->m;
    size_t n = m->n;
    if (c->has_start && n == 2) {
        s->theta[0] = c->start[0];
        s->theta[1] = c->start[1];
    }
    c->hp.sched.total = steps;
    int stochastic = !strcmp(c->optim, "forward-grad") || !strcmp(c->optim, "mezo");
    size_t K = (size_t)(!strcmp(c->optim, "mezo") ? c->hp.zo_samples : c->hp.tangents);
    opt *o = NULL;
    double *traj = err_malloc(e, (size_t)(steps + 1) * n * sizeof *traj);
    double *dirs = stochastic ? err_malloc(e, (size_t)steps * K * n * sizeof *dirs) : NULL;
    rc = !traj || (stochastic && !dirs) ? ERR_SYS : opt_new(c->optim, &c->hp, n, &o, e);
    batch b = session_batch(s->train);
    if (!rc)
        memcpy(traj, s->theta, n * sizeof *traj);
    for (long t = 1; !rc && t <= steps; t++) {
        for (size_t k = 0; stochastic && k < K; k++)
            opt_direction(o, t, (int)k, dirs + ((size_t)(t - 1) * K + k) * n);
        rc = opt_step(o, m, s->theta, b, NULL, e);
        memcpy(traj + (size_t)t * n, s->theta, n * sizeof *traj);
    }
    rc = rc ? rc : write(dir, "traj.npy", traj, (size_t)(steps + 1) * n, e);
    if (!rc && stochastic)
        rc = write(dir, "dirs.npy", dirs, (size_t)steps * K * n, e);
    if (!rc && s->train) {
        const data *d = s->train;
        double *y = err_malloc(e, d->n * sizeof *y);
        for (size_t i = 0; y && i < d->n; i++)
            y[i] = d->y[i];
        rc = y ? write(dir, "x.npy", d->x, d->n * (size_t)d->d, e) : ERR_SYS;
        rc = rc ? rc : write(dir, "y.npy", y, d->n, e);
        free(y);
    }
    opt_free(o);
    free(traj);
    free(dirs);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: driver OUTDIR [basin train options] [--steps N]\n");
        return ERR_USAGE;
    }
    session s = {0};
    err e = {0};
    int help = 0;
    cfg_default(&s.c);
    int rc = cfg_parse_args(&s.c, CMD_TRAIN | CMD_OPTIMIZE, argc - 2, argv + 2, &help, &e);
    rc = rc ? rc : drive(&s, argv[1], &e);
    session_close(&s);
    if (rc)
        fprintf(stderr, "driver: %s\n", e.msg);
    return rc;
}
