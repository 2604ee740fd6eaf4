/* sched.c -- learning-rate schedules: the factor of the base learning rate at step t
 * (see opt.h for each formula). Pure functions of (schedule, t), so a restored
 * optimizer continues its schedule exactly. */
#include <math.h>
#include <string.h>

#include "opt.h"

#define PI 3.14159265358979323846

static const char *const names[SCHED_COUNT] = {
    [SCHED_CONSTANT] = "constant", [SCHED_STEP] = "step", [SCHED_COSINE] = "cosine",
    [SCHED_ONECYCLE] = "onecycle", [SCHED_EXP] = "exp",
};

/* torch OneCycleLR defaults: initial lr = max/25, final lr = initial/1e4 */
#define OC_DIV 25.0
#define OC_FINAL_DIV 1e4

void sched_default(opt_sched *s)
{
    memset(s, 0, sizeof *s);
    s->kind = SCHED_CONSTANT;
    s->step_every = 30;
    s->step_gamma = 0.1;
    s->pct_start = 0.3;
}

int sched_parse(const char *name)
{
    for (int k = 0; k < SCHED_COUNT; k++)
        if (strcmp(name, names[k]) == 0)
            return k;
    return -1;
}

const char *sched_name(enum sched_kind k)
{
    return k < SCHED_COUNT ? names[k] : "?";
}

int sched_check(const opt_sched *s, err *e)
{
    if (s->kind >= SCHED_COUNT)
        return err_set(e, ERR_USAGE, "schedule: unknown kind %d", (int)s->kind);
    if (s->warmup < 0)
        return err_set(e, ERR_USAGE, "schedule: warm-up %ld must be >= 0", s->warmup);
    if (s->kind == SCHED_STEP && (s->step_every < 1 || !(s->step_gamma >= 0)))
        return err_set(e, ERR_USAGE, "schedule: step needs an interval >= 1 (%ld) and a "
                       "factor >= 0 (%g)", s->step_every, s->step_gamma);
    if (s->kind == SCHED_COSINE && s->total <= s->warmup)
        return err_set(e, ERR_USAGE, "schedule: cosine needs more steps (%ld) than warm-up "
                       "steps (%ld)", s->total, s->warmup);
    if (s->kind == SCHED_COSINE && !(s->lr_min >= 0 && s->lr_min <= 1))
        return err_set(e, ERR_USAGE, "schedule: lr-min %g must lie in [0, 1]", s->lr_min);
    if (s->kind == SCHED_ONECYCLE && !(s->pct_start > 0 && s->pct_start < 1
                                       && s->pct_start * (double)s->total > 1
                                       && s->pct_start * (double)s->total < (double)s->total))
        return err_set(e, ERR_USAGE, "schedule: one-cycle needs 0 < pct-start (%g) < 1 with "
                       "more than one step in each phase (%ld steps)", s->pct_start, s->total);
    if (s->kind == SCHED_EXP && !(s->decay >= 0 && isfinite(s->decay)))
        return err_set(e, ERR_USAGE, "schedule: exponential decay %g must be >= 0", s->decay);
    return 0;
}

/* torch's _annealing_cos: from start to end as pct goes 0 -> 1 */
static double anneal_cos(double start, double end, double pct)
{
    return end + (start - end) / 2.0 * (cos(PI * pct) + 1);
}

double sched_factor(const opt_sched *s, long t)
{
    double tt = (double)t, warm = s->warmup > 0 && t <= s->warmup ? tt / (double)s->warmup : 1;
    switch (s->kind) {
    case SCHED_CONSTANT:
        return warm;
    case SCHED_STEP:
        return warm * pow(s->step_gamma, (double)((t - 1) / s->step_every));
    case SCHED_COSINE: {
        if (t <= s->warmup)
            return warm;
        double p = (tt - (double)s->warmup) / (double)(s->total - s->warmup);
        return s->lr_min + (1 - s->lr_min) * 0.5 * (1 + cos(PI * fmin(p, 1)));
    }
    case SCHED_ONECYCLE: {
        double step = tt - 1, lo = 1 / OC_DIV, end1 = s->pct_start * (double)s->total - 1;
        double end2 = (double)s->total - 1;
        if (step <= end1)
            return anneal_cos(lo, 1, step / end1);
        return anneal_cos(1, lo / OC_FINAL_DIV, fmin((step - end1) / (end2 - end1), 1));
    }
    case SCHED_EXP:
        return exp(-(tt - 1) * s->decay);
    case SCHED_COUNT:
        break;
    }
    return 1;
}
