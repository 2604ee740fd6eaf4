/* cmd_optimize.c -- the race track: `basin optimize` runs one optimizer on a 2-D test
 * function and prints its trajectory as CSV (step,x,y,f; step 0 is the start point;
 * 17 significant digits), with exactly the optimizer code that trains networks.
 * (--db, storing the trajectory for plotting, comes with the results store.) */
#include <math.h>
#include <stdio.h>

#include "session.h"

int cmd_optimize(session *s, err *e)
{
    cfg *c = &s->c;
    if (c->steps <= 0)
        return err_set(e, ERR_USAGE, "optimize: --steps N is required");
    int rc = session_open(s, DATA_TRAIN, 0, e);
    if (rc)
        return rc;
    model *m = s->m;
    if (m->in_dim != 0 || m->n != 2) {
        char fns[256];
        model_kind_list(0, fns, sizeof fns);
        return err_set(e, ERR_USAGE, "optimize: --function NAME is required (%s)", fns);
    }
    if (c->has_start) {
        s->theta[0] = c->start[0];
        s->theta[1] = c->start[1];
    }
    c->hp.sched.total = c->steps;
    opt *o = NULL;
    if ((rc = opt_new(c->optim, &c->hp, m->n, &o, e)))
        return rc;
    model_stats st;
    batch none = {0};
    printf("step,x,y,f\n");
    for (long k = 0; !rc && k <= c->steps; k++) {
        if (k > 0)
            rc = opt_step(o, m, s->theta, none, &st, e);
        rc = rc ? rc : model_loss(m, s->theta, none, &st, e);
        if (rc)
            break;
        if (!isfinite(s->theta[0]) || !isfinite(s->theta[1]) || !isfinite(st.loss))
            rc = err_set(e, ERR_DATA, "optimize: diverged at step %ld; lower --lr", k);
        else
            printf("%ld,%.17g,%.17g,%.17g\n", k, s->theta[0], s->theta[1], st.loss);
    }
    opt_free(o);
    return rc;
}
