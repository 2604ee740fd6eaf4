/* cmd_land.c -- the commands on neural collapse and loss landscapes: collapse (NC1-NC4
 * of a theta), landscape (a 1-D or 2-D slice to CSV; axes random, Hessian, from files,
 * or the PCA of a run's snapshots with its projected trajectory) and interpolate (the
 * line between two thetas, its barrier, and the barrier after weight matching).
 * With --init RUN[@STEP] --db PATH, collapse and landscape also store their result
 * with the run at the snapshot's step (results/README.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/npy.h"
#include "../probes/collapse.h"
#include "../probes/hessian.h"
#include "../probes/landscape.h"
#include "../results/store.h"
#include "session.h"

/* session_open on the chosen split; --samples also limits the test split. */
static int open_split(session *s, err *e)
{
    cfg *c = &s->c;
    if (c->data.split == DATA_TEST && !c->test_samples)
        c->test_samples = c->data.samples;
    return session_open(s, c->data.split, 0, e);
}

/* --db stores a result with the run it belongs to: refused without --init RUN[@STEP]. */
static int check_db(const cfg *c, const char *cmd, const char *what, err *e)
{
    if (c->db && (!c->init || !session_names_run(c->init)))
        return err_set(e, ERR_USAGE, "%s: --db stores the %s with the run it belongs to; "
                       "give --init RUN[@STEP] (a .npy theta belongs to no run)", cmd, what);
    return 0;
}

static const char *split_name(const cfg *c)
{
    return c->data.split == DATA_TEST ? "test" : "train";
}

/* --db: the collapse-table row of the run at its snapshot's step, as [probes]
 * collapse-every writes it (probe_sched.c: nc2 = the class means' equiangularity). */
static int store_collapse(const session *s, const nc_result *r, err *e)
{
    double nc[4] = {r->nc1, r->nc2_equiangular_means, r->nc3, r->nc4};
    store *st = NULL;
    int rc = store_open(s->c.db, &st, e);
    rc = rc ? rc : store_collapse_put(st, s->run, s->run_step, split_name(&s->c), nc, e);
    if (!rc)
        printf("stored=%s run=%.12s step=%ld split=%s\n", s->c.db, s->run, s->run_step,
               split_name(&s->c));
    store_close(st);
    return rc;
}

int cmd_collapse(session *s, err *e)
{
    int rc = check_db(&s->c, "collapse", "result", e);
    rc = rc ? rc : open_split(s, e);
    if (rc)
        return rc;
    if (!s->train || !s->train->classes)
        return err_set(e, ERR_USAGE, "collapse: needs a classification dataset and a network");
    nc_result r;
    if ((rc = nc_model(s->m, s->theta, session_batch(s->train), 0, &r, e)))
        return rc;
    printf("samples=%zu\nclasses=%d\nfeatures=%d\n", r.n, r.C, r.p);
    printf("nc1=%.17g\nnc1_notebook=%.17g\n", r.nc1, r.nc1_notebook);
    printf("nc2_equinorm_means=%.17g\nnc2_equinorm_weights=%.17g\n", r.nc2_equinorm_means,
           r.nc2_equinorm_weights);
    printf("nc2_equiangular_means=%.17g\nnc2_equiangular_weights=%.17g\n",
           r.nc2_equiangular_means, r.nc2_equiangular_weights);
    printf("nc3=%.17g\nnc4=%.17g\nwithin_class_trace=%.17g\n", r.nc3, r.nc4, r.within_class_trace);
    printf("%s_error=%.17g\nmargin=%.17g\n", split_name(&s->c), r.error, r.margin);
    return s->c.db ? store_collapse(s, &r, e) : 0;
}

/* --- --axes pca --- */

/* The run's trajectory on the PCA axes: its snapshots up to the grid's step. */
typedef struct pca_traj {
    land_pca_result r;
    size_t m;
    long *step;                 /* (m) ascending; the last is s->run_step */
    double *x, *y, *loss;       /* (m) projections and the loss on the split */
} pca_traj;

static void pca_traj_free(pca_traj *t)
{
    free(t->step);
    free(t->x);
    free(t->y);
    free(t->loss);
}

/* D (m x n) = the run's snapshots up to s->run_step minus theta_final = s->theta, and
 * the loss at each on the split. */
static int pca_snapshots(session *s, store *st, pca_traj *t, double *D, err *e)
{
    batch b = session_batch(s->train);
    size_t n = s->m->n;
    int rc = 0;
    for (size_t i = 0; !rc && i < t->m; i++) {
        store_ckpt_data ck;
        int found = 0;
        model_stats ms;
        rc = store_ckpt_get(st, s->run, STORE_SNAPSHOT, t->step[i], &ck, &found, e);
        if (!rc && (!found || ck.n != n))
            rc = err_set(e, ERR_DATA, "--axes pca: run %.12s's snapshot at step %ld %s", s->run,
                         t->step[i], found ? "has another parameter count" : "vanished");
        for (size_t j = 0; !rc && j < n; j++)
            D[i * n + j] = ck.theta[j] - s->theta[j];
        rc = rc ? rc : model_loss(s->m, ck.theta, b, &ms, e);
        if (!rc)
            t->loss[i] = ms.loss;
        store_ckpt_data_free(&ck);
    }
    return rc;
}

/* d1, d2 (d2 NULL for 1-D) = the top-2 principal directions of the run's snapshots up
 * to the grid's step, about theta_final = the snapshot at that step (land_pca), and *t
 * the trajectory projected on them. */
static int pca_directions(session *s, double *d1, double *d2, pca_traj *t, err *e)
{
    const cfg *c = &s->c;
    size_t n = s->m->n;
    store *st = NULL;
    double *D = NULL, *pc2 = d2 ? d2 : err_malloc(e, n * sizeof *pc2);
    int rc = pc2 ? store_open_read(c->db ? c->db : "results/basin.db", &st, e) : ERR_SYS;
    rc = rc ? rc : store_ckpt_steps(st, s->run, STORE_SNAPSHOT, s->run_step, &t->step, &t->m, e);
    if (!rc && t->m < 3)
        rc = err_set(e, ERR_DATA, "landscape --axes pca: run %.12s has %zu snapshot%s up to step "
                     "%ld; the PCA of a trajectory needs at least 3 (a smaller [train] "
                     "snapshot-every)", s->run, t->m, t->m == 1 ? "" : "s", s->run_step);
    if (!rc) {
        D = err_malloc(e, t->m * n * sizeof *D);
        t->x = err_malloc(e, t->m * sizeof *t->x);
        t->y = err_malloc(e, t->m * sizeof *t->y);
        t->loss = err_malloc(e, t->m * sizeof *t->loss);
        rc = D && t->x && t->y && t->loss ? 0 : ERR_SYS;
    }
    rc = rc ? rc : pca_snapshots(s, st, t, D, e);
    rc = rc ? rc : land_pca(D, (int)t->m, n, d1, pc2, t->x, t->y, &t->r, e);
    if (!rc)
        fprintf(c->out ? stdout : stderr, "pca_snapshots=%zu\npca_explained=%.17g,%.17g\n", t->m,
                t->r.explained[0], t->r.explained[1]);
    store_close(st);
    free(D);
    if (!d2)
        free(pc2);
    return rc;
}

/* d1 and d2 (d2 NULL for 1-D) by --dir1/--dir2, --axes hessian, pca (*t the trajectory)
 * or random. */
static int directions(session *s, double *d1, double *d2, pca_traj *t, err *e)
{
    cfg *c = &s->c;
    model *m = s->m;
    if (c->dir1) {   /* checked finite: a NaN direction would fill the grid with NaN */
        int rc = session_read_vector(c->dir1, d1, m->n, e);
        return rc ? rc : d2 ? session_read_vector(c->dir2, d2, m->n, e) : 0;
    }
    if (c->axes == 0)
        return land_directions(m, s->theta, c->seed, (enum land_norm)c->land_norm, !c->ignore_none,
                               d1, d2, e);
    if (c->axes == 2)
        return pca_directions(s, d1, d2, t, e);
    /* the top-2 Hessian eigenvectors (Lanczos) on the split */
    hess_op *op = hess_op_model(m, s->theta, session_batch(s->train), e);
    if (!op)
        return ERR_SYS;
    hess_eig_opts o;
    hess_eig_opts_default(&o);
    o.top = 2;
    o.seed = c->seed;
    hess_eigs_result r = {0};
    int rc = hess_eigs(op, &o, &r, e);
    if (!rc) {
        memcpy(d1, r.vectors, m->n * sizeof *d1);
        if (d2)
            memcpy(d2, r.vectors + m->n, m->n * sizeof *d2);
        fprintf(stderr, "hessian axes: lambda1=%.17g lambda2=%.17g (Lanczos, %d steps, tol %g, "
                "converged %d)\n", r.values[0], r.values[1], r.iterations, r.tol, r.converged);
    }
    hess_eigs_result_free(&r);
    hess_op_free(op);
    return rc;
}

/* --db: the grid (x-major loss and acc) into the store with the run of --init RUN[@STEP],
 * at its snapshot's step, with its specification (store_grid; the store is y-major);
 * for --axes pca also the explained variance and the trajectory t. */
static int store_landscape(const session *s, const double *loss, const double *acc,
                           const pca_traj *t, err *e)
{
    static const char *const norms[] = {"filter", "layer", "none"};   /* enum land_norm */
    static const char *const axes[] = {"random", "hessian", "pca"};   /* cfg.axes */
    const cfg *c = &s->c;
    int nx = c->x.n, ny = c->y.n > 0 ? c->y.n : 1, grid = -1, rnd = !c->dir1 && c->axes == 0;
    size_t npts = (size_t)nx * (size_t)ny;
    double *l = err_malloc(e, npts * sizeof *l), *a = err_malloc(e, npts * sizeof *a);
    store *st = NULL;
    int rc = l && a ? store_open(c->db, &st, e) : ERR_SYS;
    if (!rc) {
        for (int i = 0; i < nx; i++)
            for (int j = 0; j < ny; j++) {
                l[(size_t)j * nx + i] = loss[(size_t)i * ny + j];
                a[(size_t)j * nx + i] = acc[(size_t)i * ny + j];
            }
        store_grid g = {.step = s->run_step, .split = split_name(c),
                        .dir_seed = c->seed, .normalization = rnd ? norms[c->land_norm] : "none",
                        .x0 = c->x.lo, .x1 = c->x.hi, .nx = nx,
                        .y0 = c->y.n > 0 ? c->y.lo : 0, .y1 = c->y.n > 0 ? c->y.hi : 0, .ny = ny,
                        .axes = c->dir1 ? "file" : axes[c->axes],
                        .ignore_biasbn = rnd && !c->ignore_none, .samples = (long)s->train->n,
                        .subset = c->data.random_subset ? "random" : "first",
                        .pca_explained = {t->r.explained[0], t->r.explained[1]}, .ntraj = t->m,
                        .traj_step = t->step, .traj_x = t->x, .traj_y = t->y,
                        .traj_loss = t->loss};
        rc = store_grid_put(st, s->run, &g, l, a, &grid, e);
    }
    if (!rc)
        printf("stored=%s run=%.12s step=%ld grid=%d\n", c->db, s->run, s->run_step, grid);
    store_close(st);
    free(l);
    free(a);
    return rc;
}

int cmd_landscape(session *s, err *e)
{
    cfg *c = &s->c;
    int twod = c->y.n > 0;
    if (c->dir2 && (!c->dir1 || !twod))
        return err_set(e, ERR_USAGE, "landscape: --dir2 needs --dir1 and --y");
    if (c->dir1 && twod && !c->dir2)
        return err_set(e, ERR_USAGE, "landscape: a 2-D grid (--y) from files needs --dir2");
    if (c->dir1 && c->axes)
        return err_set(e, ERR_USAGE, "landscape: give --dir1/--dir2 or --axes, not both");
    if (c->axes == 2 && (!c->init || !session_names_run(c->init)))
        return err_set(e, ERR_USAGE, "landscape: --axes pca takes its directions from a run's "
                       "stored snapshots; give --init RUN[@STEP] (and --db PATH)");
    int rc = check_db(c, "landscape", "grid", e);
    rc = rc ? rc : open_split(s, e);
    if (rc)
        return rc;
    model *m = s->m;
    size_t ny = twod ? (size_t)c->y.n : 1, npts = (size_t)c->x.n * ny;
    double *d1 = err_malloc(e, m->n * sizeof *d1), *d2 = twod ? err_malloc(e, m->n * sizeof *d2) : NULL;
    double *loss = err_malloc(e, npts * sizeof *loss), *acc = err_malloc(e, npts * sizeof *acc);
    pca_traj t = {0};
    rc = d1 && (d2 || !twod) && loss && acc
             ? 0 : err_wrap(e, "landscape: directions of %zu parameters and a grid of %zu points",
                            m->n, npts);
    rc = rc ? rc : directions(s, d1, d2, &t, e);
    rc = rc ? rc : land_grid(m, s->theta, d1, d2, c->x, c->y, session_batch(s->train), loss, acc, e);
    FILE *f = NULL;
    if (!rc && !(f = c->out ? fopen(c->out, "w") : stdout))
        rc = err_set(e, ERR_SYS, "landscape: cannot write %s", c->out);
    if (!rc) {
        fprintf(f, "x,y,loss,accuracy\n");
        for (size_t k = 0; k < npts; k++)
            fprintf(f, "%.17g,%.17g,%.17g,%.17g\n", land_axis_at(c->x, (int)(k / ny)),
                    twod ? land_axis_at(c->y, (int)(k % ny)) : 0.0, loss[k], acc[k]);
        if (c->out && (fclose(f) != 0))
            rc = err_set(e, ERR_SYS, "landscape: error writing %s", c->out);
        else if (!c->out && fflush(f) != 0)
            rc = err_set(e, ERR_SYS, "landscape: error writing the CSV");
    }
    if (!rc && c->out)
        printf("wrote %s: %d x %zu points, %zu samples of the %s split\n", c->out, c->x.n, ny,
               s->train ? s->train->n : 0, split_name(c));
    if (!rc && c->db)
        rc = store_landscape(s, loss, acc, &t, e);
    pca_traj_free(&t);
    free(d1);
    free(d2);
    free(loss);
    free(acc);
    return rc;
}

/* The model options a run given as --to must share with theta_a's. */
static const char *const model_keys[] = {"model", "hidden", "act", "slope", "no-bias", "loss",
                                         "channels", "width", "blocks", "skip", NULL};

/* --to RUN[@STEP]: *tb = the run's snapshot (s->m->n values), after checking that its
 * model options are theta_a's. */
static int to_run(const session *s, double **tb, err *e)
{
    const cfg *c = &s->c;
    char id[65], *conf = NULL;
    long step = 0;
    size_t n = 0;
    int rc = session_snapshot(c->db ? c->db : "results/basin.db", c->to, "--to", id, &step, &conf,
                              tb, &n, e);
    for (int k = 0; !rc && model_keys[k]; k++) {
        char mine[1024], pat[64];
        if (cfg_get(c, CMD_INIT, model_keys[k], mine, sizeof mine))
            continue;
        snprintf(pat, sizeof pat, "%s = ", model_keys[k]);
        const char *line = conf;
        while (line && strncmp(line, pat, strlen(pat))) {
            const char *nl = strchr(line, '\n');
            line = nl ? nl + 1 : NULL;
        }
        const char *val = line ? line + strlen(pat) : NULL;
        size_t len = val ? strcspn(val, "\n") : 0;
        if (val && (len != strlen(mine) || strncmp(val, mine, len)))
            rc = err_set(e, ERR_USAGE, "--to %s: run %.12s has %s = %.*s, theta_a's model %s", c->to,
                         id, model_keys[k], (int)len, val, mine);
    }
    if (!rc && n != s->m->n)
        rc = err_set(e, ERR_DATA, "--to %s: the snapshot has %zu parameters, the %s model of "
                     "--from %zu", c->to, n, s->m->kind, s->m->n);
    if (!rc)
        fprintf(stderr, "--to: run %.12s, snapshot at step %ld\n", id, step);
    free(conf);
    return rc;
}

int cmd_interpolate(session *s, err *e)
{
    cfg *c = &s->c;
    if (!c->from || !c->to)
        return err_set(e, ERR_USAGE, "interpolate: --from and --to (A.npy or RUN[@STEP]) are "
                       "required");
    if (c->save && !c->match)
        return err_set(e, ERR_USAGE, "interpolate: --save writes the matched theta_b (needs "
                       "--match weights)");
    c->init = c->from;      /* session_open reads and checks theta_a */
    int rc = open_split(s, e);
    if (rc)
        return rc;
    model *m = s->m;
    size_t na = (size_t)c->alpha.n;
    double *tb = err_malloc(e, m->n * sizeof *tb), *tm = NULL;
    double *loss = err_malloc(e, 2 * na * sizeof *loss), *acc = err_malloc(e, 2 * na * sizeof *acc);
    land_barrier r, rm;
    int sweeps = 0;
    rc = tb && loss && acc ? 0 : ERR_SYS;
    if (!rc && session_names_run(c->to)) {
        free(tb);
        tb = NULL;
        rc = to_run(s, &tb, e);
    } else if (!rc) {
        rc = session_read_vector(c->to, tb, m->n, e);
    }
    batch b = session_batch(s->train);
    rc = rc ? rc : land_interpolate(m, s->theta, tb, c->alpha, b, loss, acc, &r, e);
    if (!rc && c->match) {
        tm = err_malloc(e, m->n * sizeof *tm);
        rc = tm ? land_match_weights(m, s->theta, tb, tm, 100, &sweeps, e) : ERR_SYS;
        rc = rc ? rc : land_interpolate(m, s->theta, tm, c->alpha, b, loss + na, acc + na, &rm, e);
        rc = rc || !c->save ? rc : npy_write(c->save, tm, m->n, e);
    }
    FILE *f = NULL;
    if (!rc && c->out && !(f = fopen(c->out, "w")))
        rc = err_set(e, ERR_SYS, "interpolate: cannot write %s", c->out);
    if (!rc && f) {
        fprintf(f, "alpha,loss,accuracy%s\n", c->match ? ",matched_loss,matched_accuracy" : "");
        for (size_t i = 0; i < na; i++) {
            fprintf(f, "%.17g,%.17g,%.17g", land_axis_at(c->alpha, (int)i), loss[i], acc[i]);
            if (c->match)
                fprintf(f, ",%.17g,%.17g", loss[na + i], acc[na + i]);
            fprintf(f, "\n");
        }
        if (fclose(f) != 0)
            rc = err_set(e, ERR_SYS, "interpolate: error writing %s", c->out);
    }
    if (!rc) {
        printf("loss_a=%.17g\nloss_b=%.17g\nerror_a=%.17g\nerror_b=%.17g\n", r.loss_a, r.loss_b,
               r.err_a, r.err_b);
        printf("barrier_loss=%.17g\nbarrier_error=%.17g\n", r.loss, r.error);
        if (c->match)
            printf("match_sweeps=%d\nmatched_loss_b=%.17g\nmatched_barrier_loss=%.17g\n"
                   "matched_barrier_error=%.17g\n", sweeps, rm.loss_b, rm.loss, rm.error);
    }
    free(tb);
    free(tm);
    free(loss);
    free(acc);
    return rc;
}
