/* runner.c -- `basin run FILE`: the runs of an experiment file, trained into the store.
 *
 * The parent expands the file (exp.h), registers the runs, reports those already
 * COMPLETED, and hands the rest to N worker processes (fork; each opens its own
 * connection). A worker claims a run atomically (store_run_claim), so two workers --
 * or two `basin run` processes on one file -- never train a run twice, then trains it
 * with the shared loop (trainer.h):
 * Runs already COMPLETED or DIVERGED (final outcomes) are skipped unless --force.
 *   every step        batch_loss, lr (and the 2-D trajectory for 2-parameter models)
 *   eval steps        train/test loss and accuracy, grad_norm, update_norm,
 *                     perturbed_loss: at step 0, every eval-every steps, at the end
 *   checkpoints       theta, optimizer state, trainer aux state (order RNG state and
 *                     the epoch's permutation) every checkpoint-every steps (or 60 s),
 *                     committed together with the metrics up to that step
 *   snapshots         every snapshot-every steps, and always the final theta
 *   resources         with [train] resources = true, at the end (COMPLETED or DIVERGED):
 *                     peak_workspace_bytes
 *                     (ad_mem_peak over the run: every graph and thread, training,
 *                     evaluations and probes) and backward_runs (gradient and HVP chunk
 *                     runs inside the training steps; probes and evaluations not counted)
 *   probe steps       the [probes] schedule (probe_sched.h): Hessian eigenvalues, trace,
 *                     density, sharpness on theta after step k's update (before the next
 *                     one), before that step's checkpoint, so a resume never repeats them
 * A run found with a resume checkpoint continues from it after deleting its rows past
 * the checkpoint (and re-running the probes due at its step, which an interruption may
 * have cut short: the same random vectors, the same rows), so its metrics are
 * bit-identical to an uninterrupted run's (for the same thread count). A non-finite
 * loss or theta marks the run DIVERGED and the sweep goes on (a probe that fails
 * numerically is skipped, never changing the outcome); other errors of the run mark it
 * FAILED. A system error (out of memory) leaves the run INTERRUPTED, resumable from its
 * last checkpoint, and stops with exit 3. SIGINT/SIGTERM/SIGHUP: a last checkpoint
 * (a running probe stops at its next Hessian-vector product), INTERRUPTED, exit
 * 128 + signal.
 * Ownership (store.h): a worker whose run was taken over while it was stopped writes
 * nothing more for it and goes on with the next. When the workers are done, runs still
 * RUNNING in other live processes are waited for, and taken over when their owner dies,
 * so `basin run` returns when every run of its shard has an outcome. The database
 * file must stay the one the runner opened: deleting or moving it is exit 3. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/ad.h"
#include "../core/pool.h"
#include "../results/store.h"
#include "exp.h"
#include "probe_sched.h"
#include "trainer.h"

#ifndef BASIN_GIT
#define BASIN_GIT "unknown"
#endif

/* OpenBLAS's build description (libopenblas). */
extern char *openblas_get_config(void);

#define MAX_JOBS 256

static volatile sig_atomic_t stop_sig;
static pid_t kids[MAX_JOBS];
static int nkids;

/* Record the signal; the parent passes it on to its workers. */
static void on_signal(int sig)
{
    stop_sig = sig;
    for (int k = 0; k < nkids; k++)
        if (kids[k] > 0)
            kill(kids[k], sig);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define MAX_SETS 64

typedef struct opts {
    const char *file, *db;
    int jobs, shard, nshards, dry, force;
    const char *sets[MAX_SETS];   /* --set KEY=VALUE overrides */
    int nsets;
} opts;

/* What a worker needs besides its store. */
typedef struct ctx {
    const exp_plan *p;
    const opts *o;
    exp_run **todo;          /* runs of this shard not COMPLETED (or all, with --force) */
    size_t ntodo;
    store_prov prov;
    int worker;              /* 0 when running in the parent */
    int tty, color, threads;
    int waiting;             /* the parent's later passes: busy runs are not reported */
    double t0;
    size_t done;
} ctx;

/* --- progress and messages --- */

static const char *paint(const ctx *c, const char *status)
{
    static char buf[64];
    const char *code = strcmp(status, STORE_COMPLETED) == 0 ? "32"
                     : strcmp(status, STORE_DIVERGED) == 0 ? "33"
                     : strcmp(status, STORE_FAILED) == 0 ? "31" : "35";
    if (!c->color)
        return status;
    snprintf(buf, sizeof buf, "\033[%sm%s\033[0m", code, status);
    return buf;
}

static void say(const ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const ctx *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (c->worker)
        fprintf(stderr, "[w%d] %s\n", c->worker, line);
    else
        fprintf(stderr, "%s%s\n", c->tty ? "\r\033[K" : "", line);
}

static void bar(const ctx *c, const exp_run *r, const trainer *t, double loss)
{
    double frac = ((double)c->done + (double)t->step / (double)t->total) / (double)c->ntodo;
    double el = now() - c->t0, eta = frac > 0 ? el / frac - el : 0;
    fprintf(stderr, "\r\033[K[%zu/%zu] %.12s step %ld/%ld  loss %.4g  ETA %d:%02d", c->done + 1,
            c->ntodo, r->id, t->step, t->total, loss, (int)(eta / 60), (int)fmod(eta, 60));
}

/* --- one run --- */

typedef struct rstate {
    store *st;
    const exp_run *r;
    session s;
    trainer t;
    probe_sched *ps;         /* NULL: no probes scheduled */
    double *ostate;          /* (opt_state_len) */
    void *aux;               /* (trainer_aux_size) */
} rstate;

static int checkpoint(rstate *x, const char *kind, err *e)
{
    opt_state_save(x->t.o, x->ostate);
    trainer_aux_save(&x->t, x->aux);
    store_ckpt c = {x->t.step, trainer_epoch(&x->t), x->s.theta, x->s.m->n, x->ostate,
                    opt_state_len(x->t.o), x->aux, trainer_aux_size(&x->t)};
    return store_ckpt_put(x->st, x->r->id, kind, &c, e);
}

/* Train and test loss/accuracy at the current theta; *bad when one is not finite.
 * Model errors return their code with the message on re (the run's error); store
 * errors return minus their code, with the message on e. */
static int evaluate(rstate *x, int *bad, err *re, err *e)
{
    const char *split[2] = {"train", "test"};
    const data *d[2] = {x->s.train, x->s.test};
    long k = x->t.step;
    double ep = trainer_epoch(&x->t);
    *bad = 0;
    for (int i = 0; i < 2; i++) {
        if (i == 1 && !d[1])
            break;
        model_stats ms;
        int rc = model_loss(x->s.m, x->s.theta, session_batch(d[i]), &ms, re);
        if (rc)
            return rc;
        char key[16];
        snprintf(key, sizeof key, "%s_loss", split[i]);
        if ((rc = store_metric(x->st, x->r->id, key, k, ep, ms.loss, e)))
            return -rc;
        *bad |= !isfinite(ms.loss);
        snprintf(key, sizeof key, "%s_acc", split[i]);
        if (d[i] && d[i]->classes
            && (rc = store_metric(x->st, x->r->id, key, k, ep, ms.correct / (double)ms.n, e)))
            return -rc;
    }
    return 0;
}

/* The probes due at the current step; errors as evaluate(). */
static int probe(rstate *x, err *re, err *e)
{
    if (!x->ps || !probe_sched_due(x->ps, &x->t))
        return 0;
    return probe_sched_run(x->ps, &x->t, x->st, x->r->id, re, e);
}

/* Set up the run's session, trainer and probes, resuming from its checkpoint when there is
 * one; *resumed = its step (0 for a fresh start). Errors as evaluate(). */
static int start(ctx *c, rstate *x, long *resumed, err *re, err *e)
{
    x->s.c = x->r->c;
    x->s.c.threads = c->threads;
    x->s.c.quiet = 1;
    x->s.c.db = c->o->db;   /* where init = RUN[@STEP] is looked up */
    int rc = session_open(&x->s, DATA_TRAIN, 1, re);
    rc = rc ? rc : trainer_init(&x->t, &x->s, re);
    rc = rc ? rc : probe_sched_new(&x->t, &stop_sig, &x->ps, re);
    if (!rc) {
        x->ostate = err_malloc(re, opt_state_len(x->t.o) * sizeof *x->ostate);
        x->aux = err_malloc(re, trainer_aux_size(&x->t));
        rc = x->ostate && x->aux ? 0 : ERR_SYS;
    }
    if (rc)
        return rc;
    store_ckpt_data ck;
    int found = 0, bad = 0;
    *resumed = 0;
    if ((rc = store_ckpt_get(x->st, x->r->id, STORE_RESUME, -1, &ck, &found, e)))
        return -rc;
    if (found) {
        err ce = {0};
        int lr = ck.n != x->s.m->n
                     ? err_set(&ce, ERR_DATA, "theta has %zu parameters, the model %zu", ck.n,
                               x->s.m->n)
                     : opt_state_load(x->t.o, ck.state, ck.nstate, &ce);
        lr = lr ? lr : trainer_aux_load(&x->t, ck.aux, ck.naux, &ce);
        if (!lr) {
            memcpy(x->s.theta, ck.theta, ck.n * sizeof *ck.theta);
            *resumed = ck.step;
        } else {
            say(c, "warning: run %.12s: checkpoint unusable (%s); starting over", x->r->id, ce.msg);
            /* a fresh trainer: the failed loads may have changed the old one */
            probe_sched_free(x->ps);
            x->ps = NULL;
            trainer_free(&x->t);
            session_close(&x->s);
            memset(&x->s, 0, sizeof x->s);
            store_ckpt_data_free(&ck);
            free(x->ostate);
            free(x->aux);
            x->ostate = x->aux = NULL;
            if ((rc = store_ckpt_drop_resume(x->st, x->r->id, e)))
                return -rc;
            return start(c, x, resumed, re, e);
        }
        store_ckpt_data_free(&ck);
    }
    if ((rc = store_run_truncate(x->st, x->r->id, found ? *resumed : -1, e)))
        return -rc;
    rc = found ? 0 : evaluate(x, &bad, re, e);
    return rc ? rc : probe(x, re, e);
}

/* [train] resources: the run's peak workspace above mem0 and its backward passes, at
 * its last step (COMPLETED and DIVERGED runs). A store error's code. */
static int resources(rstate *x, size_t mem0, long backward, err *e)
{
    double ep = trainer_epoch(&x->t);
    int rc = 0;
    if (x->r->x.resources) {
        rc = store_metric(x->st, x->r->id, "peak_workspace_bytes", x->t.step, ep,
                          (double)(ad_mem_peak() - mem0), e);
        rc = rc ? rc : store_metric(x->st, x->r->id, "backward_runs", x->t.step, ep,
                                    (double)backward, e);
    }
    return rc;
}

/* The outcomes of a claimed run, and their names in the store. */
enum run_status { RUN_COMPLETED = 0, RUN_DIVERGED, RUN_FAILED, RUN_INTERRUPTED };
static const char *const run_status_name[] = {
    [RUN_COMPLETED] = STORE_COMPLETED, [RUN_DIVERGED] = STORE_DIVERGED,
    [RUN_FAILED] = STORE_FAILED, [RUN_INTERRUPTED] = STORE_INTERRUPTED,
};

/* How a run's training is ending: the status and message to record, and why. */
typedef struct outcome {
    enum run_status status;
    char msg[1100];
    int cut;              /* 1: a signal stopped it mid-probe: checkpoint, INTERRUPTED */
    int sys;              /* ERR_SYS: a system error of the run's own (out of memory): the
                             run is left INTERRUPTED at its last checkpoint, the worker stops */
} outcome;

/* Record the run's own error rc (> 0, message on re) in `what` at step k. */
static void run_error(outcome *o, int rc, const char *what, long k, const err *re)
{
    if (stop_sig) {   /* a probe stopped at its next HVP */
        o->cut = 1;
        return;
    }
    o->status = rc == ERR_SYS ? RUN_INTERRUPTED : RUN_FAILED;
    o->sys = rc == ERR_SYS ? ERR_SYS : 0;
    snprintf(o->msg, sizeof o->msg, "%s at step %ld: %s", what, k, re->msg);
}

static int finite_all(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* Train claimed run r. Returns 0 when the run ended with a status recorded, 128 + sig
 * when stopped by a signal (INTERRUPTED recorded), ERR_SYS for a system error of the
 * run (INTERRUPTED recorded, resumable), or a store error (nothing more recorded; with
 * store_claim_lost(st) when another process took the run over). */
static int run_one(ctx *c, store *st, const exp_run *r, err *e)
{
    rstate x = {.st = st, .r = r};
    err re = {0};   /* the run's own failure */
    outcome o = {.status = RUN_COMPLETED};
    long resumed = 0, backward = 0;
    double t0 = now(), loss = NAN;
    ad_mem_reset_peak();   /* peak_workspace_bytes: this run's graphs only */
    size_t mem0 = ad_mem_current();
    int rc = start(c, &x, &resumed, &re, e), bad = 0, srv = 0;
    trainer *t = &x.t;
    if (rc < 0) {   /* a store error while starting */
        srv = -rc;
        goto out;
    }
    if (rc)
        run_error(&o, rc, "start", resumed, &re);
    if (o.cut && !x.ps) {   /* stopped before its trainer and probes were ready */
        o = (outcome){.status = RUN_INTERRUPTED};
        snprintf(o.msg, sizeof o.msg, "stopped by signal %d at the start", (int)stop_sig);
    }
    if (!o.cut && rc)
        goto finish;
    if (resumed)
        say(c, "resume %.12s %s from step %ld", r->id, r->label, resumed);
    long ev = r->x.eval_every, ck = r->x.checkpoint_every, sn = r->x.snapshot_every;
    double last_ck = now(), last_flush = now(), last_line = now();
    while (!o.cut && t->step < t->total && !stop_sig) {
        model_stats ms;
        long b0 = ad_runs(AD_MODE_GRAD) + ad_runs(AD_MODE_HVP);
        rc = trainer_step(t, &ms, &re);
        backward += ad_runs(AD_MODE_GRAD) + ad_runs(AD_MODE_HVP) - b0;
        if (rc) {
            run_error(&o, rc, "step", t->step + 1, &re);
            o.cut = 0;   /* a step is never cut: it failed */
            break;
        }
        long k = t->step;
        double ep = trainer_epoch(t);
        const opt_metrics *om = opt_last(t->o);
        loss = ms.loss;
        srv = store_metric(st, r->id, "batch_loss", k, ep, ms.loss, e);
        srv = srv ? srv : store_metric(st, r->id, "lr", k, ep, om->lr, e);
        if (!srv && x.s.m->n == 2)
            srv = store_traj(st, r->id, "theta", k, x.s.theta[0], x.s.theta[1], ms.loss, e);
        if (!srv && (k == t->total || (ev && k % ev == 0))) {
            const char *keys[3] = {"grad_norm", "update_norm", "perturbed_loss"};
            double v[3] = {om->grad_norm, om->update_norm, om->perturbed_loss};
            for (int i = 0; !srv && i < 3; i++)
                if (isfinite(v[i]))
                    srv = store_metric(st, r->id, keys[i], k, ep, v[i], e);
            int er = srv ? 0 : evaluate(&x, &bad, &re, e);
            srv = er < 0 ? -er : srv;
            if (er > 0) {
                run_error(&o, er, "evaluation", k, &re);
                break;
            }
        }
        if (srv)
            goto out;
        int probing = x.ps && probe_sched_due(x.ps, t);
        if (!isfinite(ms.loss) || bad || (probing && !finite_all(x.s.theta, x.s.m->n))) {
            o.status = RUN_DIVERGED;
            snprintf(o.msg, sizeof o.msg, "non-finite %s at step %ld",
                     !isfinite(ms.loss) || bad ? "loss" : "parameters", k);
            break;
        }
        int pr = probe(&x, &re, e);
        if (pr < 0) {
            srv = -pr;
            goto out;
        }
        if (pr > 0) {
            run_error(&o, pr, "probes", k, &re);
            break;
        }
        double tn = now();
        if (!srv && sn && k % sn == 0 && k < t->total)
            srv = checkpoint(&x, STORE_SNAPSHOT, e);
        if (!srv && k < t->total && (ck ? k % ck == 0 : tn - last_ck > 60)) {
            srv = checkpoint(&x, STORE_RESUME, e);
            last_ck = last_flush = tn;
        }
        if (!srv && tn - last_flush > 2) {
            srv = store_flush(st, e);
            srv = srv ? srv : store_run_heartbeat(st, r->id, k, e);
            last_flush = tn;
        }
        if (srv)
            goto out;
        if (c->tty && !c->worker)
            bar(c, r, t, loss);
        else if (tn - last_line > 30) {
            say(c, "%.12s step %ld/%ld loss %.4g", r->id, k, t->total, loss);
            last_line = tn;
        }
    }
    int done = o.status == RUN_COMPLETED || o.status == RUN_DIVERGED;
    if (o.cut || (stop_sig && t->step < t->total && o.status == RUN_COMPLETED)) {
        /* a clean stop: theta after step k is whole; the resume re-runs k's probes */
        if ((srv = checkpoint(&x, STORE_RESUME, e)))
            goto out;
        o.status = RUN_INTERRUPTED;
        snprintf(o.msg, sizeof o.msg, "stopped by signal %d at step %ld", (int)stop_sig, t->step);
    } else if (done) {
        srv = resources(&x, mem0, backward, e);
        if (!srv && o.status == RUN_COMPLETED)
            srv = checkpoint(&x, STORE_SNAPSHOT, e);
        if (srv || (srv = store_ckpt_drop_resume(st, r->id, e)))
            goto out;
    }
finish:;
    const char *skip;
    long nskip = probe_sched_skipped(x.ps, &skip);
    if (nskip)
        snprintf(o.msg + strlen(o.msg), sizeof o.msg - strlen(o.msg), "%s%ld probe%s skipped "
                 "(the first at %s)", o.msg[0] ? "; " : "", nskip, nskip > 1 ? "s" : "", skip);
    srv = store_run_heartbeat(st, r->id, t->step, e);
    const char *status = run_status_name[o.status];
    srv = srv ? srv : store_run_finish(st, r->id, status, o.msg[0] ? o.msg : NULL, e);
    if (!srv) {
        char fin[256] = "";
        if (o.status == RUN_COMPLETED && t->o)
            snprintf(fin, sizeof fin, ": %ld steps, batch loss %.4g", t->step, loss);
        say(c, "%s %.12s %s in %.1f s%s%s%s", paint(c, status), r->id, r->label, now() - t0,
            fin, o.msg[0] ? ": " : "", o.msg);
    }
    if (!srv && o.status == RUN_INTERRUPTED)
        srv = o.sys ? err_set(e, o.sys, "run %.12s: %s (INTERRUPTED: resumable)", r->id, o.msg)
                    : 128 + (int)stop_sig;
out:
    probe_sched_free(x.ps);
    trainer_free(&x.t);
    session_close(&x.s);
    free(x.ostate);
    free(x.aux);
    return srv;
}

/* Claim and train each run of c->todo in turn. Runs RUNNING in another live process
 * are skipped (said on the first pass), and so is a run taken over by another process
 * while this one was stopped (said; the other finishes it, or a later pass takes it
 * back). Returns 0, 128 + sig when stopped, or a system or store error. */
static int worker(ctx *c, err *e)
{
    store *st;
    int rc = store_open(c->o->db, &st, e);
    if (!rc && c->threads)
        rc = pool_set_threads(c->threads, e);
    c->prov.threads = pool_threads();
    for (size_t i = 0; !rc && i < c->ntodo && !stop_sig; i++) {
        exp_run *r = c->todo[i];
        int res;
        if ((rc = store_run_claim(st, r->id, &c->prov, c->o->force, &res, e)))
            break;
        if (res == STORE_SKIP_BUSY && !c->worker && !c->waiting)
            say(c, "skip %.12s %s: RUNNING in another live process", r->id, r->label);
        if (res != STORE_CLAIMED)
            continue;
        rc = run_one(c, st, r, e);
        if (rc && rc < 128 && store_run_release(st)) {
            say(c, "%s", e->msg);
            rc = 0;
        }
        c->done++;
    }
    int frc = store_flush(st, rc ? NULL : e);
    store_close(st);
    rc = rc ? rc : frc;
    return !rc && stop_sig ? 128 + (int)stop_sig : rc;
}

/* The runs of c->todo without an outcome (status PENDING, RUNNING or INTERRUPTED),
 * moved to the front of c->todo; *failed = those FAILED. */
static int undone(ctx *c, size_t *nundone, size_t *failed, err *e)
{
    store *st;
    int rc = store_open_read(c->o->db, &st, e);
    size_t k = 0;
    *failed = 0;
    for (size_t i = 0; !rc && i < c->ntodo; i++) {
        char status[16], ver[64];
        if ((rc = store_run_status(st, c->todo[i]->id, status, ver, e)))
            break;
        *failed += !strcmp(status, STORE_FAILED);
        if (strcmp(status, STORE_COMPLETED) && strcmp(status, STORE_DIVERGED)
            && strcmp(status, STORE_FAILED)) {
            exp_run *r = c->todo[k];
            c->todo[k++] = c->todo[i];
            c->todo[i] = r;
        }
    }
    store_close(st);
    *nundone = k;
    return rc;
}

/* Sleep `s` seconds, or less when a signal arrives. */
static void nap(double s)
{
    for (double t = now() + s; !stop_sig && now() < t;) {
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
}

/* After the workers: wait for the runs of this shard that other live processes hold,
 * taking each over when its owner dies (or goes stale), until every run has an outcome.
 * c->todo is reordered. Returns as worker(). */
static int await_others(ctx *c, err *e)
{
    size_t n = c->ntodo, left, failed;
    int rc = 0;
    double said = 0;
    c->waiting = 1;
    for (int pass = 0; !rc && !stop_sig && !(rc = undone(c, &left, &failed, e)) && left; pass++) {
        if (pass && now() - said > 60) {
            say(c, "waiting for %zu run%s RUNNING in other processes (%.12s%s); each is taken "
                "over if its owner dies", left, left > 1 ? "s" : "", c->todo[0]->id,
                left > 1 ? " ..." : "");
            said = now();
        }
        if (pass)
            nap(2);
        c->ntodo = left;   /* a pass over the undone runs alone */
        rc = stop_sig ? 0 : worker(c, e);
        c->ntodo = n;
    }
    return rc ? rc : stop_sig ? 128 + (int)stop_sig : 0;
}

/* --- the command --- */

/* A whole number in [lo, hi] from all of s (no sign for lo >= 0), else -1. */
static long long whole(const char *s, long long lo, long long hi)
{
    if (!s || !*s || (lo >= 0 && *s == '-'))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno || *end || v < lo || v > hi ? -1 : v;
}

/* --shard i/N, 0 <= i < N. */
static int shard_parse(const char *v, int *i, int *n, err *e)
{
    const char *slash = strchr(v, '/');
    char head[32];
    long long a = -1, b = -1;
    if (slash && (size_t)(slash - v) < sizeof head) {
        snprintf(head, sizeof head, "%.*s", (int)(slash - v), v);
        a = whole(head, 0, INT_MAX);
        b = whole(slash + 1, 1, INT_MAX);
    }
    if (a < 0 || b < 1 || a >= b)
        return err_set(e, ERR_USAGE, "--shard: '%s' is not i/N with 0 <= i < N <= %d, or auto",
                       v, INT_MAX);
    *i = (int)a;
    *n = (int)b;
    return 0;
}

/* --shard auto: this Slurm array task's index among the array's tasks, from
 * SLURM_ARRAY_TASK_ID against _MIN, _MAX, _STEP and _COUNT. An array of evenly spaced
 * ids (--array=0-6:2, or a list such as 1,5,9) maps each id to its place; ids that are
 * not evenly spaced (1,2,9) cannot be mapped from the environment and are refused. */
static int shard_auto(int *i, int *n, err *e)
{
    const char *name[5] = {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
                           "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_STEP"};
    long long v[5];
    for (int k = 0; k < 5; k++) {
        const char *s = getenv(name[k]);
        v[k] = whole(s, 0, INT_MAX);
        if (k < 4 && !s)
            return err_set(e, ERR_USAGE, "--shard auto: %s is not set (not a Slurm array job?)",
                           name[k]);
        if ((s || k < 4) && v[k] < 0)
            return err_set(e, ERR_USAGE, "--shard auto: %s='%s' is not a whole number", name[k], s);
    }
    long long id = v[0], lo = v[1], hi = v[2], count = v[3], step = v[4];
    if (count < 1 || lo > hi || id < lo || id > hi)
        return err_set(e, ERR_USAGE, "--shard auto: task id %lld is not within the array's "
                       "%lld..%lld (%lld tasks)", id, lo, hi, count);
    if (count == 1)
        step = 1;
    else if (step < 1 && (hi - lo) % (count - 1) == 0)
        step = (hi - lo) / (count - 1);   /* a list: evenly spaced, or not mappable */
    if (step < 1 || (hi - lo) / step + 1 != count || (hi - lo) % step || (id - lo) % step)
        return err_set(e, ERR_USAGE, "--shard auto: the array's %lld tasks (ids %lld..%lld%s) "
                       "are not evenly spaced, so task %lld's place among them is not known; "
                       "give --shard i/N", count, lo, hi, v[4] > 0 ? ", step as set" : "", id);
    *i = (int)((id - lo) / step);
    *n = (int)count;
    return 0;
}

static int parse(int argc, char **argv, opts *o, err *e)
{
    *o = (opts){.db = "results/basin.db", .jobs = 1, .nshards = 1};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--db") || !strcmp(a, "--jobs") || !strcmp(a, "--shard")
                 || !strcmp(a, "--set");
        if (takes && !v)
            return err_set(e, ERR_USAGE, "%s needs a value", a);
        if (!strcmp(a, "--db"))
            o->db = v;
        else if (!strcmp(a, "--set")) {
            if (o->nsets == MAX_SETS)
                return err_set(e, ERR_USAGE, "--set: at most %d overrides", MAX_SETS);
            o->sets[o->nsets++] = v;
        }
        else if (!strcmp(a, "--jobs")) {
            char *end;
            long j = strtol(v, &end, 10);
            if (*end || j < 1 || j > MAX_JOBS)
                return err_set(e, ERR_USAGE, "--jobs: '%s' is not a count in 1..%d", v, MAX_JOBS);
            o->jobs = (int)j;
        } else if (!strcmp(a, "--shard")) {
            int rc = !strcmp(v, "auto") ? shard_auto(&o->shard, &o->nshards, e)
                                        : shard_parse(v, &o->shard, &o->nshards, e);
            if (rc)
                return rc;
        } else if (!strcmp(a, "--dry-run"))
            o->dry = 1;
        else if (!strcmp(a, "--force"))
            o->force = 1;
        else if (a[0] == '-')
            return err_set(e, ERR_USAGE, "run: unknown option '%s' (see basin run --help)", a);
        else if (o->file)
            return err_set(e, ERR_USAGE, "run: one experiment file, got '%s' and '%s'", o->file, a);
        else
            o->file = a;
        i += takes;
    }
    if (!o->file)
        return err_set(e, ERR_USAGE, "run: which experiment file? (basin run FILE.ini)");
    return 0;
}

static void cpu_name(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(buf, cap, "%s", strchr(line, ':') + 2);
            buf[strcspn(buf, "\n")] = 0;
            break;
        }
    if (f)
        fclose(f);
}

/* Start jobs workers and wait for them all; the first non-zero status wins, a
 * signal's status over all. */
static int fork_workers(ctx *c, err *e)
{
    fflush(NULL);
    int rc = 0;
    for (int k = 0; k < c->o->jobs; k++) {
        pid_t pid = fork();
        if (pid < 0) {
            rc = err_set(e, ERR_SYS, "fork: %s", strerror(errno));
            break;
        }
        if (pid == 0) {
            nkids = 0;
            c->worker = k + 1;
            err we = {0};
            int wrc = worker(c, &we);
            if (wrc && wrc < 128)
                fprintf(stderr, "[w%d] basin run: %s\n", k + 1, we.msg);
            fflush(NULL);
            _exit(wrc);
        }
        kids[nkids++] = pid;
    }
    for (int k = 0; k < nkids; k++) {
        int status;
        while (waitpid(kids[k], &status, 0) < 0 && errno == EINTR)
            ;
        int wrc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (wrc && !rc)
            rc = wrc >= 128 ? wrc : err_set(e, wrc, "a worker failed (see its [wN] message)");
        kids[k] = 0;
    }
    nkids = 0;
    return stop_sig ? 128 + (int)stop_sig : rc;
}

/* The longest path runner.c builds, NUL included (Linux's PATH_MAX). */
#define RUN_PATH_MAX 4096

/* mkdir -p: dir and its missing parents (mode 0777 before the umask); ERR_SYS naming
 * what (the option it came from) and the directory that could not be made, ERR_USAGE
 * when dir is longer than RUN_PATH_MAX. */
static int make_dirs(const char *dir, const char *what, err *e)
{
    char p[RUN_PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return err_set(e, ERR_USAGE, "%s%s: longer than %d bytes", what, dir, RUN_PATH_MAX - 1);
    for (char *s = p + 1;; s++)
        if (*s == '/' || !*s) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return err_set(e, ERR_SYS, "%s%s: %s", what, p, strerror(errno));
            if (!(*s = c))
                return 0;
        }
}

/* The experiment file's [plots] (exp.h), drawn from the store after its runs: each
 * NAME = KIND [options] into DIR/EXPERIMENT-NAME.png, DIR from `dir` or the database's
 * directory. Every plot is tried; the first error is returned. */
static int draw_plots(const exp_plan *p, const char *db, err *e)
{
    const ini *f = &p->file;
    char dir[RUN_PATH_MAX] = ".", out[RUN_PATH_MAX];
    const char *slash = strrchr(db, '/');
    if (slash)   /* shorter than db, which store_open opened */
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - db), db);
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->v[i].section, "plots") && !strcmp(f->v[i].key, "dir")
            && snprintf(dir, sizeof dir, "%s", f->v[i].value) >= (int)sizeof dir)
            return err_set(e, ERR_USAGE, "%s:%d: [plots] dir: longer than %d bytes", f->path,
                           f->v[i].line, RUN_PATH_MAX - 1);
    int rc = 0;
    for (size_t i = 0; i < f->n; i++) {
        const ini_entry *v = &f->v[i];
        if (strcmp(v->section, "plots") || !strcmp(v->key, "dir"))
            continue;
        if (dir[0] && make_dirs(dir, "[plots] dir ", e))
            return e->code;
        err pe = {0};
        if (snprintf(out, sizeof out, "%s/%s-%s.png", dir, p->name, v->key) >= (int)sizeof out)
            return err_set(e, ERR_USAGE, "[plots] %s: %s/%s-%s.png is longer than %d bytes",
                           v->key, dir, p->name, v->key, RUN_PATH_MAX - 1);
        int prc = exp_plot(v->value, p->name, db, out, 0, &pe);
        if (prc && rc)   /* the first error is the command's message */
            fprintf(stderr, "basin run: [plots] %s: %s\n", v->key, pe.msg);
        else if (prc)
            rc = err_set(e, prc, "[plots] %s: %s", v->key, pe.msg);
    }
    return rc;
}

/* The end of a run command whose workers returned rc: the database must still be the
 * file registered (db0); runs left without an outcome are named (by a signal: exit 128
 * + sig; after a worker's error: its code); FAILED runs are exit 1. */
static int finish(ctx *c, const struct stat *db0, int rc, err *e)
{
    struct stat now_;
    if (stat(c->o->db, &now_) != 0 || now_.st_dev != db0->st_dev || now_.st_ino != db0->st_ino)
        return err_set(e, ERR_SYS, "%s: the database file was deleted, moved or replaced while "
                       "basin run wrote it; its runs' rows are wherever the file went", c->o->db);
    size_t left = 0, failed = 0;
    err ue = {0};
    if (c->ntodo && undone(c, &left, &failed, &ue))
        return rc ? rc : err_set(e, ue.code, "%s", ue.msg);
    if (left) {
        char ids[200] = "";
        for (size_t i = 0; i < left && strlen(ids) + 14 < sizeof ids; i++)
            snprintf(ids + strlen(ids), sizeof ids - strlen(ids), " %.12s", c->todo[i]->id);
        say(c, "left undone: %zu run%s without an outcome:%s%s", left, left > 1 ? "s" : "", ids,
            strlen(ids) / 13 < left ? " ..." : "");
    }
    if (rc >= 128)
        return err_set(e, rc, "interrupted by signal %d; run the same command again to resume",
                       rc - 128);
    if (rc)
        return rc;
    if (left)   /* cannot happen: await_others returns only when none is left */
        return err_set(e, ERR_SYS, "%zu runs left undone", left);
    if (failed)
        return err_set(e, ERR_DATA, "%zu run%s FAILED (see basin runs --status FAILED)", failed,
                       failed > 1 ? "s" : "");
    return 0;
}

int cmd_run(int argc, char **argv, err *e)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: basin run FILE.ini [--db PATH] [--jobs N] [--shard i/N | --shard auto]\n"
                   "                 [--dry-run] [--force] [--set KEY=VALUE]...\n"
                   "  Run every run of an experiment file into the store (default %s);\n"
                   "  completed runs are skipped, interrupted ones resumed.\n"
                   "  --set KEY=VALUE overrides a key of the file (or adds it to its section;\n"
                   "  steps replaces epochs and the other way round), sweeps included:\n"
                   "  basin run exp.ini --set steps=20 --set seed=1 --db /tmp/tiny.db\n", "results/basin.db");
            printf("\n[probes] keys of experiment files (besides basin train's options):\n");
            cfg_print_help(CMD_RUN);
            return 0;
        }
    opts o;
    exp_plan p;
    int rc = parse(argc, argv, &o, e);
    if (rc || (rc = exp_plan_load_set(o.file, o.sets, o.nsets, &p, e)))
        return rc;
    exp_run **mine = calloc(p.n + 1, sizeof *mine);
    store_run *reg = calloc(p.n + 1, sizeof *reg);
    size_t nmine = 0;
    char cmdline[4096] = "basin run", cpu[256], host[256] = "";
    ctx c = {.p = &p, .o = &o, .todo = mine, .tty = isatty(2)};
    if (!mine || !reg) {
        rc = err_set(e, ERR_SYS, "out of memory");
        goto out;
    }
    for (size_t i = (size_t)o.shard; i < p.n; i += (size_t)o.nshards)
        mine[nmine++] = &p.runs[i];
    if (o.dry) {
        printf("experiment %s: %zu runs", p.name, p.n);
        if (o.nshards > 1)
            printf(", shard %d/%d: %zu", o.shard, o.nshards, nmine);
        printf("\n");
        for (size_t i = 0; i < nmine; i++)
            printf("%.12s  %s\n", mine[i]->id, mine[i]->label[0] ? mine[i]->label : "(no sweep)");
        goto out;
    }
    for (int i = 0; i < argc; i++)
        snprintf(cmdline + strlen(cmdline), sizeof cmdline - strlen(cmdline), " %s", argv[i]);
    cpu_name(cpu, sizeof cpu);
    gethostname(host, sizeof host - 1);
    c.prov = (store_prov){BASIN_VERSION, BASIN_GIT, "gcc " __VERSION__, cpu, host,
                          openblas_get_config(), cmdline, 0};
    c.color = c.tty && !getenv("NO_COLOR");
    c.threads = p.runs[0].c.threads;
    if (!c.threads && !getenv("BASIN_THREADS") && o.jobs > 1) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        c.threads = cores > o.jobs ? (int)(cores / o.jobs) : 1;
    }
    /* the database directory, e.g. results/ */
    char dir[RUN_PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", o.db) >= (int)sizeof dir) {
        rc = err_set(e, ERR_USAGE, "--db %s: longer than %d bytes", o.db, RUN_PATH_MAX - 1);
        goto out;
    }
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if ((rc = make_dirs(dir, "", e)))
            goto out;
    }
    store *st;
    if ((rc = store_open(o.db, &st, e)))
        goto out;
    for (size_t i = 0; i < nmine; i++) {
        exp_run *r = mine[i];
        reg[i] = (store_run){r->id, p.name, r->grp, r->canon, r->label, r->c.seed,
                             r->c.steps, r->nparams, (const char *const *)r->keys,
                             (const char *const *)r->vals};
    }
    rc = store_experiment_put(st, p.name, o.file, p.file.text, e);
    rc = rc ? rc : store_runs_register(st, reg, nmine, e);
    size_t skipped = 0;
    for (size_t i = 0; !rc && i < nmine; i++) {
        char status[16], ver[64];
        if ((rc = store_run_status(st, mine[i]->id, status, ver, e)))
            break;
        if ((!strcmp(status, STORE_COMPLETED) || !strcmp(status, STORE_DIVERGED)) && !o.force) {
            skipped++;
            say(&c, "skip %.12s %s: %s%s%s%s", mine[i]->id, mine[i]->label, status,
                strcmp(ver, BASIN_VERSION) ? " (warning: by basin " : "",
                strcmp(ver, BASIN_VERSION) ? ver : "", strcmp(ver, BASIN_VERSION) ? ")" : "");
        } else {
            mine[c.ntodo++] = mine[i];
        }
    }
    struct stat db0;   /* the file the runs go to: it must stay there (store.h) */
    if (!rc && stat(o.db, &db0) != 0)
        rc = err_set(e, ERR_SYS, "%s: %s", o.db, strerror(errno));
    store_close(st);   /* never carried across fork */
    if (rc)
        goto out;
    fprintf(stderr, "experiment %s: %zu runs%s, %zu to do, %zu done before; database %s\n", p.name,
            nmine, o.nshards > 1 ? " in this shard" : "", c.ntodo, skipped, o.db);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);   /* a closed terminal or ssh session: as SIGTERM */
    c.t0 = now();
    if (c.ntodo)
        rc = o.jobs > 1 && c.ntodo > 1 ? fork_workers(&c, e) : worker(&c, e);
    if (c.ntodo && !rc)
        rc = await_others(&c, e);
    if (c.tty)
        fprintf(stderr, "\r\033[K");
    rc = finish(&c, &db0, rc, e);
    if (!rc && o.nshards == 1)   /* a shard holds part of the runs: plot after the merge */
        rc = draw_plots(&p, o.db, e);
out:
    free(mine);
    free(reg);
    exp_plan_free(&p);
    return rc;
}
