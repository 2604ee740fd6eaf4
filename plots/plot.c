/* plot.c -- gnuplot scripts and data files from a basin store, and the gnuplot run
 * (plot.h). One section per kind; the shared parts first: run selection and labels,
 * the style (style.c), the script preamble, number output, running gnuplot. */
#define _DEFAULT_SOURCE   /* mkdtemp, DT_* */
#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plot.h"
#include "style.h"

const char *const plot_kinds[] = {"curves", "sharpness", "spectrum", "collapse", "landscape",
                                   "interp", "race", "compare", NULL};

/* One selected run: its group (runs differing only by seed), the optimizer, the legend
 * text (the parameters that differ among the selection) and its line style. */
typedef struct prun {
    char id[65], grp[65];
    char optim[32];
    char label[256];        /* group label (seed left out) */
    char rlabel[280];       /* run label (with seed=S when seeds differ) */
    uint32_t rgb;
    int dash;               /* gnuplot dashtype, 1 = solid */
} prun;

/* A landscape grid of a run (landscape_grids). */
typedef struct lgrid {
    int grid, ny, nx;
    long step;
    char split[16], norm[32];
    int pca;                /* axes pca with its explained-variance ratios */
    double explained[2];
} lgrid;

/* A race trajectory: a run's, or a CSV file's. */
typedef struct track {
    char label[300];
    uint32_t rgb;
    int dash, n;
} track;

/* What the kind being drawn keeps per selected run (race: per trajectory, the --csv
 * files' too). On the heap: the selection's size comes from the database, and arrays
 * of it on the stack overflowed it (issue 18). */
typedef struct pstate {
    int first;              /* curves, compare: the index of the first run of its group */
    int nseeds;             /* curves: runs of the group with rows */
    int has;                /* sharpness, spectrum, collapse: a data set was written;
                               compare: a final value */
    int thr, gd;            /* sharpness: a threshold data set; gradient descent's 2/eta */
    double beta;            /* sharpness: heavy-ball momentum, 0 when none */
    double v;               /* compare: the run's final value (when has) */
    long step;              /* spectrum: the step drawn */
    int found, use;         /* landscape: the run has a grid; it is drawn (1-D) */
    lgrid lg;               /* landscape: that grid */
    track t;                /* race */
} pstate;

typedef struct ctx {
    store *s;
    sqlite3 *db;
    const plot_opts *o;
    prun *r;                /* (n) in the order of the selection */
    int n;
    pstate *w;              /* (n + o->ncsv + 1), zeroed: the kind's state per run */
    char dir[4096];         /* where plot.gp and the data go */
    int tmp;                /* dir is ours (mkdtemp) */
    char out[4096];         /* the output as the script names it; "" no rendering */
    const char *ext;        /* "png", "svg", "pdf", "gif" */
    FILE *gp;               /* plot.gp */
} ctx;

/* --- numbers and text --- */

/* v as gnuplot reads it: 17 significant digits (exact round trip), "NaN" when not
 * finite. The caller runs under the "C" numeric locale (plot_render), so the decimal
 * sign is '.' whatever LC_NUMERIC says. A ring of buffers: up to 8 in one printf. */
static const char *num(double v)
{
    static char ring[8][32];
    static int k;
    char *b = ring[k++ & 7];
    if (!isfinite(v))
        return "NaN";
    snprintf(b, sizeof ring[0], "%.17g", v);
    return b;
}

/* s made safe for one line of gnuplot text, in a ring of 4 buffers (at most 4 in one
 * printf), long enough for any path (4096 bytes) with every byte doubled. A newline in
 * a script ends the command and starts another (`!cmd`, `system "cmd"`), in a data
 * file it starts a row: every control character (below 0x20, and 0x7f) becomes '?'.
 * With `dbl`, every ' is doubled: the inside of a gnuplot single-quoted string, in
 * which nothing else is special (no backslash escapes, no `command` or @macro
 * substitution; tests/test_plot.c renders backslashes, backquotes and @ in titles). */
static const char *text(const char *s, int dbl)
{
    static char ring[4][2 * 4096 + 8];
    static int k;
    char *b = ring[k++ & 3];
    size_t j = 0;
    for (; *s && j + 2 < sizeof ring[0]; s++) {
        unsigned char ch = (unsigned char)*s;
        if (dbl && ch == '\'')
            b[j++] = '\'';
        b[j++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    b[j] = 0;
    return b;
}

/* s as the inside of a gnuplot single-quoted string. */
static const char *quote(const char *s)
{
    return text(s, 1);
}

/* s as the text of a data file's comment or string column: one line. */
static const char *plain(const char *s)
{
    return text(s, 0);
}

/* The first control character of s (as in text()), 0 when there is none. */
static int control_char(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return (unsigned char)*s;
    return 0;
}

/* --- the store --- */

static int dberr(ctx *c, const char *what, err *e)
{
    return err_set(e, ERR_DATA, "%s: %s", what, sqlite3_errmsg(c->db));
}

static int prep(ctx *c, const char *sql, sqlite3_stmt **st, err *e)
{
    return sqlite3_prepare_v2(c->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : dberr(c, sql, e);
}

/* Finalize st; rc the last sqlite3_step result: anything but DONE is an error. */
static int finish(ctx *c, sqlite3_stmt *st, int rc, err *e)
{
    int r = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : dberr(c, "query", e);
    sqlite3_finalize(st);
    return r;
}


/* A column as a double, NAN for NULL. */
static double dcol(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* The number of run r's parameter `key` (NAN when absent or not a number). */
static int param_num(ctx *c, const prun *r, const char *key, double *v, err *e)
{
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT num FROM params WHERE run = ?1 AND key = ?2", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    *v = NAN;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        *v = dcol(st, 0);
    return finish(c, st, rc, e);
}

static int param_text(ctx *c, const prun *r, const char *key, char *buf, size_t cap, err *e)
{
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT text FROM params WHERE run = ?1 AND key = ?2", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    buf[0] = 0;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        snprintf(buf, cap, "%s", store_text(st, 0));
    return finish(c, st, rc, e);
}

/* The selection into temp.plot_sel(run, ord): the --run prefixes, or the runs of the
 * experiment (the most recently updated one when none is named), in their order. */
static int select_ids(ctx *c, err *e)
{
    int rc = sqlite3_exec(c->db, "CREATE TEMP TABLE IF NOT EXISTS plot_sel(run TEXT, ord INTEGER);"
                                 "DELETE FROM temp.plot_sel", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return dberr(c, "temp table", e);
    sqlite3_stmt *st;
    if (c->o->nruns) {
        if ((rc = prep(c, "INSERT INTO temp.plot_sel VALUES (?1, ?2)", &st, e)))
            return rc;
        for (int i = 0; !rc && i < c->o->nruns; i++) {
            char id[65];
            if ((rc = store_run_resolve(c->s, c->o->runs[i], id, e)))
                break;
            sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(st, 2, i);
            rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dberr(c, "select", e);
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        return rc;
    }
    char name[256] = "";
    if (c->o->experiment)
        snprintf(name, sizeof name, "%s", c->o->experiment);
    else {
        if ((rc = prep(c, "SELECT name FROM experiments ORDER BY updated DESC, rowid DESC "
                          "LIMIT 1", &st, e)))
            return rc;
        if ((rc = sqlite3_step(st)) == SQLITE_ROW)
            snprintf(name, sizeof name, "%s", store_text(st, 0));
        if ((rc = finish(c, st, rc, e)))
            return rc;
        if (!name[0])
            return err_set(e, ERR_DATA, "the database has no experiment; name runs "
                           "with --run ID");
    }
    if ((rc = prep(c, "INSERT INTO temp.plot_sel SELECT r.id, r.rowid FROM experiment_runs er "
                      "JOIN runs r ON r.id = er.run WHERE er.experiment = ?1", &st, e)))
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if ((rc = finish(c, st, rc, e)))
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return err_set(e, ERR_DATA, "experiment '%s' has no runs in the database", name);
    return 0;
}

/* Load the selected runs with their labels and styles. Legends name the parameters
 * whose text differs among the selection (seed aside; seed=S is added to run labels
 * when seeds differ), or the optimizer and lr when none does. */
static int load_runs(ctx *c, err *e)
{
    sqlite3_stmt *st, *pk;
    int rc = prep(c, "SELECT r.id, r.grp, COALESCE((SELECT text FROM params p WHERE "
                     "p.run = r.id AND p.key = 'optim'), 'sgd'), r.seed, "
                     "(SELECT COUNT(DISTINCT seed) FROM runs JOIN temp.plot_sel s ON s.run = runs.id) "
                     "FROM temp.plot_sel s JOIN runs r ON r.id = s.run ORDER BY s.ord", &st, e);
    if (rc)
        return rc;
    int cap = 16, seeds = 1;
    c->r = calloc((size_t)cap, sizeof *c->r);
    if (!c->r) {
        sqlite3_finalize(st);
        return err_set(e, ERR_SYS, "out of memory");
    }
    long long seed[1024];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (c->n == cap) {
            prun *g = realloc(c->r, 2 * (size_t)cap * sizeof *g);
            if (!g) {
                sqlite3_finalize(st);
                return err_set(e, ERR_SYS, "out of memory");
            }
            c->r = g;
            cap *= 2;
        }
        prun *r = memset(&c->r[c->n], 0, sizeof *r);
        snprintf(r->id, sizeof r->id, "%s", store_text(st, 0));
        snprintf(r->grp, sizeof r->grp, "%s", store_text(st, 1));
        snprintf(r->optim, sizeof r->optim, "%s", store_text(st, 2));
        seed[c->n % 1024] = sqlite3_column_int64(st, 3);
        seeds = sqlite3_column_int(st, 4);
        c->n++;
    }
    if ((rc = finish(c, st, rc, e)))
        return rc;
    /* the distinguishing keys, in the canonical (params insertion) order */
    if ((rc = prep(c, "SELECT p.run, p.key, p.text FROM params p JOIN temp.plot_sel s "
                      "ON s.run = p.run WHERE p.key NOT IN ('seed', 'threads') AND p.key IN "
                      "(SELECT key FROM params JOIN temp.plot_sel t ON t.run = params.run "
                      " GROUP BY key HAVING COUNT(DISTINCT text) > 1 OR COUNT(*) < ?1) "
                      "ORDER BY p.rowid", &pk, e)))
        return rc;
    sqlite3_bind_int(pk, 1, c->n);
    while ((rc = sqlite3_step(pk)) == SQLITE_ROW)
        for (int i = 0; i < c->n; i++)
            if (!strcmp(c->r[i].id, store_text(pk, 0))) {
                char *l = c->r[i].label;
                size_t k = strlen(l);
                snprintf(l + k, sizeof c->r[i].label - k, "%s%s=%s", k ? " " : "",
                         store_text(pk, 1), store_text(pk, 2));
            }
    if ((rc = finish(c, pk, rc, e)))
        return rc;
    for (int i = 0; i < c->n; i++) {
        prun *r = &c->r[i];
        if (!r->label[0]) {
            char lr[64];
            if ((rc = param_text(c, r, "lr", lr, sizeof lr, e)))
                return rc;
            snprintf(r->label, sizeof r->label, "%s%s%s", r->optim, lr[0] ? " lr=" : "", lr);
        }
        snprintf(r->rlabel, sizeof r->rlabel, "%s", r->label);
        if (seeds > 1)
            snprintf(r->rlabel + strlen(r->rlabel), sizeof r->rlabel - strlen(r->rlabel),
                     " seed=%lld", seed[i % 1024]);
        /* the k-th group of one optimizer: its colour's k-th shade and dash; the
         * runs of one group share the style of its first run */
        int k = 0, same = i;
        for (int j = 0; j < i; j++)
            if (!strcmp(c->r[j].grp, r->grp)) {
                same = j;
                break;
            }
        for (int j = 0; j < same; j++) {
            int leader = 1;
            for (int q = 0; q < j && leader; q++)
                leader = strcmp(c->r[q].grp, c->r[j].grp) != 0;
            k += leader && !strcmp(c->r[j].optim, r->optim);
        }
        r->rgb = same < i ? c->r[same].rgb : style_shade(style_optim_rgb(r->optim), k);
        r->dash = same < i ? c->r[same].dash : 1 + k % 5;
    }
    return 0;
}

/* The groups of the selection (runs sharing grp), in order of first appearance:
 * c->w[i].first = the index of the first run of run i's group. */
static void groups(ctx *c)
{
    for (int i = 0; i < c->n; i++) {
        int j = 0;
        while (j < i && strcmp(c->r[j].grp, c->r[i].grp))
            j++;
        c->w[i].first = j;
    }
}

/* --- files --- */

static FILE *dopen(ctx *c, const char *name, err *e)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", c->dir, name);
    FILE *f = fopen(p, "w");
    if (!f)
        err_set(e, ERR_SYS, "cannot write %s: %s", p, strerror(errno));
    return f;
}

static int dclose(ctx *c, FILE *f, const char *name, err *e)
{
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    return bad ? err_set(e, ERR_SYS, "error writing %s/%s", c->dir, name) : 0;
}

/* The script's head: terminal by the output's extension, output, common style. */
static void preamble(ctx *c, int w, int h)
{
    FILE *g = c->gp;
    int W = c->o->width ? c->o->width : w, H = c->o->height ? c->o->height : h;
    fprintf(g, "# basin plot %s -- re-render with: gnuplot plot.gp (in this directory)\n",
            c->o->kind);
    if (!strcmp(c->ext, "svg"))
        fprintf(g, "set terminal svg size %d,%d dynamic font 'DejaVu Sans,12' noenhanced "
                   "background '#ffffff'\n", W, H);
    else if (!strcmp(c->ext, "pdf"))
        fprintf(g, "set terminal pdfcairo size %sin,%sin font 'DejaVu Sans,9' noenhanced\n",
                num(W / 100.0), num(H / 100.0));
    else if (!strcmp(c->ext, "gif"))
        fprintf(g, "set terminal gif animate delay 6 loop 0 optimize size %d,%d "
                   "font 'DejaVu Sans,11' noenhanced\n", W, H);
    else
        fprintf(g, "set terminal pngcairo size %d,%d font 'DejaVu Sans,12' noenhanced\n", W, H);
    fprintf(g, "set output '%s'\n", quote(c->out));
    fprintf(g, "set datafile missing NaN\n"
               "set border 3 lw 1.2 lc rgb '#404040'\n"
               "set tics nomirror out scale 0.7\n"
               "set grid back lc rgb '#dddddd' lw 1 dt 1\n"
               "set key top right opaque box lc rgb '#bbbbbb' samplen 2.5 spacing 1.1\n"
               "set linetype 1 lw 2\n"
               "%s\n", style_palette());
}

/* --- running gnuplot --- */

/* The gnuplot executable on PATH into path; -1 when there is none. */
static int find_gnuplot(char *path, size_t cap)
{
    const char *p = getenv("PATH");
    if (!p)
        p = "/usr/bin:/bin";
    while (1) {
        size_t k = strcspn(p, ":");
        snprintf(path, cap, "%.*s/gnuplot", (int)k, k ? p : ".");
        if (!k)
            snprintf(path, cap, "./gnuplot");
        if (access(path, X_OK) == 0)
            return 0;
        if (!p[k])
            return -1;
        p += k + 1;
    }
}

static int run_gnuplot(ctx *c, err *e)
{
    char exe[4200];
    if (find_gnuplot(exe, sizeof exe))
        return err_set(e, ERR_SYS, "gnuplot not found on PATH; install Debian's "
                       "gnuplot-nox (sudo apt-get install gnuplot-nox), or write the script "
                       "and data with --emit-script DIR");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return err_set(e, ERR_SYS, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(c->dir) == 0)
            execl(exe, "gnuplot", "plot.gp", (char *)NULL);
        fprintf(stderr, "plot: cannot run %s in %s: %s\n", exe, c->dir, strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return err_set(e, ERR_SYS, "waitpid: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    c->tmp = 0;   /* keep the script for the user */
    return err_set(e, ERR_DATA, "gnuplot failed (%s %d) on %s/plot.gp (kept)",
                   WIFEXITED(status) ? "exit" : "signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), c->dir);
}

/* Remove our temporary directory and everything gnuplot or we wrote in it. */
static void rm_tmp(ctx *c)
{
    DIR *d = opendir(c->dir);
    struct dirent *x;
    char p[4400];
    while (d && (x = readdir(d)))
        if (strcmp(x->d_name, ".") && strcmp(x->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", c->dir, x->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(c->dir);
}

/* --- curves: a metric against step or epoch, mean +- std over seeds --- */

typedef struct pt {
    long step;
    double epoch, v;
} pt;

static int cmp_pt(const void *a, const void *b)
{
    const pt *x = a, *y = b;
    return x->step < y->step ? -1 : x->step > y->step;
}

/* Rows (step, epoch, value) of `sql` (run ?1, key ?2) for every run of group gi
 * appended to *p (grown). */
static int group_rows(ctx *c, int gi, const char *sql, const char *key, pt **p, size_t *np,
                      size_t *cap, int *nruns, err *e)
{
    sqlite3_stmt *st;
    int rc = prep(c, sql, &st, e);
    *nruns = 0;
    for (int i = 0; !rc && i < c->n; i++) {
        if (c->w[i].first != gi)
            continue;
        (*nruns)++;
        sqlite3_bind_text(st, 1, c->r[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (*np == *cap) {
                pt *g = realloc(*p, (*cap = 2 * *cap + 256) * sizeof *g);
                if (!g) {
                    sqlite3_finalize(st);
                    return err_set(e, ERR_SYS, "out of memory");
                }
                *p = g;
            }
            (*p)[(*np)++] = (pt){sqlite3_column_int64(st, 0), dcol(st, 1), dcol(st, 2)};
        }
        rc = rc == SQLITE_DONE ? 0 : dberr(c, "metrics", e);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

static int kind_curves(ctx *c, err *e)
{
    const plot_opts *o = c->o;
    const char *key = o->metric ? o->metric : "train_loss";
    pstate *w = c->w;
    int rc = 0, drawn = 0;
    groups(c);
    FILE *f = dopen(c, "curves.dat", e);
    if (!f)
        return ERR_SYS;
    pt *p = NULL;
    size_t cap = 0;
    for (int gi = 0; !rc && gi < c->n; gi++) {
        if (w[gi].first != gi)
            continue;
        size_t np = 0;
        rc = group_rows(c, gi, "SELECT step, epoch, value FROM metrics WHERE run = ?1 "
                        "AND key = ?2 AND value IS NOT NULL ORDER BY step", key, &p, &np, &cap,
                        &w[gi].nseeds, e);
        if (rc)
            break;
        if (!np) {   /* no data set for a group without rows */
            w[gi].nseeds = 0;
            continue;
        }
        qsort(p, np, sizeof *p, cmp_pt);
        fprintf(f, "%s# %s\n# x mean std n lo hi\n", drawn ? "\n\n" : "", plain(c->r[gi].label));
        for (size_t a = 0, b; a < np; a = b) {
            double mean = 0, ep = 0, ss = 0;
            for (b = a; b < np && p[b].step == p[a].step; b++) {
                mean += p[b].v;
                ep += p[b].epoch;
            }
            int n = (int)(b - a);
            mean /= n;
            ep /= n;
            for (size_t k = a; k < b; k++)
                ss += (p[k].v - mean) * (p[k].v - mean);
            double sd = n > 1 ? sqrt(ss / (n - 1)) : 0, lo = mean - sd;
            if (o->logy && lo <= 0)
                lo = mean / 10;
            fprintf(f, "%s %s %s %d %s %s\n",
                    o->x == PLOT_X_EPOCH ? num(ep) : num((double)p[a].step), num(mean), num(sd),
                    n, num(lo), num(mean + sd));
        }
        drawn++;
    }
    free(p);
    int crc = dclose(c, f, "curves.dat", e);
    rc = rc ? rc : crc;
    if (rc)
        return rc;
    int any = 0;
    for (int gi = 0; gi < c->n; gi++)
        any |= w[gi].first == gi && w[gi].nseeds;
    if (!any)
        return err_set(e, ERR_DATA, "curves: no '%s' rows for the selected runs", key);
    preamble(c, 900, 600);
    FILE *g = c->gp;
    fprintf(g, "set xlabel '%s'\nset ylabel '%s'\n%s",
            o->x == PLOT_X_EPOCH ? "epoch (passes over the training set)" : "step (updates)",
            quote(style_metric_label(key)),
            o->logy ? "set logscale y\nset format y '%g'\nset autoscale yfix\n"
                      "set offsets 0, 0, graph 0.04, graph 0.04\n" : "");
    fprintf(g, "set title '%s'\nplot \\\n", quote(style_metric_label(key)));
    int idx = 0;
    for (int gi = 0; gi < c->n; gi++) {
        if (w[gi].first != gi)
            continue;
        const prun *r = &c->r[gi];
        if (w[gi].nseeds > 1)
            fprintf(g, "  'curves.dat' index %d using 1:5:6 with filledcurves "
                       "fc rgb '#%06x' fs transparent solid 0.22 noborder notitle, \\\n",
                    idx, r->rgb);
        char t[400];
        snprintf(t, sizeof t, "%s%s", r->label, w[gi].nseeds > 1 ? "" : "");
        if (w[gi].nseeds > 1)
            snprintf(t, sizeof t, "%s (mean ± std, %d seeds)", r->label, w[gi].nseeds);
        fprintf(g, "  'curves.dat' index %d using 1:2 with lines lc rgb '#%06x' lw 2 dt %d "
                   "title '%s', \\\n", idx, r->rgb, r->dash, quote(t));
        idx++;
    }
    fprintf(g, "  NaN notitle\n");
    return 0;
}

/* --- sharpness: lambda_max against step with the 2/eta stability thresholds --- */

/* Whether run r's update is gradient descent, whose stability threshold is 2/eta (*gd;
 * sgd, mezo, and sam, gam and forward-grad over sgd), and heavy-ball momentum beta > 0
 * without Nesterov, whose threshold is (2+2 beta)/eta (*beta, else 0): the rules of
 * experiments/probe_sched.c's eos metrics. Adaptive rules (adam, ...) have neither:
 * their edge is the preconditioned sharpness (precond_sharpness, a curves metric). */
static int gd_rule(ctx *c, const prun *r, int *gd, double *beta, err *e)
{
    char optim[32], base[32], nest[8];
    double b;
    int rc = param_text(c, r, "optim", optim, sizeof optim, e);
    rc = rc ? rc : param_text(c, r, "base", base, sizeof base, e);
    rc = rc ? rc : param_text(c, r, "nesterov", nest, sizeof nest, e);
    rc = rc ? rc : param_num(c, r, "momentum", &b, e);
    if (rc)
        return rc;
    const char *rule = optim;
    if (!strcmp(optim, "sam") || !strcmp(optim, "gam") || !strcmp(optim, "forward-grad"))
        rule = base[0] ? base : "sgd";
    *gd = !optim[0] || !strcmp(rule, "sgd") || !strcmp(rule, "mezo");   /* no optim: an old store */
    *beta = *gd && !strcmp(rule, "sgd") && strcmp(nest, "true") && isfinite(b) && b > 0 ? b : 0;
    return 0;
}

static int kind_sharpness(ctx *c, err *e)
{
    FILE *f = dopen(c, "sharpness.dat", e);
    if (!f)
        return ERR_SYS;
    sqlite3_stmt *ls = NULL, *lr = NULL;
    int rc = prep(c, "SELECT step, MAX(value) FROM (SELECT step, value FROM hessian_eigs "
                     "WHERE run = ?1 AND k = 0 UNION ALL SELECT step, value FROM metrics "
                     "WHERE run = ?1 AND key = 'lambda_max') WHERE value IS NOT NULL "
                     "GROUP BY step ORDER BY step", &ls, e);
    rc = rc ? rc : prep(c, "SELECT step, value FROM metrics WHERE run = ?1 AND key = 'lr' "
                           "AND value IS NOT NULL ORDER BY step", &lr, e);
    pstate *w = c->w;
    int nset = 0;
    for (int i = 0; !rc && i < c->n; i++) {
        const prun *r = &c->r[i];
        long s0 = 0, s1 = 0;
        sqlite3_bind_text(ls, 1, r->id, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(ls)) == SQLITE_ROW) {
            long s = sqlite3_column_int64(ls, 0);
            if (!w[i].has)   /* data sets only for runs with eigenvalues */
                fprintf(f, "%s# %s: step lambda_max\n", nset++ ? "\n\n" : "", plain(r->rlabel));
            s0 = w[i].has ? s0 : s;
            s1 = s;
            w[i].has = 1;
            fprintf(f, "%ld %s\n", s, num(dcol(ls, 1)));
        }
        rc = rc == SQLITE_DONE ? 0 : dberr(c, "sharpness", e);
        sqlite3_reset(ls);
        double eta;
        rc = rc ? rc : gd_rule(c, r, &w[i].gd, &w[i].beta, e);
        rc = rc ? rc : param_num(c, r, "lr", &eta, e);
        if (rc)
            break;
        if (!w[i].has || !w[i].gd)   /* no 2/eta for adaptive rules: no threshold data set */
            continue;
        fprintf(f, "\n\n# %s: step 2/eta (2+2beta)/eta, beta = %s\n", plain(r->rlabel),
                num(w[i].beta));
        /* eta per step when the schedule was logged, else the lr parameter */
        sqlite3_bind_text(lr, 1, r->id, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(lr)) == SQLITE_ROW) {
            double v = dcol(lr, 1);
            w[i].thr = 1;
            fprintf(f, "%lld %s %s\n", sqlite3_column_int64(lr, 0), num(2.0 / v),
                    num((2.0 + 2.0 * w[i].beta) / v));
        }
        rc = rc == SQLITE_DONE ? 0 : dberr(c, "lr", e);
        sqlite3_reset(lr);
        if (!rc && !w[i].thr && isfinite(eta) && eta > 0) {
            w[i].thr = 1;
            for (int k = 0; k < 2; k++)
                fprintf(f, "%ld %s %s\n", k ? s1 : s0, num(2.0 / eta),
                        num((2.0 + 2.0 * w[i].beta) / eta));
        }
        if (!rc && !w[i].thr)   /* keep the data set: no threshold without an lr */
            fprintf(f, "NaN NaN NaN\n");
    }
    sqlite3_finalize(ls);
    sqlite3_finalize(lr);
    int crc = dclose(c, f, "sharpness.dat", e);
    rc = rc ? rc : crc;
    if (!rc && !nset)
        rc = err_set(e, ERR_DATA, "sharpness: no top Hessian eigenvalues (hessian_eigs or "
                     "lambda_max metrics) for the selected runs");
    if (rc)
        return rc;
    preamble(c, 1150, 600);
    FILE *g = c->gp;
    fprintf(g, "set title 'Edge of stability: sharpness against the 2/η threshold'\n"
               "set xlabel 'step (updates)'\nset ylabel 'λmax, top Hessian eigenvalue (loss / parameter²)'\n"
               "set key outside right top Left reverse samplen 2\nset offsets 0, 0, graph 0.08, graph 0.04\n%splot \\\n",
            c->o->logy ? "set logscale y\n" : "");
    for (int i = 0, j = 0; i < c->n; i++) {
        if (!w[i].has)
            continue;
        const prun *r = &c->r[i];
        fprintf(g, "  'sharpness.dat' index %d using 1:2 with linespoints pt 7 ps 0.5 lw 2 "
                   "lc rgb '#%06x' title 'λmax  %s%s', \\\n", j, r->rgb, quote(r->rlabel),
                w[i].gd ? "" : " (adaptive: no 2/η)");
        if (w[i].thr)
            fprintf(g, "  'sharpness.dat' index %d using 1:2 with lines dt 2 lw 1.8 "
                       "lc rgb '#%06x' title '2/η', \\\n", j + 1, r->rgb);
        if (w[i].thr && w[i].beta > 0)
            fprintf(g, "  'sharpness.dat' index %d using 1:3 with lines dt 4 lw 1.8 "
                       "lc rgb '#%06x' title '(2+2β)/η, β=%g', \\\n", j + 1, r->rgb, w[i].beta);
        j += w[i].gd ? 2 : 1;
    }
    fprintf(g, "  NaN notitle\n");
    return 0;
}

/* --- spectrum: SLQ spectral density on a log axis, top eigenvalues marked --- */

#define SPEC_POINTS 10000

static int kind_spectrum(ctx *c, err *e)
{
    FILE *f = dopen(c, "spectrum.dat", e);
    if (!f)
        return ERR_SYS;
    sqlite3_stmt *ms = NULL, *qd = NULL, *qe = NULL;
    int rc = prep(c, "SELECT MAX(step) FROM density WHERE run = ?1", &ms, e);
    rc = rc ? rc : prep(c, "SELECT node, weight FROM density WHERE run = ?1 AND step = ?2 "
                           "ORDER BY k", &qd, e);
    rc = rc ? rc : prep(c, "SELECT DISTINCT value FROM hessian_eigs WHERE run = ?1 AND "
                           "step = ?2 AND value IS NOT NULL ORDER BY value DESC", &qe, e);
    pstate *ps = c->w;
    int idx = 0;
    double peak = 0, lo = INFINITY, hi = -INFINITY;
    char arrows[8192] = "";
    for (int i = 0; !rc && i < c->n; i++) {
        const prun *r = &c->r[i];
        long step = c->o->step;
        if (step < 0) {
            sqlite3_bind_text(ms, 1, r->id, -1, SQLITE_STATIC);
            if ((rc = sqlite3_step(ms)) == SQLITE_ROW && sqlite3_column_type(ms, 0) != SQLITE_NULL)
                step = sqlite3_column_int64(ms, 0);
            rc = rc == SQLITE_ROW ? 0 : dberr(c, "density", e);
            sqlite3_reset(ms);
        }
        double nodes[1024], w[1024];
        int k = 0;
        sqlite3_bind_text(qd, 1, r->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(qd, 2, step);
        int sr = SQLITE_DONE;
        while (!rc && (sr = sqlite3_step(qd)) == SQLITE_ROW && k < 1024) {
            nodes[k] = dcol(qd, 0);
            w[k] = dcol(qd, 1);
            k += isfinite(nodes[k]) && isfinite(w[k]);
        }
        if (!rc && sr != SQLITE_DONE && sr != SQLITE_ROW)
            rc = dberr(c, "density", e);
        sqlite3_reset(qd);
        if (rc || step < 0 || !k)
            continue;
        ps[i].has = 1;
        ps[i].step = step;
        /* PyHessian's density_generate: a grid padded by 0.01 on both sides, Gaussians of
         * variance 1e-5 max(1, lmax - lmin), normalized by sum * spacing */
        double mn = nodes[0], mx = nodes[0];
        for (int j = 1; j < k; j++) {
            mn = fmin(mn, nodes[j]);
            mx = fmax(mx, nodes[j]);
        }
        mn -= 0.01;
        mx += 0.01;
        double s2 = 1e-5 * fmax(1.0, mx - mn), dx = (mx - mn) / (SPEC_POINTS - 1), sum = 0;
        double *d = malloc(SPEC_POINTS * sizeof *d);
        if (!d) {
            rc = err_set(e, ERR_SYS, "out of memory");
            break;
        }
        for (int p = 0; p < SPEC_POINTS; p++) {
            double x = mn + p * dx, v = 0;
            for (int j = 0; j < k; j++)
                v += w[j] * exp(-(nodes[j] - x) * (nodes[j] - x) / (2 * s2)) / sqrt(2 * M_PI * s2);
            d[p] = v;
            sum += v;
        }
        fprintf(f, "%s# %s, step %ld: lambda density\n", idx ? "\n\n" : "", plain(r->rlabel),
                step);
        for (int p = 0; p < SPEC_POINTS; p++) {
            d[p] /= sum * dx;
            peak = fmax(peak, d[p]);
            fprintf(f, "%s %s\n", num(mn + p * dx), num(d[p]));
        }
        free(d);
        lo = fmin(lo, mn);
        hi = fmax(hi, mx);
        sqlite3_bind_text(qe, 1, r->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(qe, 2, step);
        while ((rc = sqlite3_step(qe)) == SQLITE_ROW) {
            size_t len = strlen(arrows);
            snprintf(arrows + len, sizeof arrows - len, "set arrow from %s, graph 0 to %s, "
                     "graph 1 nohead dt 3 lw 1.2 lc rgb '#%06x' back\n", num(dcol(qe, 0)),
                     num(dcol(qe, 0)), r->rgb);
            lo = fmin(lo, dcol(qe, 0));
            hi = fmax(hi, dcol(qe, 0));
        }
        rc = rc == SQLITE_DONE ? 0 : dberr(c, "eigenvalues", e);
        sqlite3_reset(qe);
        idx++;
    }
    sqlite3_finalize(ms);
    sqlite3_finalize(qd);
    sqlite3_finalize(qe);
    int crc = dclose(c, f, "spectrum.dat", e);
    rc = rc ? rc : crc;
    if (!rc && !idx)
        rc = err_set(e, ERR_DATA, "spectrum: no SLQ density (nodes/weights) for the selected "
                     "runs%s", c->o->step >= 0 ? " at that step" : "");
    if (rc)
        return rc;
    preamble(c, 900, 600);
    FILE *g = c->gp;
    double floor_ = peak * 1e-9, pad = 0.03 * (hi - lo);
    fprintf(g, "set title 'Hessian eigenvalue density (stochastic Lanczos quadrature)'\n"
               "set xlabel 'eigenvalue λ (loss / parameter²)'\nset ylabel 'density (log scale)'\n"
               "set logscale y\nset format y '10^{%%T}'\nset format y '%%.0e'\n"
               "set xrange [%s:%s]\nset yrange [%s:%s]\n%s", num(lo - pad), num(hi + pad),
            num(floor_), num(peak * 5), arrows);
    fprintf(g, "plot \\\n");
    for (int i = 0, j = 0; i < c->n; i++)
        if (ps[i].has) {
            char t[400];
            snprintf(t, sizeof t, "%s, step %ld", c->r[i].rlabel, ps[i].step);
            fprintf(g, "  'spectrum.dat' index %d using 1:($2 > %s ? $2 : %s) with lines "
                       "lw 1.6 lc rgb '#%06x' title '%s', \\\n", j++, num(floor_), num(floor_),
                    c->r[i].rgb, quote(t));
        }
    fprintf(g, "  NaN with lines dt 3 lw 1.2 lc rgb '#555555' title 'top eigenvalues (Lanczos)'\n");
    return 0;
}

/* --- collapse: NC1..NC4 against epoch, one panel each --- */

static int kind_collapse(ctx *c, err *e)
{
    FILE *f = dopen(c, "collapse.dat", e);
    if (!f)
        return ERR_SYS;
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT c.step, (SELECT MAX(epoch) FROM metrics m WHERE m.run = c.run "
                     "AND m.step = c.step), nc1, nc2, nc3, nc4 FROM collapse c WHERE run = ?1 "
                     "AND split = (SELECT split FROM collapse WHERE run = ?1 "
                     "ORDER BY split <> 'train', split LIMIT 1) ORDER BY step", &st, e);
    if (rc) {
        fclose(f);
        return rc;
    }
    /* epoch on x when every row has one (unless --x step) */
    pstate *w = c->w;
    int epoch = c->o->x != PLOT_X_STEP, idx = 0;
    double mn[4], mx[4];
    for (int k = 0; k < 4; k++)
        mn[k] = INFINITY, mx[k] = -INFINITY;
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (int i = 0; !rc && i < c->n; i++) {
            w[i].has = 0;
            sqlite3_bind_text(st, 1, c->r[i].id, -1, SQLITE_STATIC);
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (pass && !w[i].has)   /* data sets only for runs with rows */
                    fprintf(f, "%s# %s: %s nc1 nc2 nc3 nc4\n", idx++ ? "\n\n" : "",
                            plain(c->r[i].rlabel), epoch ? "epoch" : "step");
                w[i].has = 1;
                if (!pass) {
                    epoch &= sqlite3_column_type(st, 1) != SQLITE_NULL;
                    for (int k = 0; k < 4; k++)
                        if (dcol(st, 2 + k) > 0) {
                            mn[k] = fmin(mn[k], dcol(st, 2 + k));
                            mx[k] = fmax(mx[k], dcol(st, 2 + k));
                        } else if (!(dcol(st, 2 + k) > 0) && isfinite(dcol(st, 2 + k)))
                            mn[k] = -INFINITY;   /* a zero or negative: no log axis */
                    continue;
                }
                fprintf(f, "%s %s %s %s %s\n", epoch ? num(dcol(st, 1)) : num(dcol(st, 0)),
                        num(dcol(st, 2)), num(dcol(st, 3)), num(dcol(st, 4)), num(dcol(st, 5)));
            }
            rc = rc == SQLITE_DONE ? 0 : dberr(c, "collapse", e);
            sqlite3_reset(st);
        }
    sqlite3_finalize(st);
    int crc = dclose(c, f, "collapse.dat", e), any = 0;
    rc = rc ? rc : crc;
    for (int i = 0; i < c->n; i++)
        any |= w[i].has;
    if (!rc && !any)
        rc = err_set(e, ERR_DATA, "collapse: no neural-collapse rows for the selected runs");
    if (rc)
        return rc;
    preamble(c, 1100, 800);
    FILE *g = c->gp;
    static const char *const titles[4] = {
        "NC1  within-class variability tr(Σw Σb⁺)/C",
        "NC2  distance to a simplex ETF",
        "NC3  self-duality ‖W/‖W‖ − M/‖M‖‖²",
        "NC4  mismatch with nearest class mean"};
    int nr = 0;
    for (int i = 0; i < c->n; i++)
        nr += w[i].has;
    fprintf(g, "set multiplot layout 2,2 title 'Neural collapse (Papyan, Han & Donoho 2020)' "
               "margins 0.1,0.97,%s,0.86 spacing 0.12,0.14\n"
               "set key at screen 0.5, screen 0.01 center bottom horizontal noopaque nobox\n"
               "set xlabel '%s'\n", num(0.1 + 0.035 * ((nr + 1) / 2)), epoch ? "epoch" : "step (updates)");
    for (int k = 0; k < 4; k++) {
        int lg = isfinite(mn[k]) && mn[k] > 0 && mx[k] / mn[k] >= 100;
        fprintf(g, "set title '%s'\n%s\nset ylabel '%s'\nplot \\\n", titles[k],
                lg ? "set logscale y; set format y '%.0e'" : "unset logscale y; set format y '%g'",
                k == 3 ? "fraction of samples" : lg ? "log scale" : "");
        for (int i = 0, j = 0; i < c->n; i++)
            if (w[i].has)
                fprintf(g, "  'collapse.dat' index %d using 1:%d with linespoints pt 7 ps 0.6 "
                           "lw 2 dt %d lc rgb '#%06x' title '%s', \\\n", j++, 2 + k, c->r[i].dash,
                        c->r[i].rgb, k ? "" : quote(c->r[i].rlabel));
        fprintf(g, "  NaN notitle\n%s", k ? "" : "set key off\n");
    }
    fprintf(g, "unset multiplot\n");
    return 0;
}

/* --- landscape: 1-D lines (loss and accuracy), or a 2-D map / surface --- */

/* Run r's grid (o->grid, else the latest that is not an interpolation); *found. */
static int find_grid(ctx *c, const prun *r, lgrid *lg, int *found, err *e)
{
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT grid, ny, nx, step, split, normalization, axes = 'pca' AND "
                     "pca_explained1 IS NOT NULL AND pca_explained2 IS NOT NULL, pca_explained1, "
                     "pca_explained2 FROM landscape_grids "
                     "WHERE run = ?1 AND (?2 < 0 AND normalization <> 'interpolation' OR grid = ?2) "
                     "ORDER BY grid DESC LIMIT 1", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, c->o->grid);
    *found = 0;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *found = 1;
        *lg = (lgrid){sqlite3_column_int(st, 0), sqlite3_column_int(st, 1),
                      sqlite3_column_int(st, 2), sqlite3_column_int64(st, 3), "", "",
                      sqlite3_column_int(st, 6), {dcol(st, 7), dcol(st, 8)}};
        snprintf(lg->split, sizeof lg->split, "%s", store_text(st, 4));
        snprintf(lg->norm, sizeof lg->norm, "%s", store_text(st, 5));
    }
    return finish(c, st, rc, e);
}

/* Points of run r's grid g, scan lines of constant beta (one per i) separated by a blank
 * line, to f as "alpha beta loss acc" (1-D: "alpha loss acc"); *lmin, *lmax: loss range. */
static int write_grid(ctx *c, const prun *r, const lgrid *lg, FILE *f, double *lmin,
                      double *lmax, int *hasacc, err *e)
{
    sqlite3_stmt *st;
    int rc = prep(c, "SELECT i, alpha, beta, loss, acc FROM landscape_points WHERE run = ?1 "
                     "AND grid = ?2 ORDER BY i, j", &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, lg->grid);
    long last = -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long i = sqlite3_column_int64(st, 0);
        if (last >= 0 && i != last)
            fprintf(f, "\n");
        last = i;
        double loss = dcol(st, 3);
        *hasacc |= sqlite3_column_type(st, 4) != SQLITE_NULL;
        if (isfinite(loss)) {
            *lmin = fmin(*lmin, loss);
            *lmax = fmax(*lmax, loss);
        }
        if (lg->ny > 1)
            fprintf(f, "%s %s %s %s\n", num(dcol(st, 1)), num(dcol(st, 2)), num(loss),
                    num(dcol(st, 4)));
        else
            fprintf(f, "%s %s %s\n", num(dcol(st, 1)), num(loss), num(dcol(st, 4)));
    }
    return finish(c, st, rc, e);
}

static const char *norm_text(const char *n)
{
    return !strcmp(n, "filter") ? "filter-normalized" : !strcmp(n, "layer") ? "layer-normalized"
         : "unnormalized";
}

static int landscape_2d(ctx *c, const prun *r, const lgrid *lg, err *e)
{
    FILE *f = dopen(c, "landscape.dat", e);
    if (!f)
        return ERR_SYS;
    double lmin = INFINITY, lmax = -INFINITY;
    int hasacc = 0, ntraj = 0;
    int rc = write_grid(c, r, lg, f, &lmin, &lmax, &hasacc, e), crc = dclose(c, f, "landscape.dat", e);
    if ((rc = rc ? rc : crc))
        return rc;
    sqlite3_stmt *st;
    /* the trajectory projected on this grid's PCA axes (basin landscape --axes pca) */
    if ((rc = prep(c, "SELECT x, y, loss FROM trajectories WHERE run = ?1 AND basis = 'pca' "
                      "AND grid = ?2 ORDER BY step", &st, e)))
        return rc;
    if (!(f = dopen(c, "traj.dat", e))) {
        sqlite3_finalize(st);
        return ERR_SYS;
    }
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, lg->grid);
    fprintf(f, "# PCA trajectory of %s: x y loss\n", plain(r->rlabel));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ntraj++;
        fprintf(f, "%s %s %s\n", num(dcol(st, 0)), num(dcol(st, 1)), num(dcol(st, 2)));
    }
    rc = finish(c, st, rc, e);
    crc = dclose(c, f, "traj.dat", e);
    if ((rc = rc ? rc : crc))
        return rc;
    int lg10 = c->o->logy && lmin > 0;
    const char *z = lg10 ? "(log10($3))" : "3";
    preamble(c, c->o->surface ? 900 : 820, c->o->surface ? 700 : 720);
    FILE *g = c->gp;
    fprintf(g, "set title 'Loss landscape: %s, step %ld (%s split)'\n", quote(r->rlabel),
            lg->step, quote(lg->split));
    if (lg->pca)    /* the explained variance, as the reference's plot_contour_trajectory */
        fprintf(g, "set xlabel '1st PC: %.2f %%'\nset ylabel '2nd PC: %.2f %%'\n",
                100 * lg->explained[0], 100 * lg->explained[1]);
    else
        fprintf(g, "set xlabel 'α  (direction 1, %s)'\nset ylabel 'β  (direction 2, %s)'\n",
                norm_text(lg->norm), norm_text(lg->norm));
    fprintf(g, "set cblabel '%s'\n", lg10 ? "log10 loss" : "loss");
    /* contour lines computed once into a table, drawn over the coloured map */
    fprintf(g, "set contour base\nset cntrparam levels auto 14\nunset surface\n"
               "set table 'contour.dat'\nsplot 'landscape.dat' using 1:2:%s notitle\nunset table\n"
               "unset contour\nset surface\n", z);
    if (c->o->surface) {
        fprintf(g, "set view 58,32\nset pm3d depthorder border lc rgb '#00000000' lw 0.2\n"
                   "set zlabel '%s' rotate by 90\nset ticslevel 0.05\nset border 4095\n"
                   "set key off\nsplot 'landscape.dat' using 1:2:%s with pm3d notitle",
                lg10 ? "log10 loss" : "loss", z);
    } else {
        fprintf(g, "set view map\nset size ratio -1\nset key top right\nset border 15\n"
                   "set xtics mirror\nset ytics mirror\nunset grid\nset pm3d interpolate 3,3\n"
                   "splot 'landscape.dat' using 1:2:%s with pm3d notitle, \\\n"
                   "  'contour.dat' using 1:2:3 with lines lc rgb '#ffffff' lw 0.8 notitle, \\\n"
                   "  '+' using (0):(0):(0) every ::0::0 with points pt 3 ps 2 lw 2 lc rgb '#000000' "
                   "title 'θ (trained)'", z);
        if (ntraj)
            fprintf(g, ", \\\n  'traj.dat' using 1:2:(0) with linespoints pt 7 ps 0.6 lw 2 "
                       "lc rgb '#e41a1c' title 'optimizer path (PCA)'");
    }
    fprintf(g, "\n");
    return 0;
}

static int kind_landscape(ctx *c, err *e)
{
    pstate *w = c->w;
    int any = 0, rc = 0;
    for (int i = 0; !rc && i < c->n; i++) {
        rc = find_grid(c, &c->r[i], &w[i].lg, &w[i].found, e);
        if (!rc && w[i].found && !any && w[i].lg.ny > 1)
            return landscape_2d(c, &c->r[i], &w[i].lg, e);
        any |= w[i].found;
    }
    if (!rc && !any)
        rc = err_set(e, ERR_DATA, "landscape: no landscape grid for the selected runs");
    FILE *f = rc ? NULL : dopen(c, "landscape.dat", e);
    if (rc || !f)
        return rc ? rc : ERR_SYS;
    double lmin = INFINITY, lmax = -INFINITY;
    int hasacc = 0, idx = 0;
    for (int i = 0; !rc && i < c->n; i++) {
        w[i].use = w[i].found && w[i].lg.ny == 1;
        if (!w[i].use)
            continue;
        fprintf(f, "%s# %s, grid %d: alpha loss acc\n", idx++ ? "\n\n" : "", plain(c->r[i].rlabel),
                w[i].lg.grid);
        rc = write_grid(c, &c->r[i], &w[i].lg, f, &lmin, &lmax, &hasacc, e);
    }
    int crc = dclose(c, f, "landscape.dat", e);
    if ((rc = rc ? rc : crc))
        return rc;
    preamble(c, 900, 600);
    FILE *g = c->gp;
    int first = 0;
    while (!w[first].use)
        first++;
    fprintf(g, "set title '1-D loss landscape along a %s direction (%s split, step %ld)'\n"
               "set xlabel 'α  (distance along the direction)'\nset ylabel 'loss'\n%s"
               "set key top center\n",
            norm_text(w[first].lg.norm), quote(w[first].lg.split), w[first].lg.step,
            c->o->logy && lmin > 0 ? "set logscale y\n" : "");
    if (hasacc)
        fprintf(g, "set y2label 'accuracy (fraction)'\nset y2tics nomirror\nset y2range [0:1.05]\n"
                   "set border 11\n");
    fprintf(g, "plot \\\n");
    for (int i = 0, j = 0; i < c->n; i++) {
        if (!w[i].use)
            continue;
        fprintf(g, "  'landscape.dat' index %d using 1:2 with lines lw 2.2 lc rgb '#%06x' "
                   "title 'loss  %s', \\\n", j, c->r[i].rgb, quote(c->r[i].rlabel));
        if (hasacc)
            fprintf(g, "  'landscape.dat' index %d using 1:3 axes x1y2 with lines lw 1.6 dt 2 "
                       "lc rgb '#%06x' title 'accuracy', \\\n", j, c->r[i].rgb);
        j++;
    }
    fprintf(g, "  NaN notitle\n");
    return 0;
}

/* --- interp: loss and error along interpolation paths, barriers annotated --- */

typedef struct iline {
    char label[300];
    uint32_t rgb;
    int dash, n;
    double *a, *l, *err;    /* (n) alpha, loss, error */
} iline;

/* The value of y at alpha = t on the line (linear between grid points). */
static double at(const iline *L, const double *y, double t)
{
    for (int k = 0; k + 1 < L->n; k++)
        if (L->a[k] <= t && t <= L->a[k + 1])
            return L->a[k + 1] == L->a[k] ? y[k]
                 : y[k] + (y[k + 1] - y[k]) * (t - L->a[k]) / (L->a[k + 1] - L->a[k]);
    return NAN;
}

/* Barrier of y: max over grid alpha in [0, 1] of y - the chord between y(0) and y(1),
 * >= 0 (the endpoints count); *where its alpha, y0 and y1 the chord's ends. */
static double barrier(const iline *L, const double *y, double *where, double *y0, double *y1)
{
    *y0 = at(L, y, 0);
    *y1 = at(L, y, 1);
    double b = 0;
    *where = 0;
    for (int k = 0; k < L->n; k++)
        if (L->a[k] >= 0 && L->a[k] <= 1) {
            double d = y[k] - ((1 - L->a[k]) * *y0 + L->a[k] * *y1);
            if (d > b) {
                b = d;
                *where = L->a[k];
            }
        }
    return b;
}

static int iline_add(iline **v, int *n, int *cap, iline x, err *e)
{
    if (*n == *cap) {
        iline *g = realloc(*v, (size_t)(*cap = 2 * *cap + 4) * sizeof *g);
        if (!g)
            return err_set(e, ERR_SYS, "out of memory");
        *v = g;
    }
    (*v)[(*n)++] = x;
    return 0;
}

static int iline_alloc(iline *L, int n, err *e)
{
    L->a = malloc(3 * (size_t)(n ? n : 1) * sizeof *L->a);
    if (!L->a)
        return err_set(e, ERR_SYS, "out of memory");
    L->l = L->a + n;
    L->err = L->l + n;
    L->n = n;
    return 0;
}

/* The length of a file name without its extension (the legend of a CSV input). */
static int stem(const char *base)
{
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? (int)(dot - base) : (int)strlen(base);
}

/* A CSV of `basin interpolate`: alpha,loss,accuracy[,matched_loss,matched_accuracy]
 * into one or two lines. */
static int read_interp_csv(const char *path, int ci, iline **v, int *n, int *cap, err *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(e, ERR_USAGE, "interp: cannot read %s: %s", path, strerror(errno));
    char line[1024];
    int rows = 0, matched = 0, rc = 0;
    if (!fgets(line, sizeof line, f) || strncmp(line, "alpha,loss,accuracy", 19))
        rc = err_set(e, ERR_DATA, "%s: not a CSV of basin interpolate (want the header "
                     "alpha,loss,accuracy)", path);
    matched = !rc && strstr(line, "matched_loss") != NULL;
    while (!rc && fgets(line, sizeof line, f))
        rows += line[0] != '\n';
    iline L[2];
    memset(L, 0, sizeof L);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (int m = 0; !rc && m <= matched; m++) {
        rc = iline_alloc(&L[m], rows, e);
        snprintf(L[m].label, sizeof L[m].label, "%.*s%s", stem(base), base,
                 m ? " (weights matched)" : "");
        L[m].rgb = style_shade(style_cycle_rgb(ci), 0);
        L[m].dash = 1 + 2 * m;
    }
    rewind(f);
    if (!rc && !fgets(line, sizeof line, f))
        rc = err_set(e, ERR_SYS, "%s: read error", path);
    for (int k = 0; !rc && k < rows && fgets(line, sizeof line, f); k++) {
        double x[5] = {NAN, NAN, NAN, NAN, NAN};
        char *p = line;
        for (int j = 0; j < 3 + 2 * matched; j++) {
            char *end;
            x[j] = strtod(p, &end);
            if (end == p) {
                rc = err_set(e, ERR_DATA, "%s:%d: not a number", path, k + 2);
                break;
            }
            p = *end == ',' ? end + 1 : end;
        }
        for (int m = 0; m <= matched; m++) {
            L[m].a[k] = x[0];
            L[m].l[k] = x[1 + 2 * m];
            L[m].err[k] = 1 - x[2 + 2 * m];
        }
    }
    fclose(f);
    for (int m = 0; m <= matched; m++)
        if (rc || (rc = iline_add(v, n, cap, L[m], e)))
            free(L[m].a);
    return rc;
}

static int kind_interp(ctx *c, err *e)
{
    iline *v = NULL;
    int n = 0, cap = 0, rc = 0;
    sqlite3_stmt *gs = NULL, *ps = NULL;
    if (c->n)
        rc = prep(c, "SELECT grid, nx FROM landscape_grids WHERE run = ?1 AND ny = 1 AND "
                     "normalization = 'interpolation' ORDER BY grid", &gs, e);
    if (c->n && !rc)
        rc = prep(c, "SELECT alpha, loss, acc FROM landscape_points WHERE run = ?1 AND "
                           "grid = ?2 ORDER BY j", &ps, e);
    for (int i = 0; !rc && i < c->n; i++) {
        sqlite3_bind_text(gs, 1, c->r[i].id, -1, SQLITE_STATIC);
        int r;
        while (!rc && (r = sqlite3_step(gs)) == SQLITE_ROW) {
            iline L = {.rgb = c->r[i].rgb, .dash = c->r[i].dash};
            int gr = sqlite3_column_int(gs, 0), k = 0;
            if ((rc = iline_alloc(&L, sqlite3_column_int(gs, 1), e)))
                break;
            snprintf(L.label, sizeof L.label, "%s (grid %d)", c->r[i].rlabel, gr);
            sqlite3_bind_text(ps, 1, c->r[i].id, -1, SQLITE_STATIC);
            sqlite3_bind_int(ps, 2, gr);
            while ((r = sqlite3_step(ps)) == SQLITE_ROW && k < L.n) {
                L.a[k] = dcol(ps, 0);
                L.l[k] = dcol(ps, 1);
                L.err[k++] = 1 - dcol(ps, 2);
            }
            L.n = k;
            rc = r == SQLITE_DONE || r == SQLITE_ROW ? 0 : dberr(c, "interpolation points", e);
            sqlite3_reset(ps);
            if (rc || (rc = iline_add(&v, &n, &cap, L, e)))
                free(L.a);
        }
        if (!rc && r != SQLITE_DONE)
            rc = dberr(c, "interpolation grids", e);
        sqlite3_reset(gs);
    }
    sqlite3_finalize(gs);
    sqlite3_finalize(ps);
    for (int k = 0; !rc && k < c->o->ncsv; k++)
        rc = read_interp_csv(c->o->csv[k], n, &v, &n, &cap, e);
    if (!rc && !n)
        rc = err_set(e, ERR_DATA, "interp: no interpolation lines (1-D grids of normalization "
                     "'interpolation' for the selected runs, or --csv LINE.csv of basin interpolate)");
    FILE *f = rc ? NULL : dopen(c, "interp.dat", e);
    if (!rc && !f)
        rc = ERR_SYS;
    int hasacc = 0;
    char notes[8192] = "";
    for (int l = 0; !rc && l < n; l++) {
        iline *L = &v[l];
        fprintf(f, "%s# %s: alpha loss error\n", l ? "\n\n" : "", plain(L->label));
        for (int k = 0; k < L->n; k++) {
            fprintf(f, "%s %s %s\n", num(L->a[k]), num(L->l[k]), num(L->err[k]));
            hasacc |= isfinite(L->err[k]);
        }
        for (int p = 0; p < 2; p++) {
            double w, y0, y1, b = barrier(L, p ? L->err : L->l, &w, &y0, &y1);
            size_t len = strlen(notes);
            if (!isfinite(y0) || !isfinite(y1) || !(b > 0))
                continue;   /* no barrier: nothing to annotate */
            double base = (1 - w) * y0 + w * y1;
            /* the chord, the barrier's arrow and its label (at most 8 num() a call) */
            len += (size_t)snprintf(notes + len, sizeof notes - len,
                     "%s_arrow_%d = \"set arrow from 0,%s to 1,%s nohead dt 3 lw 1.2 lc rgb '#%06x'; "
                     "set arrow from %s,%s to %s,%s heads size screen 0.008,90 lw 1.5 lc rgb '#%06x'; ",
                     p ? "error" : "loss", l, num(y0), num(y1), L->rgb, num(w), num(base), num(w),
                     num(base + b), L->rgb);
            if (len < sizeof notes)
                snprintf(notes + len, sizeof notes - len, "set label 'barrier %.3g' at %s,%s "
                         "offset 0.8,0 tc rgb '#%06x'\"\n", b, num(w), num(base + b / 2), L->rgb);
        }
    }
    if (f) {
        int crc = dclose(c, f, "interp.dat", e);
        rc = rc ? rc : crc;
    }
    if (!rc) {
        preamble(c, hasacc ? 1200 : 800, 560);
        FILE *g = c->gp;
        fprintf(g, "%s", notes);
        if (hasacc)
            fprintf(g, "set multiplot layout 1,2 title 'Linear interpolation "
                       "(1 − α) θa + α θb with barriers' margins 0.09,0.98,%s,0.86 spacing 0.1\n"
                       "set key at screen 0.5, screen 0.01 center bottom horizontal maxrows %d "
                       "noopaque nobox\n", num(0.14 + 0.045 * ((n + 1) / 2)), (n + 1) / 2);
        for (int p = 0; p < 1 + hasacc; p++) {
            fprintf(g, "unset arrow; unset label\nset xlabel 'α  (0: θa, 1: θb)'\n"
                       "set ylabel '%s'\nset title '%s'\n", p ? "error (fraction)" : "loss",
                    p ? "error along the path" : "loss along the path");
            for (int l = 0; l < n; l++)
                fprintf(g, "if (exists('%s_arrow_%d')) { eval %s_arrow_%d }\n", p ? "error" : "loss",
                        l, p ? "error" : "loss", l);
            fprintf(g, "plot \\\n");
            for (int l = 0; l < n; l++)
                fprintf(g, "  'interp.dat' index %d using 1:%d with linespoints pt 7 ps 0.5 lw 2 "
                           "dt %d lc rgb '#%06x' title '%s', \\\n", l, 2 + p, v[l].dash, v[l].rgb,
                        quote(v[l].label));
            fprintf(g, "  NaN notitle\n%s", hasacc ? "set key off\n" : "");
        }
        if (hasacc)
            fprintf(g, "unset multiplot\n");
    }
    for (int l = 0; l < n; l++)
        free(v[l].a);
    free(v);
    return rc;
}

/* --- race: optimizers' trajectories on a 2-D test function's contour map --- */

/* A CSV of `basin optimize` (step,x,y,f) appended to f as one index block. */
static int copy_race_csv(const char *path, FILE *f, int *n, double box[4], err *e)
{
    FILE *in = fopen(path, "r");
    if (!in)
        return err_set(e, ERR_USAGE, "race: cannot read %s: %s", path, strerror(errno));
    char line[512];
    int rc = 0;
    *n = 0;
    if (!fgets(line, sizeof line, in) || strncmp(line, "step,x,y,f", 10))
        rc = err_set(e, ERR_DATA, "%s: not a CSV of basin optimize (want the header step,x,y,f)",
                     path);
    while (!rc && fgets(line, sizeof line, in)) {
        double x[4];
        char *p = line, *end;
        for (int j = 0; !rc && j < 4; j++) {
            x[j] = strtod(p, &end);
            if (end == p)
                rc = err_set(e, ERR_DATA, "%s:%d: not a number", path, *n + 2);
            p = *end == ',' ? end + 1 : end;
        }
        if (rc)
            break;
        fprintf(f, "%s %s %s %s\n", num(x[0]), num(x[1]), num(x[2]), num(x[3]));
        box[0] = fmin(box[0], x[1]);
        box[1] = fmax(box[1], x[1]);
        box[2] = fmin(box[2], x[2]);
        box[3] = fmax(box[3], x[2]);
        (*n)++;
    }
    fclose(in);
    return rc;
}

static int kind_race(ctx *c, err *e)
{
    char fn[128] = "";
    int rc = 0, nt = 0;
    pstate *w = c->w;
    if (c->o->function)
        snprintf(fn, sizeof fn, "%s", c->o->function);
    for (int i = 0; !rc && !fn[0] && i < c->n; i++)
        rc = param_text(c, &c->r[i], "function", fn, sizeof fn, e);
    if (rc)
        return rc;
    style_fn sf;
    if (!fn[0])
        return err_set(e, ERR_USAGE, "race: which test function? (--function rosenbrock|beale|"
                       "himmelblau|rastrigin|quadratic:a,b)");
    if (style_function(fn, &sf))
        return err_set(e, ERR_USAGE, "race: unknown test function '%s' (rosenbrock, beale, "
                       "himmelblau, rastrigin, quadratic:a,b)", fn);
    FILE *f = dopen(c, "race.dat", e);
    if (!f)
        return ERR_SYS;
    double box[4] = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    sqlite3_stmt *st = NULL;
    if (c->n)
        rc = prep(c, "SELECT step, x, y, loss FROM trajectories WHERE run = ?1 AND basis = 'theta' "
                     "ORDER BY step", &st, e);
    for (int i = 0; !rc && i < c->n; i++) {
        track T = {.rgb = c->r[i].rgb, .dash = c->r[i].dash};
        snprintf(T.label, sizeof T.label, "%s", c->r[i].rlabel);
        sqlite3_bind_text(st, 1, c->r[i].id, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (!T.n)   /* a block only for runs with a trajectory */
                fprintf(f, "%s# %s: step x y f\n", nt ? "\n\n" : "", plain(T.label));
            double x = dcol(st, 1), y = dcol(st, 2);
            fprintf(f, "%lld %s %s %s\n", sqlite3_column_int64(st, 0), num(x), num(y),
                    num(dcol(st, 3)));
            if (isfinite(x) && isfinite(y)) {
                box[0] = fmin(box[0], x), box[1] = fmax(box[1], x);
                box[2] = fmin(box[2], y), box[3] = fmax(box[3], y);
            }
            T.n++;
        }
        rc = rc == SQLITE_DONE ? 0 : dberr(c, "trajectories", e);
        sqlite3_reset(st);
        if (T.n)
            w[nt++].t = T;
    }
    sqlite3_finalize(st);
    for (int k = 0; !rc && k < c->o->ncsv; k++) {
        const char *p = c->o->csv[k], *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
        track T = {.dash = 1};
        snprintf(T.label, sizeof T.label, "%.*s", stem(base), base);
        T.rgb = style_optim_known(T.label) ? style_optim_rgb(T.label) : style_cycle_rgb(k);
        fprintf(f, "%s# %s: step x y f\n", nt ? "\n\n" : "", plain(T.label));
        if (!(rc = copy_race_csv(p, f, &T.n, box, e)) && T.n)
            w[nt++].t = T;
    }
    int crc = dclose(c, f, "race.dat", e);
    rc = rc ? rc : crc;
    if (!rc && !nt)
        rc = err_set(e, ERR_DATA, "race: no 2-D trajectories (basis theta) for the selected "
                     "runs, and no --csv TRAJ.csv of basin optimize");
    if (rc)
        return rc;
    /* the view: the trajectories and the global minimum, padded, within the window
     * where the function is usually drawn */
    if (sf.has_min) {
        box[0] = fmin(box[0], sf.min[0]), box[1] = fmax(box[1], sf.min[0]);
        box[2] = fmin(box[2], sf.min[1]), box[3] = fmax(box[3], sf.min[1]);
    }
    double big = fmax(box[1] - box[0], box[3] - box[2]);
    for (int a = 0; a < 2; a++) {   /* each side at least 60% of the other: a readable map */
        double span = fmax(fmax(box[2 * a + 1] - box[2 * a], 0.6 * big), 0.5), mid =
            0.5 * (box[2 * a] + box[2 * a + 1]), pad = 0.12 * span;
        box[2 * a] = mid - 0.5 * span;
        box[2 * a + 1] = mid + 0.5 * span;
        box[2 * a] = fmax(box[2 * a] - pad, sf.win[2 * a]);
        box[2 * a + 1] = fmin(box[2 * a + 1] + pad, sf.win[2 * a + 1]);
    }
    int gif = !strcmp(c->ext, "gif"), steps = 0;
    for (int k = 0; k < nt; k++)
        steps = w[k].t.n > steps ? w[k].t.n : steps;
    preamble(c, 820, 720);
    FILE *g = c->gp;
    fprintf(g, "F(x,y) = %s\nset xrange [%s:%s]\nset yrange [%s:%s]\n"
               "set isosamples 181,181\nset samples 181,181\n"
               "set table 'fgrid.dat'\nsplot F(x,y)\nunset table\n"
               "stats 'fgrid.dat' using 3 nooutput\nFMIN = STATS_min\n"
               "Z(v) = log10(1 + v - FMIN)\n"
               "set contour base\nset cntrparam levels auto 16\nunset surface\n"
               "set table 'fcontour.dat'\nsplot 'fgrid.dat' using 1:2:(Z($3))\nunset table\n"
               "unset contour\nset surface\nset view map\nunset grid\nset bmargin 6\n"
               "set border 15\nset xtics mirror\nset ytics mirror\nset xlabel 'x'\nset ylabel 'y'\n"
               "set cblabel 'log10(1 + f − min f)'\nset key at screen 0.5, screen 0.1 center top horizontal maxrows 2 noopaque nobox\n",
            sf.expr, num(box[0]), num(box[1]), num(box[2]), num(box[3]));
    fprintf(g, "set title '%s'\n", quote(sf.title));
    if (gif)
        fprintf(g, "NF = %d\ndo for [fr = 1:NF] {\n  S = int(fr * %d.0 / NF)\n"
                   "  set title sprintf('%s, step %%d', S)\n", steps < 40 ? steps : 40, steps - 1,
                quote(sf.title));
    fprintf(g, "splot 'fgrid.dat' using 1:2:(Z($3)) with pm3d notitle, \\\n"
               "  'fcontour.dat' using 1:2:3 with lines lc rgb '#ffffff' lw 0.6 notitle");
    if (sf.has_min)
        fprintf(g, ", \\\n  '+' using (%s):(%s):(0) every ::0::0 with points pt 7 ps 2 "
                   "lc rgb '#ffffff' notitle, \\\n  '+' using (%s):(%s):(0) every ::0::0 with "
                   "points pt 6 ps 2 lw 2.5 lc rgb '#000000' title 'global minimum'",
                num(sf.min[0]), num(sf.min[1]), num(sf.min[0]), num(sf.min[1]));
    for (int k = 0; k < nt; k++) {
        const char *every = gif ? " every ::0::S" : "";
        fprintf(g, ", \\\n  'race.dat' index %d%s using 2:3:(0) with lines lw 2.4 dt %d lc rgb "
                   "'#%06x' title '%s'", k, every, w[k].t.dash, w[k].t.rgb, quote(w[k].t.label));
        fprintf(g, ", \\\n  'race.dat' index %d every ::%s::%s using 2:3:(0) with points pt 7 "
                   "ps 1.1 lc rgb '#%06x' notitle", k, gif ? "S" : "0", gif ? "S" : "0", w[k].t.rgb);
    }
    fprintf(g, "\n%s", gif ? "}\n" : "");
    return 0;
}

/* --- compare: final metric per group, mean +- std over seeds --- */

static int kind_compare(ctx *c, err *e)
{
    const char *key = c->o->metric ? c->o->metric : "test_acc";
    pstate *w = c->w;
    int rc = 0, idx = 0;
    groups(c);
    FILE *f = dopen(c, "compare.dat", e), *s = f ? dopen(c, "seeds.dat", e) : NULL;
    if (!f || !s) {
        if (f)
            fclose(f);
        return ERR_SYS;
    }
    sqlite3_stmt *st;
    rc = prep(c, "SELECT value FROM metrics WHERE run = ?1 AND key = ?2 AND value IS NOT NULL "
                 "ORDER BY step DESC LIMIT 1", &st, e);
    size_t tot = 0;
    fprintf(f, "# i mean std n rgb label\n");
    fprintf(s, "# i value (each run's final %s)\n", plain(key));
    for (int gi = 0; !rc && gi < c->n; gi++) {
        if (w[gi].first != gi)
            continue;
        double mean = 0, ss = 0;
        int n = 0;
        for (int i = gi; !rc && i < c->n; i++) {
            if (w[i].first != gi)
                continue;
            sqlite3_bind_text(st, 1, c->r[i].id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
            if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                w[i].v = dcol(st, 0);
                w[i].has = 1;
                n++;
            }
            rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : dberr(c, "metrics", e);
            sqlite3_reset(st);
        }
        if (!n)
            continue;
        idx++;
        for (int i = gi; i < c->n; i++)   /* the group's runs with a value, in order */
            if (w[i].first == gi && w[i].has)
                mean += w[i].v / n;
        for (int i = gi; i < c->n; i++)
            if (w[i].first == gi && w[i].has) {
                ss += (w[i].v - mean) * (w[i].v - mean);
                fprintf(s, "%d %s\n", idx, num(w[i].v));
            }
        char lab[256];
        snprintf(lab, sizeof lab, "%s", plain(c->r[gi].label));
        for (char *p = lab; *p; p++)   /* the label is a "string" column */
            *p = *p == '"' ? '\'' : *p;
        tot += strlen(lab);
        fprintf(f, "%d %s %s %d %u \"%s\"\n", idx, num(mean), num(n > 1 ? sqrt(ss / (n - 1)) : 0),
                n, c->r[gi].rgb, lab);
    }
    sqlite3_finalize(st);
    int crc = dclose(c, f, "compare.dat", e), src = dclose(c, s, "seeds.dat", e);
    rc = rc ? rc : crc ? crc : src;
    if (!rc && !idx)
        rc = err_set(e, ERR_DATA, "compare: no '%s' rows for the selected runs", key);
    if (rc)
        return rc;
    preamble(c, idx > 6 ? 1100 : 800, 600);
    FILE *g = c->gp;
    fprintf(g, "set title 'Final %s per configuration (mean ± std over seeds)'\n"
               "set ylabel '%s'\nset xrange [0.4:%s]\n"
               "set xtics %s\nset grid noxtics ytics\nset key below\nset offsets 0, 0, graph 0.08, graph 0.08\n%s"
               "plot 'compare.dat' using 1:2:3:5 with yerrorbars pt 7 ps 1.8 lw 2 lc rgb variable "
               "title 'mean ± std', \\\n"
               "  '' using 1:2:xtic(6) with points pt 7 ps 0 lc rgb '#000000' notitle, \\\n"
               "  'seeds.dat' using ($1 + 0.12):2 with points pt 6 ps 0.9 lc rgb '#303030' "
               "title 'each run (seed)'\n",
            quote(style_metric_label(key)), quote(style_metric_label(key)), num(idx + 0.6),
            tot / (size_t)idx > 12 || idx > 6 ? "rotate by -25 offset -1,0" : "",
            c->o->logy ? "set logscale y\n" : "");
    return 0;
}

/* --- the entry points --- */

static const struct {
    const char *name;
    int (*draw)(ctx *c, err *e);
    int needs_store;   /* 0: may draw from --csv alone */
} kinds[] = {
    {"curves", kind_curves, 1}, {"sharpness", kind_sharpness, 1}, {"spectrum", kind_spectrum, 1},
    {"collapse", kind_collapse, 1}, {"landscape", kind_landscape, 1}, {"interp", kind_interp, 0},
    {"race", kind_race, 0}, {"compare", kind_compare, 1},
};
_Static_assert(sizeof kinds / sizeof kinds[0] == sizeof plot_kinds / sizeof plot_kinds[0] - 1,
               "one drawing function per kind");

void plot_opts_default(plot_opts *o)
{
    memset(o, 0, sizeof *o);
    o->step = -1;
    o->grid = -1;
}

static const char *extension(const char *out)
{
    const char *dot = out ? strrchr(out, '.') : NULL;
    return dot && !strchr(dot, '/') ? dot + 1 : "";
}

int plot_opts_check(const plot_opts *o, err *e)
{
    int k = 0;
    while (plot_kinds[k] && (!o->kind || strcmp(plot_kinds[k], o->kind)))
        k++;
    if (!plot_kinds[k])
        return err_set(e, ERR_USAGE, "unknown kind '%s' (curves, sharpness, spectrum, "
                       "collapse, landscape, interp, race, compare)", o->kind ? o->kind : "");
    const char *x = extension(o->out);
    if (o->out && strcmp(x, "png") && strcmp(x, "svg") && strcmp(x, "pdf") && strcmp(x, "gif"))
        return err_set(e, ERR_USAGE, "--out %s: the extension chooses the format: "
                       ".png, .svg or .pdf (.gif: race, animated)", o->out);
    if (control_char(o->out))   /* the script names the output: one line */
        return err_set(e, ERR_USAGE, "--out: the file name holds the control character 0x%02x",
                       control_char(o->out));
    if (!strcmp(x, "gif") && strcmp(o->kind, "race"))
        return err_set(e, ERR_USAGE, "--out %s: animated GIF is for race only", o->out);
    if (o->ncsv && strcmp(o->kind, "interp") && strcmp(o->kind, "race"))
        return err_set(e, ERR_USAGE, "--csv is for interp and race");
    if (o->nruns && o->experiment)
        return err_set(e, ERR_USAGE, "--run and --experiment exclude each other");
    if (o->width < 0 || o->height < 0 || o->width > 10000 || o->height > 10000)
        return err_set(e, ERR_USAGE, "--size W,H: 1..10000 pixels");
    return 0;
}

/* An absolute version of path (relative to the current directory) into buf. */
static int absolute(const char *path, char *buf, size_t cap, err *e)
{
    if (path[0] == '/') {
        snprintf(buf, cap, "%s", path);
        return 0;
    }
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return err_set(e, ERR_SYS, "getcwd: %s", strerror(errno));
    if ((size_t)snprintf(buf, cap, "%s/%s", cwd, path) >= cap)
        return err_set(e, ERR_USAGE, "path too long: %s", path);
    return 0;
}

static int render(ctx *c, int k, err *e)
{
    const plot_opts *o = c->o;
    int rc = 0;
    if (o->emit_dir) {
        snprintf(c->dir, sizeof c->dir, "%s", o->emit_dir);
        if (mkdir(c->dir, 0777) != 0 && errno != EEXIST)
            return err_set(e, ERR_SYS, "--emit-script %s: %s", c->dir, strerror(errno));
    } else {
        const char *t = getenv("TMPDIR");
        snprintf(c->dir, sizeof c->dir, "%s/basin-plot.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(c->dir))
            return err_set(e, ERR_SYS, "mkdtemp %s: %s", c->dir, strerror(errno));
        c->tmp = 1;
    }
    /* the output: absolute, since gnuplot runs in c->dir; with only --emit-script, a
     * file next to the script */
    if (o->out)
        rc = absolute(o->out, c->out, sizeof c->out, e);
    else
        snprintf(c->out, sizeof c->out, "%s.png", o->kind);
    c->ext = o->out ? extension(o->out) : "png";
    /* runs from the store unless the picture is drawn from --csv files alone */
    if (!rc && c->s && (kinds[k].needs_store || o->nruns || o->experiment || !o->ncsv)
        && (rc = select_ids(c, e)) == 0)
        rc = load_runs(c, e);
    if (!rc && !(c->w = err_calloc(e, (size_t)c->n + (size_t)o->ncsv + 1, sizeof *c->w)))
        rc = ERR_SYS;
    if (!rc && !(c->gp = dopen(c, "plot.gp", e)))
        rc = ERR_SYS;
    rc = rc ? rc : kinds[k].draw(c, e);
    if (c->gp) {
        int crc = dclose(c, c->gp, "plot.gp", e);
        c->gp = NULL;
        rc = rc ? rc : crc;
    }
    if (!rc && (o->out || !o->emit_dir)) {
        if ((rc = run_gnuplot(c, e)) == 0)
            printf("wrote %s\n", o->out ? o->out : c->out);
    }
    if (!rc && o->emit_dir)
        printf("wrote %s/plot.gp\n", c->dir);
    return rc;
}

int plot_render(store *s, const plot_opts *o, err *e)
{
    int rc = plot_opts_check(o, e), k = 0;
    if (rc)
        return rc;
    while (strcmp(kinds[k].name, o->kind))
        k++;
    if (!s && kinds[k].needs_store)
        return err_set(e, ERR_USAGE, "plot %s: needs a database (--db PATH)", o->kind);
    ctx c = {.s = s, .db = s ? store_db(s) : NULL, .o = o};
    /* numbers in the C locale whatever LC_NUMERIC says */
    locale_t cl = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!cl)
        return err_set(e, ERR_SYS, "newlocale: %s", strerror(errno));
    locale_t old = uselocale(cl);
    rc = render(&c, k, e);
    uselocale(old);
    freelocale(cl);
    if (c.tmp)   /* cleared by run_gnuplot when gnuplot failed: the script is kept */
        rm_tmp(&c);
    free(c.r);
    free(c.w);
    return rc;
}
