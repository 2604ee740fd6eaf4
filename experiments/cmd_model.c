/* cmd_model.c -- the commands on one model: init (write the seeded theta), eval
 * (loss, accuracy, gradient, JVP, HVP of a theta) and train (mini-batch training). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>

#include "../core/npy.h"
#include "../core/rng.h"
#include "session.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int cmd_init(session *s, err *e)
{
    if (!s->c.out)
        return err_set(e, ERR_USAGE, "init: --out THETA.npy is required");
    int rc = session_check_output(s->c.out, e);
    if (rc || (rc = session_open(s, DATA_TRAIN, 0, e)))
        return rc;
    if ((rc = npy_write(s->c.out, s->theta, s->m->n, e)))
        return rc;
    printf("wrote %s: %zu parameters (%s, seed %llu)\n", s->c.out, s->m->n, s->m->kind,
           (unsigned long long)s->c.seed);
    return 0;
}

int cmd_eval(session *s, err *e)
{
    cfg *c = &s->c;
    if (c->hvp_out && !c->hvp_in)
        return err_set(e, ERR_USAGE, "eval: --hvp-out needs --hvp-in V.npy");
    int rc = session_open(s, c->data.split, 0, e);
    if (rc)
        return rc;
    model *m = s->m;
    batch b = session_batch(s->train);
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
        rc = (v = err_malloc(e, m->n * sizeof *v)) ? session_read_vector(c->jvp_in, v, m->n, e) : ERR_SYS;
        rc = rc ? rc : model_jvp(m, s->theta, v, b, &st, e);
        if (!rc)
            printf("jvp=%.17g\n", st.jvp);
        free(v);
        v = NULL;
    }
    if (!rc && c->hvp_in) {
        v = err_malloc(e, m->n * sizeof *v);
        hv = err_malloc(e, m->n * sizeof *hv);
        rc = v && hv ? session_read_vector(c->hvp_in, v, m->n, e) : ERR_SYS;
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

int cmd_train(session *s, err *e)
{
    cfg *c = &s->c;
    if ((c->epochs > 0) == (c->steps > 0))
        return err_set(e, ERR_USAGE, "train: give exactly one of --epochs E or --steps S");
    int rc = session_check_output(c->save, e);
    if (rc || (rc = session_open(s, DATA_TRAIN, 1, e)))
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
    if ((rc = model_loss(m, s->theta, session_batch(d), &st, e)))
        return rc;
    report("train", d, &st);
    if (s->test) {
        if ((rc = model_loss(m, s->theta, session_batch(s->test), &st, e)))
            return rc;
        report("test", s->test, &st);
    }
    return c->save ? npy_write(c->save, s->theta, m->n, e) : 0;
}

