/* main.c -- the basin command: dispatch to subcommands, and the commands that work
 * on one model (init, eval, train). Only this file exits; everything below returns
 * err.h statuses, which become the documented exit codes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>

#include "../core/npy.h"
#include "../core/pool.h"
#include "../core/rng.h"
#include "cfg.h"

#define BASIN_VERSION "0.1.0"

static const struct command {
    const char *name;
    int cmd;
    const char *usage;
} commands[] = {
    {"init", CMD_INIT, "basin init [model/data options] --seed S --out THETA.npy\n"
                       "  Write the seeded initial parameters (the theta `basin train --seed S` starts from)."},
    {"eval", CMD_EVAL, "basin eval [model/data options] [--init THETA.npy] [--grad-out G.npy]\n"
                       "           [--jvp-in V.npy] [--hvp-in V.npy --hvp-out HV.npy]\n"
                       "  Print loss=... accuracy=... (17 significant digits) of theta on a split;\n"
                       "  optionally the gradient, a forward-mode JVP and an exact Hessian-vector product."},
    {"train", CMD_TRAIN, "basin train [model/data options] --optim sgd --lr ETA [--momentum MU] --batch B\n"
                         "            (--epochs E | --steps S) [--no-shuffle] [--init THETA.npy] [--save THETA.npy]\n"
                         "  Train with mini-batches, progress on stderr; print final train/test loss and accuracy."},
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void usage(FILE *f)
{
    fprintf(f, "basin %s -- numerical experiments on optimizers and loss landscapes\n\n"
               "usage: basin COMMAND [options]   (basin COMMAND --help for its options)\n\n"
               "commands:\n", BASIN_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s\n", commands[i].usage);
    fprintf(f, "\nexit codes: 0 ok, 1 bad data or input file, 2 bad usage, 3 system error\n");
}

/* --- shared set-up: data, model, theta --- */

typedef struct session {
    cfg c;
    data *train, *test;     /* test may be NULL */
    model *m;
    double *theta;          /* (m->n) */
} session;

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

/* Load data (the split `split`; the test split too when `with_test`), build the
 * model, and set theta from --init or the seeded initialization. */
static int session_open(session *s, enum data_split split, int with_test, err *e)
{
    cfg *c = &s->c;
    int rc;
    if (c->threads && (rc = pool_set_threads(c->threads, e)))
        return rc;
    if (needs_data(c)) {
        if ((rc = load_split(c, split, split == DATA_TRAIN ? c->data.samples : c->test_samples,
                             &s->train, e)))
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
    if ((rc = npy_read_exact(c->init, s->theta, s->m->n, e)))
        return err_wrap(e, "--init (the %s model has %zu parameters)", s->m->kind, s->m->n);
    for (size_t i = 0; i < s->m->n; i++)
        if (!isfinite(s->theta[i]))
            return err_set(e, ERR_DATA, "%s: element %zu is %g; theta must be finite",
                           c->init, i, s->theta[i]);
    return 0;
}

static void session_close(session *s)
{
    free(s->theta);
    model_free(s->m);
    data_free(s->train);
    data_free(s->test);
}

static batch whole(const data *d)
{
    return d ? (batch){.x = d->x, .y = d->y, .t = d->t, .n = d->n} : (batch){0};
}

/* --- commands --- */

static int cmd_init(session *s, err *e)
{
    if (!s->c.out)
        return err_set(e, ERR_USAGE, "init: --out THETA.npy is required");
    int rc = session_open(s, DATA_TRAIN, 0, e);
    if (rc)
        return rc;
    if ((rc = npy_write(s->c.out, s->theta, s->m->n, e)))
        return rc;
    printf("wrote %s: %zu parameters (%s, seed %llu)\n", s->c.out, s->m->n, s->m->kind,
           (unsigned long long)s->c.seed);
    return 0;
}

static int cmd_eval(session *s, err *e)
{
    cfg *c = &s->c;
    if (c->hvp_out && !c->hvp_in)
        return err_set(e, ERR_USAGE, "eval: --hvp-out needs --hvp-in V.npy");
    int rc = session_open(s, c->data.split, 0, e);
    if (rc)
        return rc;
    model *m = s->m;
    batch b = whole(s->train);
    model_stats st;
    double *g = NULL, *v = NULL, *hv = NULL;
    rc = model_loss(m, s->theta, b, &st, e);
    if (!rc) {
        printf("loss=%.17g", st.loss);
        if (s->train && s->train->classes)
            printf(" accuracy=%.17g", st.correct / (double)st.n);
        printf("\n");
    }
    if (!rc && c->grad_out) {
        rc = (g = err_malloc(e, m->n * sizeof *g)) ? model_grad(m, s->theta, b, g, NULL, e) : ERR_SYS;
        rc = rc ? rc : npy_write(c->grad_out, g, m->n, e);
    }
    if (!rc && c->jvp_in) {
        rc = (v = err_malloc(e, m->n * sizeof *v)) ? npy_read_exact(c->jvp_in, v, m->n, e) : ERR_SYS;
        rc = rc ? rc : model_jvp(m, s->theta, v, b, &st, e);
        if (!rc)
            printf("jvp=%.17g\n", st.jvp);
        free(v);
        v = NULL;
    }
    if (!rc && c->hvp_in) {
        v = err_malloc(e, m->n * sizeof *v);
        hv = err_malloc(e, m->n * sizeof *hv);
        rc = v && hv ? npy_read_exact(c->hvp_in, v, m->n, e) : ERR_SYS;
        rc = rc ? rc : model_hvp(m, s->theta, v, b, NULL, hv, &st, e);
        if (!rc) {
            double vhv = 0;
            for (size_t i = 0; i < m->n; i++)
                vhv += v[i] * hv[i];
            printf("vHv=%.17g\n", vhv);
        }
        if (!rc && c->hvp_out)
            rc = npy_write(c->hvp_out, hv, m->n, e);
    }
    free(g);
    free(v);
    free(hv);
    return rc;
}

/* Copy the rows idx[0..k) of d into a contiguous batch (xb, yb, tb). */
static batch gather(const data *d, const size_t *idx, size_t k, double *xb, int *yb, double *tb)
{
    size_t w = (size_t)d->d, tw = (size_t)d->tdim;
    for (size_t i = 0; i < k; i++) {
        memcpy(xb + i * w, d->x + idx[i] * w, w * sizeof *xb);
        if (d->y)
            yb[i] = d->y[idx[i]];
        if (d->t)
            memcpy(tb + i * tw, d->t + idx[i] * tw, tw * sizeof *tb);
    }
    return (batch){.x = xb, .y = d->y ? yb : NULL, .t = d->t ? tb : NULL, .n = k};
}

static void report(const char *split, const data *d, const model_stats *st)
{
    printf("%s_loss=%.17g", split, st->loss);
    if (d && d->classes)
        printf(" %s_accuracy=%.17g", split, st->correct / (double)st->n);
    printf("\n");
}

static int cmd_train(session *s, err *e)
{
    cfg *c = &s->c;
    if ((c->epochs > 0) == (c->steps > 0))
        return err_set(e, ERR_USAGE, "train: give exactly one of --epochs E or --steps S");
    int rc = session_open(s, DATA_TRAIN, 1, e);
    if (rc)
        return rc;
    model *m = s->m;
    const data *d = s->train;
    size_t n = d ? d->n : 1, bsz = c->batch < n ? c->batch : n;
    size_t per_epoch = (n + bsz - 1) / bsz;
    long total = c->steps > 0 ? c->steps : c->epochs * (long)per_epoch;
    opt *o = NULL;
    size_t *idx = d ? err_malloc(e, n * sizeof *idx) : NULL;
    double *xb = d ? err_malloc(e, bsz * (size_t)d->d * sizeof *xb) : NULL;
    int *yb = d ? err_malloc(e, bsz * sizeof *yb) : NULL;
    double *tb = d && d->t ? err_malloc(e, bsz * (size_t)d->tdim * sizeof *tb) : NULL;
    gsl_rng *order = rng_stream(c->seed, RNG_ORDER, 0);
    if ((d && (!idx || !xb || !yb || (d->t && !tb))) || !order)
        rc = ERR_SYS;
    rc = rc ? rc : opt_new(c->optim, &c->hp, m->n, &o, e);
    double t0 = now(), shown = 0, run_loss = 0;
    int tty = isatty(2);
    for (long step = 0; !rc && step < total; step++) {
        size_t k = (size_t)step % per_epoch, lo = k * bsz, hi = lo + bsz < n ? lo + bsz : n;
        if (d && k == 0) {
            for (size_t i = 0; i < n; i++)
                idx[i] = i;
            if (c->shuffle)
                gsl_ran_shuffle(order, idx, n, sizeof *idx);
        }
        batch b = d ? gather(d, idx + lo, hi - lo, xb, yb, tb) : (batch){0};
        model_stats st;
        rc = opt_step(o, m, s->theta, b, &st, e);
        if (!rc && !isfinite(st.loss))
            rc = err_set(e, ERR_DATA, "train: diverged at step %ld (loss %g); lower --lr", step + 1,
                         st.loss);
        run_loss = step ? 0.98 * run_loss + 0.02 * st.loss : st.loss;
        double t = now() - t0;
        int last = step + 1 == total, epoch_end = k + 1 == per_epoch;
        if (!c->quiet && (last || (tty && t - shown > 0.25) || (!tty && epoch_end))) {
            shown = t;
            fprintf(stderr, "%sepoch %ld step %ld/%ld  loss %.4f  %.1f s%s", tty ? "\r" : "",
                    step / (long)per_epoch + 1, step + 1, total, run_loss, t,
                    tty && !last ? "   " : "\n");
        }
    }
    opt_free(o);
    rng_free(order);
    free(idx);
    free(xb);
    free(yb);
    free(tb);
    if (rc)
        return rc;
    model_stats st;
    if ((rc = model_loss(m, s->theta, whole(d), &st, e)))
        return rc;
    report("train", d, &st);
    if (s->test) {
        if ((rc = model_loss(m, s->theta, whole(s->test), &st, e)))
            return rc;
        report("test", s->test, &st);
    }
    return c->save ? npy_write(c->save, s->theta, m->n, e) : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? ERR_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("basin %s\n", BASIN_VERSION);
        return 0;
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            cmd = &commands[i];
    if (!cmd) {
        fprintf(stderr, "basin: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return ERR_USAGE;
    }
    session s = {0};
    err e = {0};
    int help = 0;
    cfg_default(&s.c);
    int rc = cfg_parse_args(&s.c, cmd->cmd, argc - 2, argv + 2, &help, &e);
    if (!rc && help) {
        printf("usage: %s\n\noptions:\n", cmd->usage);
        cfg_print_help(cmd->cmd);
        return 0;
    }
    if (!rc)
        rc = cmd->cmd == CMD_INIT ? cmd_init(&s, &e)
           : cmd->cmd == CMD_EVAL ? cmd_eval(&s, &e) : cmd_train(&s, &e);
    session_close(&s);
    if (rc)
        fprintf(stderr, "basin %s: %s\n", cmd->name, e.msg);
    return rc;
}
