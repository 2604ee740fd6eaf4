/* model.c -- the model interface: checks shared by every implementation, then
 * dispatch through the method table (model.h). The kinds are registry.c's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "impl.h"

void model_opts_default(model_opts *o)
{
    memset(o, 0, sizeof *o);
    o->kind = "mlp";
    o->hidden[0] = o->hidden[1] = 256;
    o->nhidden = 2;
    o->act = AD_ACT_RELU;
    o->leaky_slope = 0.01;
    o->bias = 1;
    o->loss = LOSS_CE;
    o->channels[0] = 6;
    o->channels[1] = 16;
    o->width = 16;
    o->blocks = 9;
    o->skip = 1;
}

model *model_alloc(int nblocks, err *e)
{
    model *m = err_calloc(e, 1, sizeof *m);
    if (!m)
        return NULL;
    m->blocks = err_calloc(e, (size_t)(nblocks ? nblocks : 1), sizeof *m->blocks);
    if (!m->blocks) {
        free(m);
        return NULL;
    }
    m->nblocks = nblocks;
    return m;
}

void model_free(model *m)
{
    if (!m)
        return;
    if (m->vt && m->vt->free)
        m->vt->free(m);
    free(m->blocks);
    free(m);
}

int model_block_of(const model *m, size_t i)
{
    for (int k = 0; k < m->nblocks; k++)
        if (i >= m->blocks[k].offset && i < m->blocks[k].offset + m->blocks[k].size)
            return k;
    return -1;
}

/* A batch the model can read: present, labels in range, targets of the right width. */
static int check_batch(const model *m, batch b, err *e)
{
    if (!m->in_dim)
        return 0;   /* test functions take no data */
    if (b.n == 0 || !b.x)
        return err_set(e, ERR_USAGE, "%s: empty batch", m->kind);
    if (!b.y && !b.t)
        return err_set(e, ERR_USAGE, "%s: the batch has neither labels nor targets", m->kind);
    if (b.y)
        for (size_t i = 0; i < b.n; i++)
            if (b.y[i] < 0 || b.y[i] >= m->out_dim)
                return err_set(e, ERR_DATA, "%s: label %d of sample %zu is outside [0, %d)",
                               m->kind, b.y[i], i, m->out_dim);
    return 0;
}

#define CHECKED(call)                     \
    do {                                  \
        int rc_ = check_batch(m, b, e);   \
        return rc_ ? rc_ : (call);        \
    } while (0)

int model_loss(model *m, const double *theta, batch b, model_stats *st, err *e)
{
    CHECKED(m->vt->loss(m, theta, b, st, e));
}

int model_grad(model *m, const double *theta, batch b, double *g, model_stats *st, err *e)
{
    CHECKED(m->vt->grad(m, theta, b, g, st, e));
}

int model_jvp(model *m, const double *theta, const double *v, batch b, model_stats *st, err *e)
{
    CHECKED(m->vt->jvp(m, theta, v, b, st, e));
}

int model_hvp(model *m, const double *theta, const double *v, batch b, double *g,
              double *hv, model_stats *st, err *e)
{
    CHECKED(m->vt->hvp(m, theta, v, b, g, hv, st, e));
}

struct model_lin {
    model *m;
    const double *theta;
    batch b;
    size_t bytes;           /* the primal state's size; 0: fall back to model_hvp */
    void *state;            /* the model's primal state, made by the first H v */
};

int model_lin_new(model *m, const double *theta, batch b, size_t max_bytes, model_lin **out,
                  err *e)
{
    int rc = check_batch(m, b, e);
    model_lin *l = rc ? NULL : err_calloc(e, 1, sizeof *l);
    if (!l)
        return rc ? rc : ERR_SYS;
    *l = (model_lin){.m = m, .theta = theta, .b = b};
    if (m->vt->lin_bytes) {
        l->bytes = m->vt->lin_bytes(m, b);
        if (l->bytes > max_bytes)
            l->bytes = 0;
    }
    *out = l;
    return 0;
}

int model_lin_hvp(model_lin *l, const double *v, double *hv, model_stats *st, err *e)
{
    if (!l->bytes)
        return l->m->vt->hvp(l->m, l->theta, v, l->b, NULL, hv, st, e);
    return l->m->vt->lin_hvp(l->m, l->theta, v, l->b, hv, &l->state, st, e);
}

size_t model_lin_bytes(const model_lin *l)
{
    return l->bytes;
}

void model_lin_free(model_lin *l)
{
    if (!l)
        return;
    if (l->state)
        l->m->vt->lin_free(l->state);
    free(l);
}

int model_features(model *m, const double *theta, batch b, double *f, err *e)
{
    CHECKED(m->vt->features(m, theta, b, f, e));
}

int model_init(model *m, double *theta, uint64_t seed, err *e)
{
    return m->vt->init(m, theta, seed, e);
}
