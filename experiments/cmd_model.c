/* cmd_model.c -- the commands on one model: init (write the seeded theta), eval
 * (loss, accuracy, gradient, JVP, HVP of a theta) and train (mini-batch training with
 * the loop of trainer.h, which `basin run` shares). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/npy.h"
#include "trainer.h"

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
    int rc = session_open(s, DATA_TRAIN, 1, e);
    trainer t = {0};
    rc = rc ? rc : trainer_init(&t, s, e);
    double t0 = now(), shown = 0, run_loss = 0;
    int tty = isatty(2);
    while (!rc && t.step < t.total) {
        model_stats st;
        rc = trainer_step(&t, &st, e);
        if (!rc && !isfinite(st.loss))
            rc = err_set(e, ERR_DATA, "train: diverged at step %ld (loss %g); lower --lr", t.step,
                         st.loss);
        run_loss = t.step > 1 ? 0.98 * run_loss + 0.02 * st.loss : st.loss;
        double el = now() - t0;
        int last = t.step == t.total, epoch_end = t.step % (long)t.per_epoch == 0;
        if (!c->quiet && (last || (tty && el - shown > 0.25) || (!tty && epoch_end))) {
            shown = el;
            fprintf(stderr, "%sepoch %ld step %ld/%ld  loss %.4f  %.1f s%s", tty ? "\r" : "",
                    (t.step - 1) / (long)t.per_epoch + 1, t.step, t.total, run_loss, el,
                    tty && !last ? "   " : "\n");
        }
    }
    trainer_free(&t);
    if (rc)
        return rc;
    model *m = s->m;
    model_stats st;
    if ((rc = model_loss(m, s->theta, session_batch(s->train), &st, e)))
        return rc;
    report("train", s->train, &st);
    if (s->test) {
        if ((rc = model_loss(m, s->theta, session_batch(s->test), &st, e)))
            return rc;
        report("test", s->test, &st);
    }
    return c->save ? npy_write(c->save, s->theta, m->n, e) : 0;
}
