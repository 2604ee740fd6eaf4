/* test_plot.c -- plots/plot.h on a fixture store built here through results/store.h:
 * the generated data of every kind (seed means and sample stds, thresholds at exactly
 * 2/eta and (2+2 beta)/eta, the spectral density's normalization, grid scan lines in
 * gnuplot's order, barriers), PNGs of the requested size from gnuplot when it is
 * installed, and the documented error (exit status 3, naming gnuplot-nox) when PATH
 * has no gnuplot. A second, hostile store holds newlines followed by `!touch` and
 * `system "touch"`, quotes, backslashes and control characters in every text column a
 * figure reads: every kind renders, and no command runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../experiments/exp.h"
#include "../plots/plot.h"
#include "check.h"

static char dir[256];

/* Fixture: experiment "fx". Group A: sgd lr=0.1 momentum=0.9, seeds 1..3; group B: adam
 * lr=0.01 seed 1. train_loss at steps 0, 10, 20 (A: 1 + seed, 0.5 * seed, seed^2 / 10),
 * test_acc at 20; run A1 logs lr 0.1 every step and has every probe table; A2 and B
 * have a top eigenvalue at step 10. */
static const char *ids[4] = {
    "a100000000000000000000000000000000000000000000000000000000000001",
    "a200000000000000000000000000000000000000000000000000000000000002",
    "a300000000000000000000000000000000000000000000000000000000000003",
    "b100000000000000000000000000000000000000000000000000000000000001"};

static int fixture(const char *path, err *e)
{
    store *s;
    int rc = store_open(path, &s, e);
    if (rc)
        return rc;
    const char *keys[5] = {"optim", "lr", "momentum", "function", "seed"};
    const char *va[3][5] = {{"sgd", "0.1", "0.9", "rosenbrock", "1"},
                            {"sgd", "0.1", "0.9", "rosenbrock", "2"},
                            {"sgd", "0.1", "0.9", "rosenbrock", "3"}};
    const char *vb[5] = {"adam", "0.01", "0", "rosenbrock", "1"};
    const char *ga = "9a00000000000000000000000000000000000000000000000000000000000000";
    const char *gb = "9b00000000000000000000000000000000000000000000000000000000000000";
    store_run runs[4];
    for (int i = 0; i < 3; i++)
        runs[i] = (store_run){ids[i], "fx", ga, va[i][4], "", (uint64_t)(i + 1), 20, 5, keys, va[i]};
    runs[3] = (store_run){ids[3], "fx", gb, "b", "", 1, 20, 5, keys, vb};
    rc = store_experiment_put(s, "fx", "fx.ini", "[experiment]\nname = fx\n", e);
    rc = rc ? rc : store_runs_register(s, runs, 4, e);
    for (int i = 0; !rc && i < 4; i++) {
        double seed = i < 3 ? i + 1 : 1.5;
        rc = store_metric(s, ids[i], "train_loss", 0, 0.0, 1 + seed, e);
        rc = rc ? rc : store_metric(s, ids[i], "train_loss", 10, 0.5, 0.5 * seed, e);
        rc = rc ? rc : store_metric(s, ids[i], "train_loss", 20, 1.0, seed * seed / 10, e);
        rc = rc ? rc : store_metric(s, ids[i], "test_acc", 20, 1.0, 0.7 + 0.05 * seed, e);
    }
    for (long k = 0; !rc && k <= 20; k++)
        rc = store_metric(s, ids[0], "lr", k, k / 20.0, 0.1, e);
    double ev[3] = {30, 12, 5}, nodes[4] = {-1, 0, 5, 30}, w[4] = {0.1, 0.6, 0.2, 0.1};
    for (long k = 0; !rc && k <= 20; k += 10) {
        double top = 10 + k, nc[4] = {pow(10, -(double)k / 5), 0.5, 0.25, 0.01 * k};
        rc = store_eigs_put(s, ids[0], k, "lanczos", &top, 1, e);
        rc = rc ? rc : store_collapse_put(s, ids[0], k, "train", nc, e);
    }
    double top = 40, top2 = 15;
    rc = rc ? rc : store_eigs_put(s, ids[3], 10, "lanczos", &top, 1, e);
    rc = rc ? rc : store_eigs_put(s, ids[1], 10, "lanczos", &top2, 1, e);
    rc = rc ? rc : store_eigs_put(s, ids[0], 20, "lanczos", ev, 3, e);
    rc = rc ? rc : store_density_put(s, ids[0], 20, nodes, w, 4, e);
    /* a 3 x 2 grid: loss = 1 + alpha^2 + 2 beta^2 */
    double loss2[6], acc2[6], loss1[5], acc1[5], il[5] = {1, 2, 3, 2, 1}, ia[5] = {1, 0.8, 0.5, 0.8, 1};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            double a = -1 + j, b = -1 + 2 * i;
            loss2[3 * i + j] = 1 + a * a + 2 * b * b;
            acc2[3 * i + j] = 0.5;
        }
    for (int j = 0; j < 5; j++) {
        double a = -1 + 0.5 * j;
        loss1[j] = 1 + a * a;
        acc1[j] = 1 - a * a / 2;
    }
    int g;
    /* the 2-D grid is on PCA axes with its trajectory; run 2 has a random one and a pca
     * trajectory of no grid, which is not drawn on it */
    long ts[5] = {0, 5, 10, 15, 20};
    double tx[5], ty[5], tl[5] = {1, 1, 1, 1, 1};
    for (int k = 0; k < 5; k++) {
        tx[k] = -0.8 + 0.2 * k;
        ty[k] = 0.5 - 0.1 * k;
    }
    store_grid g2 = {.step = 20, .split = "train", .dir_seed = 7, .normalization = "none",
                     .x0 = -1, .x1 = 1, .y0 = -1, .y1 = 1, .nx = 3, .ny = 2, .axes = "pca",
                     .pca_explained = {0.635, 0.2}, .ntraj = 5, .traj_step = ts, .traj_x = tx,
                     .traj_y = ty, .traj_loss = tl};
    store_grid gr = {.step = 20, .split = "train", .dir_seed = 7, .normalization = "filter",
                     .x0 = -1, .x1 = 1, .y0 = -1, .y1 = 1, .nx = 3, .ny = 2, .axes = "random"};
    store_grid g1 = {.step = 20, .split = "train", .dir_seed = 7, .normalization = "filter",
                     .x0 = -1, .x1 = 1, .nx = 5, .ny = 1};
    store_grid gi = {.step = 20, .split = "train", .normalization = "interpolation",
                     .x0 = 0, .x1 = 1, .nx = 5, .ny = 1};
    rc = rc ? rc : store_grid_put(s, ids[0], &g2, loss2, acc2, &g, e);
    rc = rc ? rc : store_grid_put(s, ids[1], &g1, loss1, acc1, &g, e);
    rc = rc ? rc : store_grid_put(s, ids[0], &gi, il, ia, &g, e);
    rc = rc ? rc : store_grid_put(s, ids[2], &gr, loss2, acc2, &g, e);
    for (long k = 0; !rc && k < 5; k++) {
        rc = store_traj(s, ids[2], "pca", k, -0.8 + 0.2 * k, 0.5 - 0.1 * k, 1, e);
        rc = rc ? rc : store_traj(s, ids[0], "theta", k, -1.2 + 0.5 * k, 1 - 0.05 * k, 1, e);
        rc = rc ? rc : store_traj(s, ids[3], "theta", k, -1.2 + 0.3 * k, 1 + 0.1 * k, 1, e);
    }
    rc = rc ? rc : store_flush(s, e);
    store_close(s);
    return rc;
}

/* The whole file DIR/sub/name into a malloc'd string ("" when missing). */
static char *slurp(const char *sub, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(p, "rb");
    char *b = calloc(1, 1 << 22);
    if (f && b) {
        size_t n = fread(b, 1, (1 << 22) - 1, f);
        b[n] = 0;
    }
    if (f)
        fclose(f);
    return b;
}

/* Data set `index` of a gnuplot data file (sets separated by two blank lines): its
 * numeric rows, at most maxr rows of maxc columns, into v; returns the row count and
 * the number of blank lines inside the set in *blank. */
static int rows(const char *text, int index, double v[][6], int maxr, int *blank)
{
    const char *p = text;
    for (int k = 0; k < index && p; k++) {
        p = strstr(p, "\n\n\n");
        p = p ? p + 3 : NULL;
    }
    int n = 0;
    *blank = 0;
    while (p && *p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0) {
            if (end && end[1] == '\n')
                break;
            (*blank)++;
        } else if (*p != '#' && n < maxr) {
            char *q = (char *)p;
            for (int c = 0; c < 6; c++) {
                char *r;
                v[n][c] = strtod(q, &r);
                if (r == q)
                    v[n][c] = NAN;
                q = r;
            }
            n++;
        }
        p = end ? end + 1 : NULL;
    }
    return n;
}

/* exp_plot's check of a [plots] value (experiments/cmd_plot.c). */
static int exp_plot_check(const char *spec, err *e)
{
    return exp_plot(spec, "fx", "fx.db", "fx.png", 1, e);
}

static store *open_fx(const char *db)
{
    store *s = NULL;
    err e = {0};
    if (store_open(db, &s, &e))
        printf("cannot open %s: %s\n", db, e.msg);
    return s;
}

/* Render kind into DIR/<sub> (script and data), optionally to out. */
static int emit(store *s, const char *kind, const char *sub, const char *out, plot_opts *o,
                err *e)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    o->kind = kind;
    o->emit_dir = strdup(p);
    o->out = out;
    int rc = plot_render(s, o, e);
    free((char *)o->emit_dir);
    o->emit_dir = NULL;
    return rc;
}

static void test_data(const char *db)
{
    store *s = open_fx(db);
    if (!s)
        return;
    err e = {0};
    plot_opts o;
    double v[64][6];
    int blank;

    plot_opts_default(&o);
    int rc = emit(s, "curves", "curves", NULL, &o, &e);
    char *t = slurp("curves", "curves.dat"), *gp = slurp("curves", "plot.gp");
    int n = rows(t, 0, v, 64, &blank);
    /* group A at step 10: 0.5, 1, 1.5 -> mean 1, sample std 0.5 */
    CHECK(rc == 0 && n == 3 && v[1][0] == 10 && v[1][3] == 3, "curves: group A rows",
          "rc %d %s n %d", rc, e.msg, n);
    check_close("curves: seed mean", v[1][1], 1.0, 1e-15, 0);
    check_close("curves: seed sample std", v[1][2], 0.5, 1e-15, 0);
    check_close("curves: band top = mean + std", v[1][5], 1.5, 1e-15, 0);
    n = rows(t, 1, v, 64, &blank);
    CHECK(n == 3 && v[2][1] == 0.225 && v[2][2] == 0 && v[2][3] == 1,
          "curves: a single-seed group has std 0", "n %d mean %g", n, v[2][1]);
    CHECK(strstr(gp, "set terminal pngcairo") && strstr(gp, "filledcurves")
              && strstr(gp, "optim=sgd lr=0.1 momentum=0.9 (mean ± std, 3 seeds)")
              && strstr(gp, "#1f77b4") && strstr(gp, "#d62728"),
          "curves: script (bands, legend naming the distinguishing parameters, optimizer colours)",
          "%.300s", gp);
    free(t);
    free(gp);

    o.x = PLOT_X_EPOCH;
    rc = emit(s, "curves", "curves_ep", NULL, &o, &e);
    t = slurp("curves_ep", "curves.dat");
    n = rows(t, 0, v, 64, &blank);
    CHECK(rc == 0 && n == 3 && v[1][0] == 0.5, "curves: --x epoch", "x %g", v[1][0]);
    free(t);
    o.x = PLOT_X_AUTO;

    rc = emit(s, "sharpness", "sharp", NULL, &o, &e);
    t = slurp("sharp", "sharpness.dat");
    n = rows(t, 0, v, 64, &blank);
    CHECK(rc == 0 && n == 3 && v[0][1] == 10 && v[2][1] == 30, "sharpness: lambda_max rows",
          "rc %d %s n %d", rc, e.msg, n);
    n = rows(t, 1, v, 64, &blank);
    CHECK(n == 21 && v[20][0] == 20 && v[5][1] == 2.0 / 0.1 && v[5][2] == (2.0 + 2.0 * 0.9) / 0.1,
          "sharpness: thresholds exactly 2/eta and (2+2beta)/eta per logged step",
          "n %d %.17g %.17g", n, v[5][1], v[5][2]);
    n = rows(t, 3, v, 64, &blank);
    CHECK(n == 2 && v[0][1] == 2.0 / 0.1 && v[1][2] == (2.0 + 2.0 * 0.9) / 0.1,
          "sharpness: thresholds from the lr parameter when lr is not logged", "n %d %g", n, v[0][1]);
    n = rows(t, 4, v, 64, &blank);
    int n5 = rows(t, 5, v + 1, 63, &blank);
    free(t);
    t = slurp("sharp", "plot.gp");
    CHECK(n == 1 && v[0][1] == 40 && n5 == 0 && t && strstr(t, "(adaptive: no 2/η)")
              && strstr(t, "index 4 using 1:2"),
          "sharpness: no 2/eta threshold for an adaptive optimizer (adam)", "n %d n5 %d", n, n5);
    free(t);

    rc = emit(s, "spectrum", "spec", NULL, &o, &e);
    t = slurp("spec", "spectrum.dat");
    static double sv[10001][6];
    n = rows(t, 0, sv, 10001, &blank);
    double sum = 0, best = 0, at = 0, s2 = 1e-5 * 31.02, worst = 0;
    int m = 0;
    for (int k = 0; k < n; k++) {
        sum += sv[k][1] * (sv[1][0] - sv[0][0]);
        if (sv[k][1] > best)
            best = sv[k][1], at = sv[k][0];
        if (fabs(sv[k][0] - 5) < fabs(sv[m][0] - 5))
            m = k;
    }
    /* around the node at 5 (alone within 5 units) the density is w N(5, s2) exactly */
    for (int k = m - 8; k <= m + 8; k++) {
        double want = exp(-((sv[k][0] - 5) * (sv[k][0] - 5) - (sv[m][0] - 5) * (sv[m][0] - 5))
                          / (2 * s2));
        worst = fmax(worst, fabs(sv[k][1] / sv[m][1] - want));
    }
    CHECK(rc == 0 && n == 10000, "spectrum: 10000 points", "rc %d %s n %d", rc, e.msg, n);
    check_close("spectrum: normalized as PyHessian (sum * spacing = 1)", sum, 1, 1e-12, 0);
    check_close("spectrum: peak at the heaviest node", at, 0, 0, 2e-3);
    check_close("spectrum: grid padded by 0.01", sv[0][0], -1.01, 1e-12, 0);
    CHECK(worst < 1e-9, "spectrum: Gaussians of variance 1e-5 max(1, lmax - lmin)",
          "worst ratio error %g", worst);
    gp = slurp("spec", "plot.gp");
    CHECK(strstr(gp, "set arrow from 30, graph 0") && strstr(gp, "set logscale y"),
          "spectrum: top eigenvalues marked, log y", "%.200s", gp);
    free(t);
    free(gp);

    rc = emit(s, "collapse", "nc", NULL, &o, &e);
    t = slurp("nc", "collapse.dat");
    gp = slurp("nc", "plot.gp");
    n = rows(t, 0, v, 64, &blank);
    CHECK(rc == 0 && n == 3 && v[1][0] == 0.5 && v[2][1] == 1e-4 && v[2][4] == 0.2,
          "collapse: nc1..nc4 against epoch", "rc %d %s n %d x %g", rc, e.msg, n, v[1][0]);
    CHECK(strstr(gp, "multiplot layout 2,2") && strstr(gp, "set logscale y")
              && strstr(gp, "unset logscale y"), "collapse: log y only where values span decades",
          "-");
    free(t);
    free(gp);

    rc = emit(s, "landscape", "land2", NULL, &o, &e);
    t = slurp("land2", "landscape.dat");
    CHECK(rc == 0 && !strcmp(t, "-1 -1 4 0.5\n0 -1 3 0.5\n1 -1 4 0.5\n\n"
                                "-1 1 4 0.5\n0 1 3 0.5\n1 1 4 0.5\n"),
          "landscape: 2-D scan lines in gnuplot's order, blank line between", "rc %d %s: %s", rc,
          e.msg, t);
    free(t);
    t = slurp("land2", "traj.dat");
    n = rows(t, 0, v, 64, &blank);
    CHECK(n == 5 && v[4][0] == 0, "landscape: PCA trajectory", "n %d", n);
    free(t);
    gp = slurp("land2", "plot.gp");
    CHECK(strstr(gp, "with pm3d") && strstr(gp, "set view map") && strstr(gp, "traj.dat")
              && strstr(gp, "contour.dat"), "landscape: map, contours, trajectory", "-");
    CHECK(strstr(gp, "set xlabel '1st PC: 63.50 %'") && strstr(gp, "set ylabel '2nd PC: 20.00 %'"),
          "landscape: PCA axes labelled with their explained variance", "%.300s", gp);
    free(gp);
    const char *other[1] = {ids[2]};
    o.runs = other;
    o.nruns = 1;
    rc = emit(s, "landscape", "landr", NULL, &o, &e);
    t = slurp("landr", "traj.dat");
    n = rows(t, 0, v, 64, &blank);
    gp = slurp("landr", "plot.gp");
    CHECK(rc == 0 && n == 0 && !strstr(gp, "'traj.dat'") && strstr(gp, "filter-normalized")
              && !strstr(gp, "PC:"), "landscape: a pca trajectory of no grid is not drawn on a "
          "random grid", "rc %d %s n %d", rc, e.msg, n);
    free(t);
    free(gp);
    const char *one[1] = {ids[1]};
    o.runs = one;
    o.nruns = 1;
    rc = emit(s, "landscape", "land1", NULL, &o, &e);
    t = slurp("land1", "landscape.dat");
    n = rows(t, 0, v, 64, &blank);
    gp = slurp("land1", "plot.gp");
    CHECK(rc == 0 && n == 5 && v[0][1] == 2 && v[0][2] == 0.5 && strstr(gp, "axes x1y2"),
          "landscape: 1-D loss and accuracy on twin axes", "rc %d %s n %d", rc, e.msg, n);
    free(t);
    free(gp);
    o.runs = NULL;
    o.nruns = 0;
    o.surface = 1;
    rc = emit(s, "landscape", "land3", NULL, &o, &e);
    gp = slurp("land3", "plot.gp");
    CHECK(rc == 0 && strstr(gp, "set view 58,32") && !strstr(gp, "set view map"),
          "landscape: --surface", "rc %d %s", rc, e.msg);
    free(gp);
    o.surface = 0;

    rc = emit(s, "interp", "interp", NULL, &o, &e);
    t = slurp("interp", "interp.dat");
    gp = slurp("interp", "plot.gp");
    n = rows(t, 0, v, 64, &blank);
    CHECK(rc == 0 && n == 5 && v[2][1] == 3 && v[2][2] == 0.5, "interp: alpha loss error rows",
          "rc %d %s n %d", rc, e.msg, n);
    CHECK(strstr(gp, "set label 'barrier 2' at 0.5,2") && strstr(gp, "set label 'barrier 0.5'"),
          "interp: barriers annotated (loss 2, error 0.5 at alpha 0.5)", "%.900s", strstr(gp, "loss_arrow") ? strstr(gp, "loss_arrow") : gp);
    free(t);
    free(gp);

    rc = emit(s, "race", "race", NULL, &o, &e);
    t = slurp("race", "race.dat");
    gp = slurp("race", "plot.gp");
    n = rows(t, 1, v, 64, &blank);
    CHECK(rc == 0 && n == 5 && v[4][1] == -1.2 + 0.3 * 4 && v[4][2] == 1 + 0.1 * 4,
          "race: trajectories from the store", "rc %d %s n %d", rc, e.msg, n);
    CHECK(strstr(gp, "F(x,y) = (1-x)**2 + 100*(y-x**2)**2") && strstr(gp, "'#d62728'"),
          "race: the run's function and optimizer colours", "-");
    free(t);
    free(gp);

    rc = emit(s, "compare", "cmp", NULL, &o, &e);
    t = slurp("cmp", "compare.dat");
    n = rows(t, 0, v, 64, &blank);
    CHECK(rc == 0 && n == 2 && v[0][3] == 3 && v[1][3] == 1, "compare: one row per group",
          "rc %d %s n %d", rc, e.msg, n);
    check_close("compare: mean over seeds", v[0][1], 0.8, 1e-15, 0);
    check_close("compare: sample std over seeds", v[0][2], 0.05, 1e-14, 0);
    free(t);

    o.metric = "no_such_metric";
    rc = emit(s, "curves", "none", NULL, &o, &e);
    CHECK(rc == ERR_DATA && strstr(e.msg, "no_such_metric"), "curves: nothing to draw is ERR_DATA",
          "rc %d %s", rc, e.msg);
    o.metric = NULL;
    CHECK(exp_plot_check("curves --metric test_loss --logy", &e) == 0
              && exp_plot_check("curves --db other.db", &e) == ERR_USAGE
              && exp_plot_check("pie", &e) == ERR_USAGE,
          "[plots]: specs checked as basin plot's arguments", "%s", e.msg);
    o.kind = "pie";
    CHECK(plot_opts_check(&o, &e) == ERR_USAGE, "options: unknown kind", "-");
    o.kind = "curves";
    o.out = "x.jpg";
    CHECK(plot_opts_check(&o, &e) == ERR_USAGE, "options: unknown extension", "-");
    o.out = "x.gif";
    CHECK(plot_opts_check(&o, &e) == ERR_USAGE, "options: gif only for race", "-");
    store_close(s);
}

/* Width and height from a PNG's IHDR chunk; 0 when not a PNG. */
static int png_size(const char *path, unsigned *w, unsigned *h, long *bytes)
{
    unsigned char b[24];
    FILE *f = fopen(path, "rb");
    *w = *h = 0;
    *bytes = 0;
    if (!f)
        return 0;
    size_t n = fread(b, 1, sizeof b, f);
    fseek(f, 0, SEEK_END);
    *bytes = ftell(f);
    fclose(f);
    if (n < 24 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) || memcmp(b + 12, "IHDR", 4))
        return 0;
    *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
    *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    return 1;
}

static int have_gnuplot(void)
{
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

static void test_render(const char *db)
{
    if (!have_gnuplot()) {
        printf("SKIP render: gnuplot is not installed (Debian: gnuplot-nox)\n");
        return;
    }
    store *s = open_fx(db);
    if (!s)
        return;
    for (int k = 0; plot_kinds[k]; k++) {
        plot_opts o;
        err e = {0};
        char out[512], name[64];
        plot_opts_default(&o);
        o.kind = plot_kinds[k];
        o.width = 640;
        o.height = 480;
        snprintf(out, sizeof out, "%s/%s.png", dir, plot_kinds[k]);
        o.out = out;
        int rc = plot_render(s, &o, &e);
        unsigned w, h;
        long bytes;
        int png = png_size(out, &w, &h, &bytes);
        snprintf(name, sizeof name, "render: %s PNG 640x480", plot_kinds[k]);
        CHECK(rc == 0 && png && w == 640 && h == 480 && bytes > 2000, name,
              "rc %d %s; png %d %ux%u, %ld bytes", rc, e.msg, png, w, h, bytes);
    }
    /* an output path longer than the 1024-byte quoting buffer plot.c once had, with a
     * quote in it: written there, whole */
    plot_opts o;
    err e = {0};
    char out[1800];
    size_t len = (size_t)snprintf(out, sizeof out, "%s", dir);
    for (int k = 0; k < 6; k++) {
        len += (size_t)snprintf(out + len, sizeof out - len, "/%0200d", k);
        mkdir(out, 0777);
    }
    snprintf(out + len, sizeof out - len, "/it's.png");
    plot_opts_default(&o);
    o.kind = "curves";
    o.out = out;
    int rc = plot_render(s, &o, &e);
    CHECK(rc == 0 && access(out, F_OK) == 0, "render: a 1.2 KB --out path is written whole",
          "rc %d %s", rc, e.msg);
    store_close(s);
}

/* Hostile text (issue 18): values that would run `touch pwN` (in gnuplot's directory, the
 * emit directory) or `touch DIR/pwN` if a newline ended a gnuplot command inside them, with
 * quotes, backslashes, semicolons, backquotes, macros and control characters. */
#define NEVIL 6
static char evil[NEVIL][400];

static void evil_init(void)
{
    snprintf(evil[0], sizeof evil[0], "a'\n!touch pw0\n'");
    snprintf(evil[1], sizeof evil[1], "b'\nsystem \"touch %s/pw1\"\n# '", dir);
    snprintf(evil[2], sizeof evil[2], "c\\'; system('touch pw2'); \\\\\n!touch %s/pw2\n\\", dir);
    snprintf(evil[3], sizeof evil[3], "d\x01\r\x1b[31m;`touch pw3`@pw3 \"\n!touch pw3\n\\");
    snprintf(evil[4], sizeof evil[4], "e\r!touch pw4\r\n\\\n!touch pw4\n");
    snprintf(evil[5], sizeof evil[5], "f\"\n\"; !touch pw5; \x7f\\");
}

/* A store whose every text column a figure reads holds a hostile value: the experiment
 * name, run labels, parameter keys and texts (optim and lr too), a metric key, a
 * collapse split, grid splits and normalizations. Two runs (two groups): r1 has every
 * probe table and a 2-D grid, r2 a 1-D grid. */
static int hostile_fixture(const char *path, const char *metric, err *e)
{
    store *s;
    int rc = store_open(path, &s, e);
    if (rc)
        return rc;
    static const char *ev_ids[2] = {
        "e100000000000000000000000000000000000000000000000000000000000001",
        "e200000000000000000000000000000000000000000000000000000000000002"};
    const char *keys[5] = {"optim", "lr", "function", evil[2], "momentum"};
    const char *v1[5] = {"sgd", evil[1], "rosenbrock", evil[3], "0.9"};
    const char *v2[5] = {evil[0], "0.01", "rosenbrock", evil[4], evil[5]};
    store_run runs[2] = {
        {ev_ids[0], evil[0], "9e01", "cfg", evil[3], 1, 20, 5, keys, v1},
        {ev_ids[1], evil[0], "9e02", "cfg", evil[4], 2, 20, 5, keys, v2}};
    rc = store_experiment_put(s, evil[0], evil[1], evil[2], e);
    rc = rc ? rc : store_runs_register(s, runs, 2, e);
    sqlite3_stmt *st = NULL;
    if (!rc && sqlite3_prepare_v2(store_db(s), "INSERT INTO metrics(run, key, step, epoch, value) "
                                  "VALUES (?1, ?2, ?3, ?3 / 10.0, ?4)", -1, &st, NULL) != SQLITE_OK)
        rc = err_set(e, ERR_SYS, "prepare: %s", sqlite3_errmsg(store_db(s)));
    for (int i = 0; !rc && i < 2; i++)
        for (int k = 0; !rc && k <= 20; k += 10) {
            sqlite3_bind_text(st, 1, ev_ids[i], -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, metric, -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 3, k);
            sqlite3_bind_double(st, 4, 1.0 + i + 0.1 * k);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = err_set(e, ERR_SYS, "insert: %s", sqlite3_errmsg(store_db(s)));
            sqlite3_reset(st);
        }
    sqlite3_finalize(st);
    double nodes[3] = {-1, 0, 5}, w[3] = {0.2, 0.6, 0.2}, ev[2] = {5, 2};
    for (long k = 0; !rc && k <= 20; k += 10) {
        double top = 10 + k, nc[4] = {pow(10, -(double)k / 5), 0.5, 0.25, 0.01 * k};
        rc = store_eigs_put(s, ev_ids[0], k, evil[2], &top, 1, e);
        rc = rc ? rc : store_eigs_put(s, ev_ids[1], k, "lanczos", &top, 1, e);
        rc = rc ? rc : store_collapse_put(s, ev_ids[0], k, evil[3], nc, e);
        rc = rc ? rc : store_traj(s, ev_ids[0], "theta", k, -1 + 0.05 * k, 1 - 0.02 * k, 1, e);
    }
    rc = rc ? rc : store_eigs_put(s, ev_ids[0], 20, "lanczos", ev, 2, e);
    rc = rc ? rc : store_density_put(s, ev_ids[0], 20, nodes, w, 3, e);
    double l2[6] = {3, 2, 3, 4, 3, 4}, a2[6] = {0.5, 0.6, 0.5, 0.4, 0.5, 0.4};
    double l1[3] = {2, 1, 2}, a1[3] = {0.5, 0.9, 0.5};
    int g;
    /* lgrid.split holds 15 bytes: a short hostile split */
    store_grid g2 = {.step = 20, .split = "t'\n!touch pw6", .normalization = evil[4],
                     .x0 = -1, .x1 = 1, .y0 = -1, .y1 = 1, .nx = 3, .ny = 2, .axes = evil[5]};
    store_grid g1 = {.step = 20, .split = "t'\n!touch pw7", .normalization = evil[1],
                     .x0 = -1, .x1 = 1, .nx = 3, .ny = 1};
    store_grid gi = {.step = 20, .split = evil[0], .normalization = "interpolation",
                     .x0 = 0, .x1 = 1, .nx = 3, .ny = 1};
    rc = rc ? rc : store_grid_put(s, ev_ids[0], &g2, l2, a2, &g, e);
    rc = rc ? rc : store_grid_put(s, ev_ids[1], &g1, l1, a1, &g, e);
    rc = rc ? rc : store_grid_put(s, ev_ids[0], &gi, l1, a1, &g, e);
    rc = rc ? rc : store_flush(s, e);
    store_close(s);
    return rc;
}

/* Whether gnuplot ran one of the hostile commands: a pwN file in dir or in sub. */
static int pwned(const char *sub)
{
    for (int k = 0; k < 8; k++) {
        char p[800];
        snprintf(p, sizeof p, "%s/pw%d", dir, k);
        if (access(p, F_OK) == 0)
            return 1;
        snprintf(p, sizeof p, "%s/%s/pw%d", dir, sub, k);
        if (access(p, F_OK) == 0)
            return 1;
    }
    return 0;
}

/* The first line of text (a script or a data file) that gnuplot would read as a command
 * of its own or a stray data row: one that starts with '!' or "system", or holds a
 * control character; NULL when there is none. `data`: lines must also be blank,
 * comments or rows that start with a number. */
static const char *bad_line(const char *text, int data)
{
    for (const char *p = text; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int bad = *p == '!' || !strncmp(p, "system", 6);
        for (size_t k = 0; k < len; k++)
            bad |= (unsigned char)p[k] < 0x20 || p[k] == 0x7f;
        if (data && len && *p != '#' && !strchr("-0123456789N", *p))
            bad = 1;
        if (bad)
            return p;
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

/* Every kind drawn from the hostile store: no command runs, every script and data file
 * keeps one command (or row) per line, and the figure renders. */
static void test_hostile(void)
{
    evil_init();
    char db[400], metric[64];
    err e = {0};
    snprintf(db, sizeof db, "%s/hostile.db", dir);
    snprintf(metric, sizeof metric, "m'\n!touch pw6\n'");
    int rc = hostile_fixture(db, metric, &e);
    CHECK(rc == 0, "hostile: fixture store with hostile text in every column plots read", "%s",
          e.msg);
    store *s = rc ? NULL : open_fx(db);
    if (!s)
        return;
    static const char *const files[] = {"plot.gp", "curves.dat", "sharpness.dat", "spectrum.dat",
                                        "collapse.dat", "landscape.dat", "traj.dat", "interp.dat",
                                        "race.dat", "compare.dat", "seeds.dat"};
    int render = have_gnuplot();
    for (int k = 0; plot_kinds[k]; k++)
        for (int one = 0; one < 1 + !strcmp(plot_kinds[k], "landscape"); one++) {
            plot_opts o;
            char sub[64], out[600], name[160];
            const char *r2[1] = {"e200"};
            plot_opts_default(&o);
            if (!strcmp(plot_kinds[k], "curves") || !strcmp(plot_kinds[k], "compare"))
                o.metric = metric;
            if (one) {   /* the 1-D landscape of r2 */
                o.runs = r2;
                o.nruns = 1;
            }
            snprintf(sub, sizeof sub, "hostile-%s%s", plot_kinds[k], one ? "-1d" : "");
            snprintf(out, sizeof out, "%s/%s.png", dir, sub);
            e = (err){0};
            rc = emit(s, plot_kinds[k], sub, render ? out : NULL, &o, &e);
            const char *bad = NULL, *in = "";
            for (size_t f = 0; !bad && f < sizeof files / sizeof files[0]; f++) {
                char *t = slurp(sub, files[f]);
                const char *b = t ? bad_line(t, f > 0) : NULL;
                static char line[120];
                if (b) {
                    snprintf(line, sizeof line, "%.*s", (int)strcspn(b, "\n"), b);
                    bad = line;
                    in = files[f];
                }
                free(t);
            }
            snprintf(name, sizeof name, "hostile: %s%s runs no command, one command or row a "
                     "line", plot_kinds[k], one ? " (1-D)" : "");
            CHECK(!pwned(sub) && !bad, name, "%s line '%s' (rc %d %s)", in, bad ? bad : "", rc,
                  e.msg);
            unsigned w, h;
            long bytes;
            snprintf(name, sizeof name, "hostile: %s%s renders", plot_kinds[k], one ? " (1-D)" : "");
            CHECK(rc == 0 && (!render || png_size(out, &w, &h, &bytes)), name, "rc %d %s", rc, e.msg);
        }
    plot_opts o;
    plot_opts_default(&o);
    o.kind = "curves";
    o.out = "x\n!touch pw0\n.png";
    rc = plot_opts_check(&o, &e);
    CHECK(rc == ERR_USAGE && strstr(e.msg, "--out") && strstr(e.msg, "0x0a"),
          "hostile: --out with a newline is refused (exit 2)", "rc %d %s", rc, e.msg);
    store_close(s);
}

/* A selection of 120000 runs (one seed group, no grid): drawing state per run on the
 * stack (lgrid lg[n], about 11 MB) overflowed it; the heap's answer is ERR_DATA. */
static void test_many_runs(void)
{
    enum { NMANY = 120000 };
    char db[400];
    err e = {0};
    snprintf(db, sizeof db, "%s/many.db", dir);
    store *s = NULL;
    store_run *runs = calloc(NMANY, sizeof *runs);
    char (*id)[65] = calloc(NMANY, sizeof *id);
    int rc = runs && id ? store_open(db, &s, &e) : err_set(&e, ERR_SYS, "out of memory");
    for (int i = 0; !rc && i < NMANY; i++) {
        snprintf(id[i], sizeof id[i], "%064x", i + 1);
        runs[i] = (store_run){id[i], "many", "9c", "cfg", "", (uint64_t)i, 1, 0, NULL, NULL};
    }
    rc = rc ? rc : store_experiment_put(s, "many", "many.ini", "", &e);
    rc = rc ? rc : store_runs_register(s, runs, NMANY, &e);
    CHECK(rc == 0, "many runs: a store of 120000 runs", "%s", e.msg);
    if (!rc) {
        plot_opts o;
        plot_opts_default(&o);
        o.kind = "landscape";
        char sub[400];
        snprintf(sub, sizeof sub, "%s/many", dir);
        o.emit_dir = sub;
        rc = plot_render(s, &o, &e);
        CHECK(rc == ERR_DATA && strstr(e.msg, "no landscape grid"),
              "many runs: landscape of 120000 runs is ERR_DATA (no stack arrays)", "rc %d %s", rc,
              e.msg);
    }
    store_close(s);
    free(runs);
    free(id);
}

/* PATH without gnuplot: ERR_SYS (exit status 3) naming gnuplot-nox, from the library
 * and from the basin command. */
static void test_missing(const char *db)
{
    store *s = open_fx(db);
    if (!s)
        return;
    char *path = strdup(getenv("PATH") ? getenv("PATH") : ""), empty[300], out[300];
    snprintf(empty, sizeof empty, "%s/nobin", dir);
    mkdir(empty, 0777);
    snprintf(out, sizeof out, "%s/missing.png", dir);
    setenv("PATH", empty, 1);
    plot_opts o;
    err e = {0};
    plot_opts_default(&o);
    o.kind = "curves";
    o.out = out;
    int rc = plot_render(s, &o, &e);
    setenv("PATH", path, 1);
    CHECK(rc == ERR_SYS && strstr(e.msg, "gnuplot-nox") && access(out, F_OK) != 0,
          "missing gnuplot: ERR_SYS naming gnuplot-nox", "rc %d %s", rc, e.msg);
    store_close(s);
    if (access("./basin", X_OK) == 0) {
        char cmd[2400];
        snprintf(cmd, sizeof cmd, "PATH=%s ./basin plot curves --db %s --out %s 2>%s/err.txt; "
                 "test $? -eq 3 && grep -q gnuplot-nox %s/err.txt || cat %s/err.txt", empty, db,
                 out, dir, dir, dir);
        CHECK(system(cmd) == 0, "missing gnuplot: basin plot exits 3 naming gnuplot-nox",
              "%.300s", cmd);
    }
    free(path);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/basin-plot-test.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char db[400];
    err e = {0};
    snprintf(db, sizeof db, "%s/fx.db", dir);
    int rc = fixture(db, &e);
    CHECK(rc == 0, "fixture: store built through store.h", "%s", e.msg);
    if (!rc) {
        test_data(db);
        test_render(db);
        test_missing(db);
    }
    test_hostile();
    test_many_runs();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (getenv("BASIN_KEEP_TEST"))   /* to look at the fixture's scripts and pictures */
        printf("kept %s\n", dir);
    else if (system(cmd) != 0)
        printf("warning: could not remove %s\n", dir);
    return check_done();
}
