/* trainer.c -- the mini-batch training loop (trainer.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "../core/rng.h"
#include "trainer.h"

int trainer_init(trainer *t, session *s, err *e)
{
    memset(t, 0, sizeof *t);
    t->s = s;
    cfg *c = &s->c;
    const data *d = s->train;
    t->n = d ? d->n : 1;
    t->bsz = c->batch < t->n ? c->batch : t->n;
    t->per_epoch = (t->n + t->bsz - 1) / t->bsz;
    t->total = c->steps > 0 ? c->steps : c->epochs * (long)t->per_epoch;
    if (d) {
        t->idx = err_malloc(e, t->n * sizeof *t->idx);
        t->xb = err_malloc(e, t->bsz * (size_t)d->d * sizeof *t->xb);
        t->yb = err_malloc(e, t->bsz * sizeof *t->yb);
        t->tb = d->t ? err_malloc(e, t->bsz * (size_t)d->tdim * sizeof *t->tb) : NULL;
        if (!t->idx || !t->xb || !t->yb || (d->t && !t->tb))
            return err_wrap(e, "training: the data order of %zu samples and a batch of %zu",
                            t->n, t->bsz);
    }
    if (!(t->order = rng_stream(c->seed, RNG_ORDER, 0)))
        return err_set(e, ERR_SYS, "out of memory");
    opt_hparams hp = c->hp;
    hp.sched.total = t->total;
    hp.seed = c->seed;
    return opt_new(c->optim, &hp, s->m->n, &t->o, e);
}

/* Copy the rows idx[0..k) of d into the contiguous batch buffers. */
static batch gather(const trainer *t, const data *d, const size_t *idx, size_t k)
{
    size_t w = (size_t)d->d, tw = (size_t)d->tdim;
    for (size_t i = 0; i < k; i++) {
        memcpy(t->xb + i * w, d->x + idx[i] * w, w * sizeof *t->xb);
        if (d->y)
            t->yb[i] = d->y[idx[i]];
        if (d->t)
            memcpy(t->tb + i * tw, d->t + idx[i] * tw, tw * sizeof *t->tb);
    }
    return (batch){.x = t->xb, .y = d->y ? t->yb : NULL, .t = d->t ? t->tb : NULL, .n = k};
}

int trainer_step(trainer *t, model_stats *st, err *e)
{
    const data *d = t->s->train;
    size_t k = (size_t)t->step % t->per_epoch, lo = k * t->bsz;
    size_t hi = lo + t->bsz < t->n ? lo + t->bsz : t->n;
    if (d && k == 0) {
        for (size_t i = 0; i < t->n; i++)
            t->idx[i] = i;
        if (t->s->c.shuffle)
            gsl_ran_shuffle(t->order, t->idx, t->n, sizeof *t->idx);
    }
    batch b = d ? gather(t, d, t->idx + lo, hi - lo) : (batch){0};
    int rc = opt_step(t->o, t->s->m, t->s->theta, b, st, e);
    if (!rc)
        t->step++;
    return rc;
}

double trainer_epoch(const trainer *t)
{
    return (double)t->step / (double)t->per_epoch;
}

/* aux layout, all uint64 words: magic, step, n, per_epoch, rng bytes; then the
 * order stream's raw state (padded to a word); then idx[0..n) when there is data --
 * zeros, not read back, at an epoch's start (step 0 included), when idx holds no order
 * yet or a finished epoch's and the next step draws a new one from the saved stream. */
#define AUX_MAGIC 0x3152545f4e495342ULL   /* "BSIN_TR1" */
#define AUX_WORDS 5

static size_t rng_words(const trainer *t)
{
    return (gsl_rng_size(t->order) + 7) / 8;
}

/* Whether idx holds the order the next step draws its batch from: filled by the
 * epoch's first step (trainer_step), so not at an epoch's start. */
static int order_in_use(const trainer *t)
{
    return t->idx && t->step % (long)t->per_epoch != 0;
}

size_t trainer_aux_size(const trainer *t)
{
    return 8 * (AUX_WORDS + rng_words(t) + (t->idx ? t->n : 0));
}

void trainer_aux_save(const trainer *t, void *buf)
{
    uint64_t *w = buf;
    memset(buf, 0, trainer_aux_size(t));
    w[0] = AUX_MAGIC;
    w[1] = (uint64_t)t->step;
    w[2] = t->n;
    w[3] = t->per_epoch;
    w[4] = gsl_rng_size(t->order);
    memcpy(w + AUX_WORDS, gsl_rng_state(t->order), gsl_rng_size(t->order));
    for (size_t i = 0; order_in_use(t) && i < t->n; i++)
        w[AUX_WORDS + rng_words(t) + i] = t->idx[i];
}

int trainer_aux_load(trainer *t, const void *buf, size_t len, err *e)
{
    const uint64_t *w = buf;
    if (len != trainer_aux_size(t) || w[0] != AUX_MAGIC || w[2] != t->n
        || w[3] != t->per_epoch || w[4] != gsl_rng_size(t->order) || (long)w[1] > t->total)
        return err_set(e, ERR_DATA, "checkpoint: trainer state of another run shape (%zu bytes; "
                       "want %zu for %zu samples, %zu steps per epoch)", len,
                       trainer_aux_size(t), t->n, t->per_epoch);
    t->step = (long)w[1];
    memcpy(gsl_rng_state(t->order), w + AUX_WORDS, gsl_rng_size(t->order));
    for (size_t i = 0; order_in_use(t) && i < t->n; i++) {
        t->idx[i] = (size_t)w[AUX_WORDS + rng_words(t) + i];
        if (t->idx[i] >= t->n)
            return err_set(e, ERR_DATA, "checkpoint: corrupt data order");
    }
    return 0;
}

void trainer_free(trainer *t)
{
    opt_free(t->o);
    rng_free(t->order);
    free(t->idx);
    free(t->xb);
    free(t->yb);
    free(t->tb);
    memset(t, 0, sizeof *t);
}
