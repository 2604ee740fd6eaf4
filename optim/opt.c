/* opt.c -- the optimizer method table and the SGD family (torch.optim.SGD semantics,
 * ../shared/REFERENCE-optimizers.md):
 *   g += wd * theta;  b = g at t = 1, else mu b + (1 - tau) g;
 *   d = g + mu b (Nesterov) or b;  theta -= lr d. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"

void opt_hparams_default(opt_hparams *hp)
{
    memset(hp, 0, sizeof *hp);
    hp->lr = 0.01;
}

static size_t sgd_state(size_t n)
{
    return n;   /* momentum buffer b */
}

static int sgd_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e)
{
    double *g = o->work, *buf = o->state;
    int rc = model_grad(m, theta, b, g, st, e);
    if (rc)
        return rc;
    const opt_hparams *hp = &o->hp;
    double mu = hp->momentum, wd = hp->weight_decay, lr = o->lr, keep = 1 - hp->dampening;
    size_t n = o->n;
    if (wd != 0)
        for (size_t i = 0; i < n; i++)
            g[i] += wd * theta[i];
    if (mu == 0) {
        for (size_t i = 0; i < n; i++)
            theta[i] -= lr * g[i];
    } else if (o->t == 1 || hp->nesterov) {
        for (size_t i = 0; i < n; i++) {
            buf[i] = o->t == 1 ? g[i] : mu * buf[i] + keep * g[i];
            theta[i] -= lr * (hp->nesterov ? g[i] + mu * buf[i] : buf[i]);
        }
    } else {   /* the common heavy-ball step, kept branch-free */
        for (size_t i = 0; i < n; i++) {
            buf[i] = mu * buf[i] + keep * g[i];
            theta[i] -= lr * buf[i];
        }
    }
    return 0;
}

static const opt_method methods[] = {
    {"sgd", sgd_state, sgd_step},
};

int opt_new(const char *name, const opt_hparams *hp, size_t n, opt **out, err *e)
{
    *out = NULL;
    const opt_method *mt = NULL;
    for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++)
        if (strcmp(name, methods[k].name) == 0)
            mt = &methods[k];
    if (!mt)
        return err_set(e, ERR_USAGE, "optimizer: unknown '%s' (known: sgd)", name);
    if (!(hp->lr >= 0) || !isfinite(hp->lr))
        return err_set(e, ERR_USAGE, "optimizer: learning rate %g must be >= 0", hp->lr);
    if (!(hp->momentum >= 0 && hp->momentum < 1))
        return err_set(e, ERR_USAGE, "optimizer: momentum %g must lie in [0, 1)", hp->momentum);
    if (!(hp->dampening >= 0 && hp->dampening <= 1))
        return err_set(e, ERR_USAGE, "optimizer: dampening %g must lie in [0, 1]", hp->dampening);
    if (!(hp->weight_decay >= 0) || !isfinite(hp->weight_decay))
        return err_set(e, ERR_USAGE, "optimizer: weight decay %g must be >= 0", hp->weight_decay);
    if (hp->nesterov && (hp->momentum == 0 || hp->dampening != 0))
        return err_set(e, ERR_USAGE, "optimizer: Nesterov momentum needs momentum > 0 and "
                       "zero dampening");
    opt *o = err_calloc(e, 1, sizeof *o);
    if (!o)
        return ERR_SYS;
    o->method = mt;
    o->hp = *hp;
    o->n = n;
    o->lr = hp->lr;
    o->state = err_calloc(e, mt->state_size(n) + 1, sizeof(double));
    o->work = err_calloc(e, n + 1, sizeof(double));
    if (!o->state || !o->work) {
        opt_free(o);
        return ERR_SYS;
    }
    *out = o;
    return 0;
}

int opt_step(opt *o, model *m, double *theta, batch b, model_stats *st, err *e)
{
    o->t++;
    return o->method->step(o, m, theta, b, st, e);
}

void opt_free(opt *o)
{
    if (!o)
        return;
    free(o->state);
    free(o->work);
    free(o);
}
