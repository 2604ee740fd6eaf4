/* cmd_probe.c -- the probe commands on one model: hessian (extreme eigenpairs by
 * Lanczos or power iteration, Hutchinson trace, SLQ density, optionally restricted
 * to one parameter block) and sharpness (probes/sharp.h). Each prints first the
 * record a probe result must carry -- which samples (data, split, count, subset
 * rule, seed), tolerance and iteration limits -- then `name=value` lines with 17
 * significant digits. Random streams: RNG_PROBE of --seed, sub 0 eigenpairs and
 * sharpness, 1 trace, 2 density.
 *
 * --db PATH with --init RUN[@STEP] also stores the results with that run at the
 * snapshot's step, replacing rows of the same step (and method, kind and rho): the
 * eigenvalues in hessian_eigs (method lanczos or power, k = 0 the largest;
 * lanczos-bottom, k = 0 the most negative), the trace, the density quadrature, the
 * sharpness (kind sharp_<kind>). Results of a .npy theta belong to no run: --db is
 * refused there, and with --block (per-block spectra have no table). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe_sched.h"
#include "session.h"

/* The samples a probe saw, and the seed: one line, printed before any result. */
static void print_record(const session *s, const char *probe)
{
    const cfg *c = &s->c;
    printf("probe=%s model=%s params=%zu data=%s split=%s samples=%zu subset=%s seed=%llu\n",
           probe, s->m->kind, s->m->n, s->train ? (c->data.spec ? c->data.spec : "fashion-mnist") : "none",
           c->data.split == DATA_TEST ? "test" : "train", s->train ? s->train->n : 0,
           c->data.random_subset ? "random" : "first", (unsigned long long)c->seed);
    if (s->run[0])
        printf("run=%s step=%ld\n", s->run, s->run_step);
}

/* --db's conditions, checked before any data is loaded. */
static int check_db(const cfg *c, err *e)
{
    if (!c->db)
        return 0;
    if (!c->init || !session_names_run(c->init))
        return err_set(e, ERR_USAGE, "--db: results are stored with the run they belong to; "
                       "give --init RUN[@STEP] (a .npy theta belongs to no run)");
    if (c->data.split == DATA_TEST)
        return err_set(e, ERR_USAGE, "--db: the store's probe tables hold training-split "
                       "results; drop --split test or --db");
    if (c->block)
        return err_set(e, ERR_USAGE, "--db: per-block spectra (--block) have no table in the store");
    return 0;
}

/* Open the session and, with --db, *st = the store its results go to (else NULL). */
static int open_probe(session *s, store **st, err *e)
{
    *st = NULL;
    int rc = check_db(&s->c, e);
    rc = rc ? rc : session_open(s, s->c.data.split, 0, e);
    return rc || !s->c.db ? rc : store_open(s->c.db, st, e);
}

/* Close the results store, saying where the rows went. */
static int results_close(const session *s, store *st, int rc)
{
    if (st && !rc)
        printf("stored=%s run=%.12s step=%ld\n", s->c.db, s->run, s->run_step);
    store_close(st);
    return rc;
}

/* FILE_nodes.csv beside FILE(.csv). */
static void nodes_path(const char *path, char *out, size_t cap)
{
    size_t len = strlen(path);
    if (len >= 4 && strcmp(path + len - 4, ".csv") == 0)
        len -= 4;
    snprintf(out, cap, "%.*s_nodes.csv", (int)len, path);
}

static int write_density(const char *path, const hess_slq_result *q, err *e)
{
    enum { NPTS = 10000 };
    double *grid = err_malloc(e, NPTS * sizeof *grid), *dens = err_malloc(e, NPTS * sizeof *dens);
    char npath[4096];
    FILE *f = NULL, *g = NULL;
    int rc = grid && dens ? 0 : ERR_SYS;
    if (!rc) {
        hess_density(q, NPTS, grid, dens);
        nodes_path(path, npath, sizeof npath);
        if (!(f = fopen(path, "w")) || !(g = fopen(npath, "w")))
            rc = err_set(e, ERR_SYS, "--density: cannot write %s", f ? npath : path);
    }
    if (!rc) {
        fprintf(f, "x,density\n");
        for (int j = 0; j < NPTS; j++)
            fprintf(f, "%.17g,%.17g\n", grid[j], dens[j]);
        fprintf(g, "run,node,weight\n");
        for (int k = 0; k < q->runs; k++)
            for (int i = 0; i < q->count[k]; i++)
                fprintf(g, "%d,%.17g,%.17g\n", k + 1, q->nodes[(size_t)k * q->steps + i],
                        q->weights[(size_t)k * q->steps + i]);
    }
    if (f && (ferror(f) | fclose(f)) && !rc)
        rc = err_set(e, ERR_SYS, "--density: I/O error writing %s", path);
    if (g && (ferror(g) | fclose(g)) && !rc)
        rc = err_set(e, ERR_SYS, "--density: I/O error writing %s", npath);
    if (!rc)
        printf("density=%s nodes=%s slq_steps=%d slq_runs=%d smoothing_variance=%.17g\n", path,
               npath, q->steps, q->runs, 1e-5 * fmax(1.0, grid[NPTS - 1] - grid[0]));
    free(grid);
    free(dens);
    return rc;
}

/* *bi = the index of block `name` of m. */
static int find_block(const model *m, const char *name, int *bi, err *e)
{
    for (*bi = 0; *bi < m->nblocks; (*bi)++)
        if (strcmp(m->blocks[*bi].name, name) == 0)
            return 0;
    char names[512] = "";
    for (int i = 0; i < m->nblocks; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), " %s", m->blocks[i].name);
    return err_set(e, ERR_USAGE, "--block %s: the %s model's blocks are:%s", name, m->kind, names);
}

int cmd_hessian(session *s, err *e)
{
    cfg *c = &s->c;
    store *st;
    int rc = open_probe(s, &st, e);
    if (rc)
        return rc;
    hess_op *full = hess_op_model(s->m, s->theta, session_batch(s->train), e), *blk = NULL;
    if (!full)
        return results_close(s, st, ERR_SYS);
    hess_op *op = full;
    int bi = -1;
    if (c->block && !(rc = find_block(s->m, c->block, &bi, e)) &&
        !(op = blk = hess_op_block(full, s->m->blocks[bi].offset, s->m->blocks[bi].size, e)))
        rc = e->code;
    hess_eig_opts o;
    hess_eig_opts_default(&o);
    o.method = c->power ? HESS_POWER : HESS_LANCZOS;
    o.top = c->top ? c->top : 1;
    o.bottom = c->bottom;
    o.tol = c->tol ? c->tol : o.tol;
    o.max_iter = c->max_iter ? (int)c->max_iter : o.max_iter;
    o.seed = c->seed;
    if (!rc) {
        print_record(s, "hessian");
        printf("method=%s operator=%s%s n=%zu tol=%.17g max_iter=%d\n",
               c->power ? "power" : "lanczos", bi >= 0 ? "block:" : "full",
               bi >= 0 ? s->m->blocks[bi].name : "", op->n, o.tol, o.max_iter);
    }
    hess_eigs_result r = {0};
    if (!rc && !(rc = hess_eigs(op, &o, &r, e))) {
        for (int p = 0; p < r.k; p++) {
            int top = p < r.ntop, i = top ? p + 1 : p - r.ntop + 1;
            printf("%s[%d]=%.17g %s[%d]=%.17g\n", top ? "eig" : "bottom", i, r.values[p],
                   top ? "resid" : "resid_bottom", i, r.resid[p]);
        }
        printf("iterations=%d eig_hvps=%ld converged=%d\n", r.iterations, r.applies, r.converged);
        if (!r.converged)
            fprintf(stderr, "basin hessian: not converged within --max-iter %d (tol %g)\n",
                    o.max_iter, o.tol);
        if (st && r.ntop)
            rc = store_eigs_put(st, s->run, s->run_step, c->power ? "power" : "lanczos", r.values,
                                r.ntop, e);
        if (!rc && st && r.nbottom)
            rc = store_eigs_put(st, s->run, s->run_step, "lanczos-bottom", r.values + r.ntop,
                                r.nbottom, e);
    }
    hess_eigs_result_free(&r);
    if (!rc && c->trace) {
        hess_trace_result t;
        long cap = c->trace_samples ? c->trace_samples : 100;
        if (!(rc = hess_trace_run(op, o.tol, 2, cap, c->seed, 1, &t, e)))
            printf("trace=%.17g stderr=%.17g trace_samples=%ld trace_converged=%d\n", t.trace,
                   t.stderr_, t.samples, t.converged);
        if (!rc && st)
            rc = store_trace_put(st, s->run, s->run_step, t.trace, t.stderr_, (int)t.samples, e);
    }
    if (!rc && c->density) {
        hess_slq_result q;
        if (!(rc = hess_slq(op, c->slq_steps ? c->slq_steps : 100, c->slq_runs ? c->slq_runs : 1,
                            c->seed, 2, &q, e)))
            rc = write_density(c->density, &q, e);
        if (!rc && st)
            rc = probe_put_density(st, s->run, s->run_step, &q, e);
        hess_slq_result_free(&q);
    }
    if (!rc)
        printf("hvps=%ld\n", full->applies);
    hess_op_free(blk);
    hess_op_free(full);
    return results_close(s, st, rc);
}

int cmd_sharpness(session *s, err *e)
{
    cfg *c = &s->c;
    if (c->steps > 1000000)
        return err_set(e, ERR_USAGE, "sharpness: --steps %ld is more than 1000000", c->steps);
    store *st;
    int rc = open_probe(s, &st, e);
    if (rc)
        return rc;
    sharp_opts o;
    sharp_opts_default(&o);
    o.kind = c->sharp_kind;
    o.rho = c->rho ? c->rho : o.kind == SHARP_KESKAR ? 1e-3 : o.rho;
    o.adaptive = c->adaptive;
    o.steps = (int)c->steps;
    o.step = c->step_size;
    o.seed = c->seed;
    sharp_result r;
    if ((rc = sharp_measure(s->m, s->theta, session_batch(s->train), &o, &r, e)))
        return results_close(s, st, rc);
    print_record(s, "sharpness");
    printf("kind=%s rho=%.17g adaptive=%d iterations=%d step=%.17g\n", sharp_kind_name(o.kind),
           r.rho, r.adaptive, r.iterations, r.step);
    printf("sharpness=%.17g loss=%.17g perturbed=%.17g", r.value, r.loss, r.perturbed);
    if (o.kind == SHARP_AVERAGE)
        printf(" stderr=%.17g", r.stderr_);
    printf("\nevals=%ld hvps=%ld\n", r.evals, r.hvps);
    char key[32];
    probe_sharp_key(o.kind, key);
    if (st)
        rc = store_sharpness_put(st, s->run, s->run_step, key, r.rho, r.value, e);
    return results_close(s, st, rc);
}
