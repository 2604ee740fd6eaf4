/* test_optim.c -- the optimizer suite (optim/) against hand computations, known minima
 * and its own invariants.
 *
 * On the 2-D quadratic f = (x^2 + 2 y^2)/2 (model "quadratic:1,2", g = (x, 2y),
 * H = diag(1, 2)) from theta = (1, 1): the first three steps of every method against
 * values computed by hand from ../shared/REFERENCE-optimizers.md (arithmetic in the
 * comments; the Adam-family digits were carried with 40-digit decimals), SAM's and
 * ASAM's perturbation read back from the step, GAM's reduction at beta0 = beta1 = 1.
 * Known minima of the quadratic and of Rosenbrock (1, 1). Forward-gradient and MeZO
 * unbiasedness. Checkpoint split runs bit for bit, weight decay by role, schedules,
 * usage errors. On a small MLP: forward gradient and MeZO never run a backward pass,
 * forward gradient's peak workspace is below backprop's. On 1000 Fashion-MNIST
 * samples (MLP 784-32-10): the loss falls under every optimizer. Per-step metrics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ad.h"
#include "../core/pool.h"
#include "../models/data.h"
#include "../models/model.h"
#include "../optim/opt.h"
#include "check.h"

static const batch nobatch = {0};

static model *make_fn(const char *kind)
{
    model_opts mo;
    model_opts_default(&mo);
    mo.kind = kind;
    model *m = NULL;
    err e = {0};
    if (model_new(&mo, &m, &e))
        printf("model_new %s: %s\n", kind, e.msg);
    return m;
}

static opt_hparams hp_default(void)
{
    opt_hparams h;
    opt_hparams_default(&h);
    return h;
}

/* Run `steps` steps of `name` from theta (in place); 0 or the status. */
static int run(const char *name, const opt_hparams *hp, model *m, double *theta, batch b,
               long steps)
{
    opt *o = NULL;
    err e = {0};
    int rc = opt_new(name, hp, m->n, &o, &e);
    for (long s = 0; !rc && s < steps; s++)
        rc = opt_step(o, m, theta, b, NULL, &e);
    if (rc)
        printf("# %s: %s\n", name, e.msg);
    opt_free(o);
    return rc;
}

/* Steps of `name` on quadratic:1,2 from (1, 1), checking theta after each against
 * want[t][0..1] to rtol. */
static void three_steps(const char *label, const char *name, const opt_hparams *hp,
                        const double want[3][2], double rtol)
{
    model *m = make_fn("quadratic:1,2");
    opt *o = NULL;
    err e = {0};
    double th[2] = {1, 1};
    int rc = opt_new(name, hp, 2, &o, &e);
    for (int t = 0; t < 3; t++) {
        rc = rc ? rc : opt_step(o, m, th, nobatch, NULL, &e);
        for (int i = 0; i < 2; i++) {
            char nm[160];
            snprintf(nm, sizeof nm, "%s: step %d theta[%d] by hand", label, t + 1, i);
            if (rc)
                CHECK(0, nm, "%s", e.msg);
            else
                check_close(nm, th[i], want[t][i], rtol, 0);
        }
    }
    opt_free(o);
    model_free(m);
}

static void hand_steps(void)
{
    opt_hparams h = hp_default();
    /* SGD lr 0.1, mu 0.9: t1 g = (1, 2), b = g, theta = (0.9, 0.8);
     * t2 g = (0.9, 1.6), b = 0.9 (1, 2) + (0.9, 1.6) = (1.8, 3.4), theta = (0.72, 0.46);
     * t3 g = (0.72, 0.92), b = (1.62 + 0.72, 3.06 + 0.92) = (2.34, 3.98),
     *    theta = (0.72 - 0.234, 0.46 - 0.398) = (0.486, 0.062). */
    h.lr = 0.1;
    h.momentum = 0.9;
    three_steps("sgd momentum", "sgd", &h, (const double[3][2]){{0.9, 0.8}, {0.72, 0.46},
                {0.486, 0.062}}, 1e-14);
    /* SGD Nesterov lr 0.1, mu 0.5, wd 0.5: t1 g = (1, 2) + 0.5 (1, 1) = (1.5, 2.5), b = g,
     *    d = g + 0.5 b = (2.25, 3.75), theta = (0.775, 0.625);
     * t2 g = (0.775, 1.25) + (0.3875, 0.3125) = (1.1625, 1.5625),
     *    b = 0.5 (1.5, 2.5) + g = (1.9125, 2.8125), d = g + 0.5 b = (2.11875, 2.96875),
     *    theta = (0.563125, 0.328125);
     * t3 g = (0.563125, 0.65625) + (0.2815625, 0.1640625) = (0.8446875, 0.8203125),
     *    b = (0.95625 + 0.8446875, 1.40625 + 0.8203125) = (1.8009375, 2.2265625),
     *    d = (0.8446875 + 0.90046875, 0.8203125 + 1.11328125) = (1.74515625, 1.93359375),
     *    theta = (0.563125 - 0.174515625, 0.328125 - 0.193359375) = (0.388609375, 0.134765625). */
    h = hp_default();
    h.lr = 0.1;
    h.momentum = 0.5;
    h.nesterov = 1;
    h.weight_decay = 0.5;
    three_steps("sgd nesterov+wd", "sgd", &h, (const double[3][2]){{0.775, 0.625},
                {0.563125, 0.328125}, {0.388609375, 0.134765625}}, 1e-14);
    /* Adam lr 0.1: t1 m = 0.1 g = (0.1, 0.2), v = 0.001 g^2 = (0.001, 0.004), bc1 = 0.1,
     *    bc2 = 0.001: theta -= 0.1 g/(|g| + 1e-8) -> (1 - 0.1/(1 + 1e-8), 1 - 0.2/(2 + 1e-8))
     *    = (0.900000001, 0.9000000005);
     * t2 g = (0.900000001, 1.800000001), m = (0.1800000001, 0.3600000001),
     *    v = (0.0018090000018, 0.0072360000036), bc1 = 0.19, bc2 = 0.001999:
     *    theta = (0.80041222971233739, 0.80041222869179215);
     * t3 m = (0.24204122306123374, 0.48408244582835843),
     *    v = (0.0024478507392712755, 0.0097914029469538471), bc1 = 0.271, bc2 = 0.002997001. */
    h = hp_default();
    h.lr = 0.1;
    three_steps("adam", "adam", &h, (const double[3][2]){{0.90000000099999999, 0.9000000005},
                {0.80041222971233739, 0.80041222869179215},
                {0.70158627450441421, 0.70158627294602955}}, 1e-13);
    /* AdamW lr 0.1, wd 0.1: theta *= 0.99 first, then the Adam step on the unchanged g:
     * t1 (0.99 - 0.1/(1 + 1e-8), 0.99 - 0.2/(2 + 1e-8)) = (0.890000001, 0.8900000005);
     * t2 m = (0.1790000001, 0.3580000001), v = (0.00179110000178, 0.00716440000356);
     * t3 m = (0.23925718578541603, 0.47851437127730083). */
    h.weight_decay = 0.1;
    three_steps("adamw", "adamw", &h, (const double[3][2]){{0.89000000099999999, 0.8900000005},
                {0.78157185695416035, 0.78157185593650413},
                {0.67510122318920006, 0.67510122164006905}}, 1e-13);
    /* diffGrad lr 0.1: t1 xi = sigmoid(|0 - g|) = (sigmoid(1), sigmoid(2)) =
     *    (0.73105857863000488, 0.88079707797788244); m = 0.1 g, sqrt(v) = sqrt(0.001)|g|,
     *    step = 0.1 sqrt(0.001)/0.1: theta = 1 - xi sqrt(0.001)|g|/(sqrt(0.001)|g| + 1e-8)
     *    = (0.92689416525509432, 0.91192030612883417);
     * t2 xi = sigmoid(|g1 - g2|) = (0.51826832321262530, 0.54392631172564054);
     * t3 xi = (0.51291890522566299, 0.52707573751161872). */
    h = hp_default();
    h.lr = 0.1;
    three_steps("diffgrad", "diffgrad", &h, (const double[3][2]){
                {0.92689416525509432, 0.91192030612883417},
                {0.87520704032598736, 0.85771580684049742},
                {0.82422891163190686, 0.80539452524503633}}, 1e-13);
    /* AdEMAMix lr 0.01, alpha 8, T_alpha = T_beta3 = 4, wd 0.1:
     * t1 alpha_t = 8/4 = 2, beta3_t = finv(0.75 f(0.9) + 0.25 f(0.9999)) = 0.99960123513001642,
     *    m1/bc1 = g, m2 = (1 - beta3_t) g, sqrt(nu)/sqrt(bc2) = |g|:
     *    u = (1 + 2 (1 - beta3_t)) g/(|g| + 1e-8) + 0.1 theta = (1.1007975197319920, ...);
     * t2 alpha_t = 4, beta3_t = 0.99980021958559702, u = (1.1009935987436680, ...);
     * t3 alpha_t = 6, beta3_t = 0.99986672438185987, u = (1.1013914519865487, ...). */
    h = hp_default();
    h.lr = 0.01;
    h.alpha = 8;
    h.t_alpha = h.t_beta3 = 4;
    h.weight_decay = 0.1;
    three_steps("ademamix", "ademamix", &h, (const double[3][2]){
                {0.98899202480268008, 0.98899202475264020},
                {0.97798208881524340, 0.97798208871488656},
                {0.96696817429537791, 0.96696817414442356}}, 1e-13);
    /* DoG lr 1: t1 r_eps = 1e-6 (1 + sqrt 2), G = ||g||^2 = 5, eta = r_eps/sqrt 5,
     *    theta = (1, 1) - eta (1, 2); t2 rbar = ||theta_1 - theta_0|| = eta sqrt 5 = r_eps
     *    (ties), G = 5 + ||g_1||^2, ... computed below in closed form per step. */
    h = hp_default();
    double th[2] = {1, 1}, th0[2] = {1, 1}, rbar = 1e-6 * (1 + sqrt(2)), G = 0, want[3][2];
    for (int t = 0; t < 3; t++) {
        double g[2] = {th[0], 2 * th[1]};
        rbar = fmax(rbar, hypot(th[0] - th0[0], th[1] - th0[1]));
        G += g[0] * g[0] + g[1] * g[1];
        double eta = rbar / sqrt(G);
        th[0] -= eta * g[0];
        th[1] -= eta * g[1];
        want[t][0] = th[0];
        want[t][1] = th[1];
    }
    three_steps("dog", "dog", &h, (const double (*)[2])want, 1e-14);
}

/* SAM on quadratic:1,2 with base SGD: theta1 = theta0 - lr H (theta0 + e), so
 * e = (theta0 - theta1)/(lr h) - theta0 per coordinate, compared with the formula
 * rho a^2 g/(||a g|| + 1e-12). */
static void sam_perturbation(void)
{
    model *m = make_fn("quadratic:1,2");
    const double hd[2] = {1, 2}, lr = 0.5, rho = 0.3;
    for (int adaptive = 0; adaptive < 2; adaptive++) {
        opt_hparams h = hp_default();
        h.lr = lr;
        h.rho = rho;
        h.adaptive = adaptive;
        h.eta = adaptive ? 0.01 : 0;
        double th0[2] = {1, -2}, th[2] = {1, -2}, g[2] = {1, -4}, a[2] = {1, 1};
        run("sam", &h, m, th, nobatch, 1);
        if (adaptive)   /* a = |theta| + eta on the weight block "xy" */
            for (int i = 0; i < 2; i++)
                a[i] = fabs(th0[i]) + 0.01;
        double N = hypot(a[0] * g[0], a[1] * g[1]) + 1e-12;
        for (int i = 0; i < 2; i++) {
            double e = (th0[i] - th[i]) / (lr * hd[i]) - th0[i];
            double want = rho * a[i] * a[i] * g[i] / N;
            char nm[96];
            snprintf(nm, sizeof nm, "%s perturbation e[%d] = rho a^2 g/||a g||",
                     adaptive ? "ASAM" : "SAM", i);
            check_close(nm, e, want, 1e-13, 1e-15);
        }
    }
    /* a zero gradient gives e = 0: the minimum stays put exactly */
    opt_hparams h = hp_default();
    double th[2] = {0, 0};
    run("sam", &h, m, th, nobatch, 3);
    CHECK(th[0] == 0 && th[1] == 0, "SAM: zero gradient, zero perturbation", "(%g, %g)",
          th[0], th[1]);
    model_free(m);
}

/* GAM by hand on the quadratic (H = diag(1, 2), gradients exact), base SGD. */
static void gam_by_hand(const opt_hparams *h, double th[2])
{
    const double hd[2] = {1, 2}, eps = 1e-12;
    double b2 = 1 - h->grad_beta0, b3 = 1 - h->grad_beta1;
    double g0[2], g1[2], g2[2], g3[2], e0[2], e[2], ep[2], pm[2], gn[2], gf[2];
    for (int i = 0; i < 2; i++)
        g0[i] = hd[i] * th[i];
    double n0 = hypot(g0[0], g0[1]);
    for (int i = 0; i < 2; i++) {
        e0[i] = g0[i] * (h->grad_rho / (n0 + eps));
        g1[i] = hd[i] * (th[i] + e0[i]);
        e[i] = g1[i] - g0[i];
    }
    double nd = hypot(e[0], e[1]);
    for (int i = 0; i < 2; i++) {
        e[i] = e[i] * (h->grad_norm_rho / (nd + eps));
        g2[i] = hd[i] * (th[i] + e[i]);
    }
    double n2 = hypot(g2[0], g2[1]);
    for (int i = 0; i < 2; i++) {
        ep[i] = g2[i] * (h->grad_rho / (n2 + eps));
        g3[i] = hd[i] * (th[i] + e[i] + ep[i]);
        pm[i] = g0[i] + fabs(b2) * g2[i];
        gn[i] = h->grad_beta1 * g1[i] + b3 * g3[i];
    }
    double npm = hypot(pm[0], pm[1]), ngn = hypot(gn[0], gn[1]);
    double cs = (pm[0] * gn[0] + pm[1] * gn[1]) / (ngn * npm + eps);
    for (int i = 0; i < 2; i++) {
        gf[i] = gn[i] - h->grad_gamma * (pm[i] - cs * npm * gn[i] / (ngn + eps));
        th[i] -= h->lr * gf[i];
    }
}

static void sam_gam_steps(void)
{
    /* SAM rho 0.1, base SGD lr 0.1: e = 0.1 g/||g||, g' = H (theta + e), theta -= 0.1 g'.
     * t1 g = (1, 2), ||g|| = sqrt 5, e = (0.04472135955, 0.0894427191),
     *    g' = (1.04472135955, 2.1788854382), theta = (0.895527864045, 0.78211145618). */
    opt_hparams h = hp_default();
    h.lr = 0.1;
    h.rho = 0.1;
    double th[2] = {1, 1}, want[3][2];
    for (int t = 0; t < 3; t++) {
        double g[2] = {th[0], 2 * th[1]}, s = 0.1 / hypot(g[0], g[1]);
        th[0] -= 0.1 * (th[0] + g[0] * s);
        th[1] -= 0.1 * 2 * (th[1] + g[1] * s);
        want[t][0] = th[0];
        want[t][1] = th[1];
    }
    three_steps("sam", "sam", &h, (const double (*)[2])want, 1e-13);
    /* GAM, published hyperparameters (rho' 0.03, rho 0.2, beta0 = beta1 = 0.1,
     * gamma 0.05), base SGD lr 0.1: gam_by_hand step by step. */
    h = hp_default();
    h.lr = 0.1;
    th[0] = th[1] = 1;
    for (int t = 0; t < 3; t++) {
        gam_by_hand(&h, th);
        want[t][0] = th[0];
        want[t][1] = th[1];
    }
    three_steps("gam", "gam", &h, (const double (*)[2])want, 1e-13);
    /* beta0 = beta1 = 1: pm = g0, gn = g1, so g_final = g1 - gamma (g0 - cos ||g0|| g1/||g1||)
     * with g1 = H (theta + rho' g0/||g0||): t1 g0 = (1, 2), e0 = 0.03 (1, 2)/sqrt 5,
     * g1 = (1.0134164, 2.0536656), cos = <g0, g1>/(||g0|| ||g1||). */
    h.grad_beta0 = h.grad_beta1 = 1;
    h.grad_gamma = 0.5;
    double t1[2] = {1, 1}, g0[2] = {1, 2}, n0 = sqrt(5.0), g1[2];
    for (int i = 0; i < 2; i++)
        g1[i] = (i + 1) * (t1[i] + 0.03 * g0[i] / (n0 + 1e-12));
    double n1 = hypot(g1[0], g1[1]), cs = (g0[0] * g1[0] + g0[1] * g1[1]) / (n1 * n0 + 1e-12);
    model *m = make_fn("quadratic:1,2");
    run("gam", &h, m, t1, nobatch, 1);
    for (int i = 0; i < 2; i++) {
        double gf = g1[i] - 0.5 * (g0[i] - cs * n0 * g1[i] / (n1 + 1e-12));
        char nm[96];
        snprintf(nm, sizeof nm, "GAM beta0 = beta1 = 1 reduces to g1 - gamma vert [%d]", i);
        check_close(nm, t1[i], 1 - 0.1 * gf, 1e-14, 0);
    }
    /* the exact variant on a quadratic: H e0 is exactly g1 - g0, so it agrees to rounding */
    h = hp_default();
    h.lr = 0.1;
    double ta[2] = {1, 1}, tb[2] = {1, 1};
    run("gam", &h, m, ta, nobatch, 3);
    h.gam_exact = 1;
    run("gam", &h, m, tb, nobatch, 3);
    CHECK(fabs(ta[0] - tb[0]) < 1e-13 && fabs(ta[1] - tb[1]) < 1e-13,
          "GAM exact-Hessian variant equals the released form on a quadratic",
          "(%.17g, %.17g) vs (%.17g, %.17g)", ta[0], ta[1], tb[0], tb[1]);
    model_free(m);
}

/* Forward gradient and MeZO: first steps from the directions the optimizer draws. */
static void zo_steps(void)
{
    model *m = make_fn("quadratic:1,2");
    for (int mezo = 0; mezo < 2; mezo++) {
        opt_hparams h = hp_default();
        h.lr = 0.05;
        h.seed = 7;
        h.weight_decay = mezo ? 0.1 : 0;
        opt *o = NULL;
        err e = {0};
        double th[2] = {1, 1}, want[2] = {1, 1}, v[2];
        int rc = opt_new(mezo ? "mezo" : "forward-grad", &h, 2, &o, &e);
        for (int t = 1; !rc && t <= 3; t++) {
            /* g^ = <g, v> v (forward gradient); MeZO: pg = central difference = <g, z>
             * on a quadratic, theta -= lr (pg z + wd theta) */
            opt_direction(o, t, 0, v);
            double d = want[0] * v[0] + 2 * want[1] * v[1];
            for (int i = 0; i < 2; i++)
                want[i] -= 0.05 * (d * v[i] + h.weight_decay * want[i]);
            rc = opt_step(o, m, th, nobatch, NULL, &e);
            char nm[96];
            snprintf(nm, sizeof nm, "%s: step %d by hand from its directions",
                     mezo ? "mezo" : "forward-grad", t);
            CHECK(!rc && fabs(th[0] - want[0]) < 1e-10 * (1 + fabs(want[0]))
                  && fabs(th[1] - want[1]) < 1e-10 * (1 + fabs(want[1])), nm,
                  "rc %d (%.17g, %.17g) want (%.17g, %.17g)", rc, th[0], th[1], want[0], want[1]);
        }
        opt_free(o);
    }
    model_free(m);
}

/* Every deterministic method reaches the minimum of the quadratic and of Rosenbrock. */
static void minima(void)
{
    static const struct {
        const char *name, *base;
        double lr, mom, rho;
        long steps;
        enum sched_kind sched;
    } cases[] = {
        {"sgd", "", 2e-3, 0.9, 0, 20000, SCHED_CONSTANT},
        {"adam", "", 2e-2, 0, 0, 20000, SCHED_COSINE},
        {"adamw", "", 2e-2, 0, 0, 20000, SCHED_COSINE},
        {"diffgrad", "", 2e-2, 0, 0, 20000, SCHED_COSINE},
        {"ademamix", "", 2e-3, 0, 0, 20000, SCHED_COSINE},   /* with beta3 0.999 */
        {"dog", "", 1, 0, 0, 100000, SCHED_CONSTANT},
        {"sam", "sgd", 2e-3, 0.9, 1e-4, 20000, SCHED_CONSTANT},
        {"sam", "adam", 2e-2, 0, 1e-4, 20000, SCHED_COSINE},
        {"gam", "sgd", 2e-3, 0.9, 1e-4, 20000, SCHED_CONSTANT},
    };
    const char *fns[] = {"quadratic:1,10", "rosenbrock"};
    const double mins[][2] = {{0, 0}, {1, 1}};
    for (size_t f = 0; f < 2; f++) {
        model *m = make_fn(fns[f]);
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            opt_hparams h = hp_default();
            h.lr = cases[k].lr;
            h.momentum = cases[k].mom;
            h.weight_decay = 0;
            snprintf(h.base, sizeof h.base, "%s", cases[k].base);
            h.rho = cases[k].rho;
            h.grad_rho = h.grad_norm_rho = cases[k].rho;
            h.beta3 = 0.999;
            h.sched.kind = cases[k].sched;
            h.sched.total = cases[k].steps;
            double th[2];
            err e = {0};
            model_init(m, th, 0, &e);
            int rc = run(cases[k].name, &h, m, th, nobatch, cases[k].steps);
            double d = hypot(th[0] - mins[f][0], th[1] - mins[f][1]);
            double tol = cases[k].rho > 0 ? 1e-3 : 1e-5;
            char nm[128];
            snprintf(nm, sizeof nm, "%s%s%s reaches the minimum of %s", cases[k].name,
                     cases[k].base[0] ? "/" : "", cases[k].base, fns[f]);
            CHECK(!rc && d < tol, nm, "ended at (%.10g, %.10g), %.3g away (tolerance %g)",
                  th[0], th[1], d, tol);
        }
        model_free(m);
    }
}

/* Mean of N estimates (read back from SGD lr 1: g^ = theta0 - theta1) within 4.5
 * standard errors of the true gradient, on quadratic:1,2 at (1, -0.5). */
static void unbiased(void)
{
    model *m = make_fn("quadratic:1,2");
    const int N = 4000;
    for (int mezo = 0; mezo < 2; mezo++) {
        opt_hparams h = hp_default();
        h.lr = 1;
        h.seed = 3;
        h.zo_eps = 1e-4;
        h.tangents = 2;
        opt *o = NULL;
        err e = {0};
        opt_new(mezo ? "mezo" : "forward-grad", &h, 2, &o, &e);
        double s1[2] = {0}, s2[2] = {0}, want[2] = {1, -1};
        for (int k = 0; k < N; k++) {
            double th[2] = {1, -0.5};
            opt_step(o, m, th, nobatch, NULL, &e);
            for (int i = 0; i < 2; i++) {
                double gi = (i ? -0.5 : 1) - th[i];
                s1[i] += gi;
                s2[i] += gi * gi;
            }
        }
        for (int i = 0; i < 2; i++) {
            double mean = s1[i] / N, sd = sqrt((s2[i] / N - mean * mean) * N / (N - 1));
            double z = (mean - want[i]) / (sd / sqrt(N));
            char nm[96];
            snprintf(nm, sizeof nm, "%s estimate unbiased, component %d", mezo ? "mezo" :
                     "forward-grad (K=2)", i);
            CHECK(fabs(z) < 4.5 && sd > 0, nm, "mean %.6g want %g, z = %.3g (sd %.3g)", mean,
                  want[i], z, sd);
        }
        opt_free(o);
    }
    model_free(m);
}

/* --- a small MLP on synthetic data --- */

#define NS 24
#define DIN 6
#define NOUT 3
static double xs[NS * DIN];
static int ys[NS];

static model *make_mlp(int in, int hidden, int out)
{
    model_opts mo;
    model_opts_default(&mo);
    mo.kind = "mlp";
    mo.in_dim = in;
    mo.out_dim = out;
    mo.nhidden = 1;
    mo.hidden[0] = hidden;
    model *m = NULL;
    err e = {0};
    if (model_new(&mo, &m, &e))
        printf("model_new: %s\n", e.msg);
    return m;
}

static void synth(void)
{
    unsigned s = 12345;
    for (int i = 0; i < NS * DIN; i++) {
        s = s * 1103515245u + 12345u;
        xs[i] = ((s >> 8) & 0xffff) / 32768.0 - 1;
    }
    for (int i = 0; i < NS; i++)
        ys[i] = i % NOUT;
}

/* Every method (and the extras) split in two through a checkpoint equals one run. */
static void checkpoints(void)
{
    static const struct {
        const char *label, *name, *base;
        int grok, sched, sam_m, exact, samples;
    } cases[] = {
        {"sgd", "sgd", "", 0, 0, 0, 0, 1},
        {"sgd+grokfast+cosine", "sgd", "", 1, 1, 0, 0, 1},
        {"adam", "adam", "", 0, 0, 0, 0, 1},
        {"adamw", "adamw", "", 0, 1, 0, 0, 1},
        {"diffgrad", "diffgrad", "", 0, 0, 0, 0, 1},
        {"ademamix", "ademamix", "", 0, 0, 0, 0, 1},
        {"dog", "dog", "", 0, 0, 0, 0, 1},
        {"sam/adam m=5", "sam", "adam", 0, 0, 5, 0, 1},
        {"gam/sgd", "gam", "sgd", 0, 0, 0, 0, 1},
        {"gam exact/adamw", "gam", "adamw", 0, 0, 0, 1, 1},
        {"forward-grad/adam", "forward-grad", "adam", 0, 0, 0, 0, 1},
        {"mezo n=2", "mezo", "", 0, 1, 0, 0, 2},
    };
    model *m = make_mlp(DIN, 5, NOUT);
    batch b = {xs, ys, NULL, NS};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        opt_hparams h = hp_default();
        h.momentum = 0.9;
        h.seed = 11;
        h.t_alpha = h.t_beta3 = 4;
        snprintf(h.base, sizeof h.base, "%s", cases[k].base);
        h.grokfast_lambda = cases[k].grok ? 2 : 0;
        h.sched.kind = cases[k].sched ? SCHED_COSINE : SCHED_CONSTANT;
        h.sched.warmup = cases[k].sched ? 2 : 0;
        h.sched.total = 8;
        h.sam_m = (size_t)cases[k].sam_m;
        h.gam_exact = cases[k].exact;
        h.zo_samples = cases[k].samples;
        h.weight_decay = 1e-3;
        double *a = malloc(m->n * sizeof *a), *c = malloc(m->n * sizeof *c), *buf = NULL;
        err e = {0};
        model_init(m, a, 5, &e);
        memcpy(c, a, m->n * sizeof *a);
        int rc = run(cases[k].name, &h, m, a, b, 8);
        opt *o1 = NULL, *o2 = NULL;
        rc |= opt_new(cases[k].name, &h, m->n, &o1, &e);
        for (int s = 0; !rc && s < 3; s++)
            rc = opt_step(o1, m, c, b, NULL, &e);
        size_t len = opt_state_len(o1);
        buf = malloc(len * sizeof *buf);
        opt_state_save(o1, buf);
        opt_free(o1);
        rc = rc ? rc : opt_new(cases[k].name, &h, m->n, &o2, &e);
        rc = rc ? rc : opt_state_load(o2, buf, len, &e);
        for (int s = 0; !rc && s < 5; s++)
            rc = opt_step(o2, m, c, b, NULL, &e);
        char nm[96];
        snprintf(nm, sizeof nm, "%s: 3 + 5 steps through a checkpoint = 8 steps, bit for bit",
                 cases[k].label);
        CHECK(!rc && memcmp(a, c, m->n * sizeof *a) == 0, nm, "rc %d %s", rc, e.msg);
        opt_free(o2);
        free(a);
        free(c);
        free(buf);
    }
    model_free(m);
}

/* Weight decay by role: SGD lr 0.1, wd 0.5, --wd-exclude bias: biases move by lr g only. */
static void decay_by_role(void)
{
    model *m = make_mlp(DIN, 5, NOUT);
    batch b = {xs, ys, NULL, NS};
    double *th = malloc(m->n * sizeof *th), *t0 = malloc(m->n * sizeof *t0);
    double *g = malloc(m->n * sizeof *g);
    err e = {0};
    model_init(m, th, 1, &e);
    memcpy(t0, th, m->n * sizeof *th);
    model_grad(m, th, b, g, NULL, &e);
    opt_hparams h = hp_default();
    h.lr = 0.1;
    h.weight_decay = 0.5;
    h.wd_exclude = 1 << ROLE_BIAS;
    run("sgd", &h, m, th, b, 1);
    double worst = 0;
    for (size_t i = 0; i < m->n; i++) {
        int bias = m->blocks[model_block_of(m, i)].role == ROLE_BIAS;
        double want = t0[i] - 0.1 * (bias ? g[i] : g[i] + 0.5 * t0[i]);
        worst = fmax(worst, fabs(th[i] - want));
    }
    CHECK(worst < 1e-15, "weight decay skips excluded roles (bias)", "max deviation %g", worst);
    free(th);
    free(t0);
    free(g);
    model_free(m);
}

/* SGD with momentum past its first step (optim/rules.c's heavy_ball: blocks of four
 * between scalar ends) against the formula element by element, bit for bit: four steps
 * with dampening 0.25 and decay on the weights only, on the mlp 6-5-3 whose segments
 * [0,30) [30,35) [35,50) [50,53) start on and off multiples of four. */
static void heavy_ball_by_hand(void)
{
    model *m = make_mlp(DIN, 5, NOUT);
    batch b = {xs, ys, NULL, NS};
    size_t n = m->n;
    double *th = malloc(n * sizeof *th), *want = malloc(n * sizeof *want);
    double *g = malloc(n * sizeof *g), *buf = malloc(n * sizeof *buf);
    err e = {0};
    opt_hparams h = hp_default();
    h.lr = 0.1;
    h.momentum = 0.9;
    h.dampening = 0.25;
    h.weight_decay = 0.05;
    h.wd_exclude = 1 << ROLE_BIAS;
    opt *o = NULL;
    opt_new("sgd", &h, n, &o, &e);
    model_init(m, th, 4, &e);
    memcpy(want, th, n * sizeof *th);
    int same = 1;
    double norm_err = 0;
    for (int t = 1; t <= 4 && o; t++) {
        model_grad(m, want, b, g, NULL, &e);
        double d2 = 0;
        for (size_t i = 0; i < n; i++) {
            int bias = m->blocks[model_block_of(m, i)].role == ROLE_BIAS;
            double gi = bias ? g[i] : g[i] + 0.05 * want[i];
            buf[i] = t == 1 ? gi : 0.9 * buf[i] + 0.75 * gi;
            double d = 0.1 * buf[i];
            want[i] -= d;
            d2 += d * d;
        }
        opt_step(o, m, th, b, NULL, &e);
        same = same && memcmp(th, want, n * sizeof *th) == 0;
        norm_err = fmax(norm_err, fabs(opt_last(o)->update_norm - sqrt(d2)) / sqrt(d2));
    }
    CHECK(o && same, "sgd momentum and dampening, 4 steps by hand, bit for bit", "theta differs");
    CHECK(norm_err < 1e-14, "sgd momentum: update norm by hand", "relative error %.3g", norm_err);
    opt_free(o);
    free(th);
    free(want);
    free(g);
    free(buf);
    model_free(m);
}

/* The update of a large theta is split over the pool's threads (optim/opt.c): on a
 * logistic regression with 66,003 parameters (above the split's threshold) and a
 * one-sample batch (one chunk: its gradient is the same on 1 and 2 threads, checked
 * first), three steps of every rule give the same theta and the same update norm on 1
 * and 2 threads, bit for bit, and the norm equals ||theta_before - theta_after||. */
static void parallel_update(void)
{
    model_opts mo;
    model_opts_default(&mo);
    mo.kind = "logreg";
    mo.in_dim = 22000;   /* (22000 + 1) x 3 = 66,003 parameters */
    mo.out_dim = NOUT;
    model *m = NULL;
    err e = {0};
    if (model_new(&mo, &m, &e)) {
        CHECK(0, "parallel update: model", "%s", e.msg);
        return;
    }
    size_t n = m->n, bytes = n * sizeof(double);
    double *x = malloc(mo.in_dim * sizeof *x), *th0 = malloc(bytes), *before = malloc(bytes);
    double *th[2] = {malloc(bytes), malloc(bytes)}, *g[2] = {malloc(bytes), malloc(bytes)};
    int y = 1;
    for (int i = 0; i < mo.in_dim; i++)
        x[i] = 0.5 + 0.4 * sin(0.37 * i);
    batch b = {x, &y, NULL, 1};
    model_init(m, th0, 7, &e);
    for (int T = 1; T <= 2; T++) {
        pool_set_threads(T, NULL);
        model_grad(m, th0, b, g[T - 1], NULL, &e);
    }
    CHECK(memcmp(g[0], g[1], bytes) == 0, "parallel update: the batch's gradient is "
          "thread-count independent (the premise)", "gradients differ");
    static const char *const rules[] = {"sgd", "adam", "adamw", "diffgrad", "ademamix", "dog"};
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        double norm[2] = {0, 0}, direct = 0, first = 0;
        opt_hparams h = hp_default();
        h.momentum = strcmp(rules[r], "sgd") == 0 ? 0.9 : 0;
        h.weight_decay = 0.01;
        h.wd_exclude = 1 << ROLE_BIAS;
        opt_defaults(rules[r], &h);
        for (int T = 1; T <= 2; T++) {
            pool_set_threads(T, NULL);
            opt *o = NULL;
            if (opt_new(rules[r], &h, n, &o, &e)) {
                CHECK(0, "parallel update: opt_new", "%s: %s", rules[r], e.msg);
                break;
            }
            memcpy(th[T - 1], th0, bytes);
            for (int s = 0; s < 3; s++) {
                memcpy(before, th[T - 1], bytes);
                if (opt_step(o, m, th[T - 1], b, NULL, &e))
                    printf("# %s: %s\n", rules[r], e.msg);
                norm[T - 1] = opt_last(o)->update_norm;
                for (size_t i = 0; s == 0 && T == 2 && r == 0 && i < n; i++) {
                    /* SGD's first step, every element: theta -= lr (g + lam theta) */
                    int bias = m->blocks[model_block_of(m, i)].role == ROLE_BIAS;
                    double want = th0[i] - h.lr * (g[0][i] + (bias ? 0 : h.weight_decay * th0[i]));
                    first = fmax(first, fabs(th[1][i] - want));
                }
            }
            for (size_t i = 0; T == 1 && i < n; i++)
                direct += (before[i] - th[0][i]) * (before[i] - th[0][i]);
            opt_free(o);
        }
        pool_set_threads(1, NULL);
        char name[96];
        snprintf(name, sizeof name, "parallel update: %s, 1 and 2 threads, theta and norm", rules[r]);
        CHECK(memcmp(th[0], th[1], bytes) == 0 && norm[0] == norm[1], name,
              "theta %s, update norm %.17g vs %.17g",
              memcmp(th[0], th[1], bytes) ? "differs" : "equal", norm[0], norm[1]);
        snprintf(name, sizeof name, "parallel update: %s, norm = ||step||", rules[r]);
        check_close(name, norm[0], sqrt(direct), 1e-12, 0);
        if (r == 0)
            CHECK(first < 1e-15, "parallel update: sgd's first step on 2 threads by hand",
                  "max deviation %g", first);
    }
    free(x);
    free(th0);
    free(before);
    for (int k = 0; k < 2; k++) {
        free(th[k]);
        free(g[k]);
    }
    model_free(m);
}

/* Forward gradient and MeZO never run a backward pass; forward gradient's peak
 * workspace on a fresh model is below backprop's. */
static void no_backward(void)
{
    batch b = {xs, ys, NULL, NS};
    size_t peak[2];
    for (int fg = 0; fg < 2; fg++) {
        model *m = make_mlp(DIN, 64, NOUT);
        double *th = malloc(m->n * sizeof *th);
        err e = {0};
        model_init(m, th, 2, &e);
        opt_hparams h = hp_default();
        h.tangents = 3;
        long g0 = ad_runs(AD_MODE_GRAD), h0 = ad_runs(AD_MODE_HVP);
        ad_mem_reset_peak();
        size_t base = ad_mem_current();
        int rc = run(fg ? "forward-grad" : "sgd", &h, m, th, b, 2);
        peak[fg] = ad_mem_peak() - base;
        if (fg) {
            CHECK(!rc && ad_runs(AD_MODE_GRAD) == g0 && ad_runs(AD_MODE_HVP) == h0,
                  "forward-grad: zero backward passes", "grad runs %ld, hvp runs %ld",
                  ad_runs(AD_MODE_GRAD) - g0, ad_runs(AD_MODE_HVP) - h0);
            g0 = ad_runs(AD_MODE_GRAD);
            long j0 = ad_runs(AD_MODE_JVP);
            rc = run("mezo", &h, m, th, b, 2);
            CHECK(!rc && ad_runs(AD_MODE_GRAD) == g0 && ad_runs(AD_MODE_HVP) == h0
                  && ad_runs(AD_MODE_JVP) == j0, "mezo: losses only, no backward pass",
                  "grad runs %ld", ad_runs(AD_MODE_GRAD) - g0);
        }
        free(th);
        model_free(m);
    }
    CHECK(peak[1] < peak[0], "forward-grad peak workspace below backprop's",
          "forward %zu bytes, backprop %zu bytes", peak[1], peak[0]);
}

/* Per-step metrics: loss and gradient norm at theta, the update's norm, SAM's and
 * GAM's perturbed loss; on quadratic:1,2 from (1, 1): f = 1.5, ||g|| = sqrt 5. */
static void metrics(void)
{
    model *m = make_fn("quadratic:1,2");
    const char *names[] = {"sgd", "sam", "gam"};
    for (int k = 0; k < 3; k++) {
        opt_hparams h = hp_default();
        h.lr = 0.1;
        opt *o = NULL;
        err e = {0};
        double th[2] = {1, 1};
        int rc = opt_new(names[k], &h, 2, &o, &e);
        rc = rc ? rc : opt_step(o, m, th, nobatch, NULL, &e);
        const opt_metrics *mt = rc ? NULL : opt_last(o);
        char nm[96];
        snprintf(nm, sizeof nm, "%s: metrics (loss, grad norm, update norm, perturbed loss)",
                 names[k]);
        CHECK(mt && mt->loss == 1.5 && fabs(mt->grad_norm - sqrt(5.0)) < 1e-15
              && fabs(mt->update_norm - hypot(1 - th[0], 1 - th[1])) < 1e-15 && mt->lr == 0.1
              && (k == 0 ? isnan(mt->perturbed_loss) : mt->perturbed_loss > mt->loss), nm,
              "rc %d loss %g gnorm %g unorm %g ploss %g", rc, mt ? mt->loss : NAN,
              mt ? mt->grad_norm : NAN, mt ? mt->update_norm : NAN,
              mt ? mt->perturbed_loss : NAN);
        opt_free(o);
    }
    model_free(m);
}

static void schedules(void)
{
    opt_sched s;
    sched_default(&s);
    s.kind = SCHED_COSINE;
    s.warmup = 2;
    s.total = 6;
    /* warm-up 1/2, 2/2; then (1 + cos(pi (t - 2)/4))/2: t3 (1 + cos(pi/4))/2, t4 1/2, t6 0 */
    check_close("cosine warm-up t=1", sched_factor(&s, 1), 0.5, 1e-15, 0);
    check_close("cosine t=3", sched_factor(&s, 3), (1 + sqrt(0.5)) / 2, 1e-15, 0);
    check_close("cosine t=4", sched_factor(&s, 4), 0.5, 1e-15, 1e-16);
    check_close("cosine t=6 ends at lr-min", sched_factor(&s, 6), 0, 0, 1e-16);
    s.kind = SCHED_STEP;
    s.warmup = 0;
    s.step_every = 3;
    s.step_gamma = 0.5;
    /* gamma^floor((t-1)/3): t3 1, t4 0.5, t7 0.25 */
    CHECK(sched_factor(&s, 3) == 1 && sched_factor(&s, 4) == 0.5 && sched_factor(&s, 7) == 0.25,
          "step schedule", "%g %g %g", sched_factor(&s, 3), sched_factor(&s, 4),
          sched_factor(&s, 7));
    /* torch OneCycleLR(max_lr 1, total 10, pct_start 0.3, cycle_momentum False) */
    const double torch_oc[10] = {0.040000000000000036, 0.52, 1.0, 0.9504846320134737,
        0.8117456539497631, 0.6112620219362893, 0.38874197806371075, 0.18825834605023697,
        0.049519367986526286, 4e-06};
    s.kind = SCHED_ONECYCLE;
    s.total = 10;
    double worst = 0;
    for (int t = 1; t <= 10; t++)
        worst = fmax(worst, fabs(sched_factor(&s, t) - torch_oc[t - 1]));
    CHECK(worst < 1e-15, "one-cycle equals torch OneCycleLR", "max deviation %g", worst);
    s.kind = SCHED_EXP;
    s.decay = 1e-4;
    check_close("exp schedule t=101 is exp(-0.01)", sched_factor(&s, 101), exp(-0.01), 1e-15, 0);
}

static void usage_errors(void)
{
    static const struct {
        const char *name, *want;
        int field;
        double val;
    } cases[] = {
        {"rmsprop", "unknown", 0, 0},
        {"sgd", "momentum", 1, 1.5},
        {"adam", "beta1", 2, 1.0},
        {"sam", "not an update rule", 3, 0},
        {"mezo", "zo-eps", 4, 0},
        {"sgd", "learning rate", 5, -1},
        {"forward-grad", "tangents", 6, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        opt_hparams h = hp_default();
        switch (cases[k].field) {
        case 1: h.momentum = cases[k].val; break;
        case 2: h.beta1 = cases[k].val; break;
        case 3: snprintf(h.base, sizeof h.base, "mezo"); break;
        case 4: h.zo_eps = cases[k].val; break;
        case 5: h.lr = cases[k].val; break;
        case 6: h.tangents = 0; break;
        }
        opt *o = NULL;
        err e = {0};
        int rc = opt_new(cases[k].name, &h, 2, &o, &e);
        char nm[96];
        snprintf(nm, sizeof nm, "usage error: %s (%s)", cases[k].name, cases[k].want);
        CHECK(rc == ERR_USAGE && !o && strstr(e.msg, cases[k].want), nm, "rc %d: %s", rc, e.msg);
        opt_free(o);
    }
    /* the names alone, as experiment files are checked before anything runs */
    static const struct {
        const char *name, *base;
        int ok;
        const char *want;
    } names[] = {
        {"sgd", NULL, 1, ""}, {"sam", "adamw", 1, ""}, {"gam", "", 1, ""},
        {NULL, "dog", 1, ""}, {"rmsprop", NULL, 0, "unknown 'rmsprop'"},
        {"sam", "gam", 0, "not an update rule"}, {NULL, "mezo", 0, "base 'mezo' is not"},
        {"mezo", "adam", 0, "--base does not apply"},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        err e = {0};
        int rc = opt_names_check(names[k].name, names[k].base, &e);
        char nm[96];
        snprintf(nm, sizeof nm, "opt_names_check(%s, %s) %s", names[k].name ? names[k].name : "NULL",
                 names[k].base ? names[k].base : "NULL", names[k].ok ? "passes" : "refuses");
        CHECK(names[k].ok ? rc == 0 : rc == ERR_USAGE && strstr(e.msg, names[k].want), nm,
              "rc %d: %s", rc, e.msg);
    }
}

/* On 1000 Fashion-MNIST samples, MLP 784-32-10: 30 steps of batch 100 lower the loss. */
static void training(void)
{
    static const struct {
        const char *name, *base;
        double lr;
    } cases[] = {
        {"sgd", "", 0.1}, {"adam", "", 1e-3}, {"adamw", "", 1e-3}, {"diffgrad", "", 1e-3},
        {"ademamix", "", 1e-3}, {"dog", "", 1}, {"sam", "sgd", 0.1}, {"gam", "sgd", 0.1},
        {"forward-grad", "sgd", 2e-4}, {"mezo", "", 2e-4},
    };
    data_opts d;
    data_opts_default(&d);
    d.samples = 1000;
    data *ds = NULL;
    err e = {0};
    if (data_load(&d, &ds, &e)) {
        CHECK(0, "training: Fashion-MNIST subset", "%s", e.msg);
        return;
    }
    model *m = make_mlp(ds->d, 32, ds->classes);
    double *th = malloc(m->n * sizeof *th);
    batch all = {ds->x, ds->y, NULL, ds->n};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        opt_hparams h = hp_default();
        h.lr = cases[k].lr;
        h.seed = 1;
        snprintf(h.base, sizeof h.base, "%s", cases[k].base);
        model_init(m, th, 1, &e);
        model_stats s0, s1;
        model_loss(m, th, all, &s0, &e);
        opt *o = NULL;
        int rc = opt_new(cases[k].name, &h, m->n, &o, &e);
        for (int s = 0; !rc && s < 30; s++) {
            size_t lo = (size_t)(s % 10) * 100;
            batch b = {ds->x + lo * (size_t)ds->d, ds->y + lo, NULL, 100};
            rc = opt_step(o, m, th, b, NULL, &e);
        }
        rc = rc ? rc : model_loss(m, th, all, &s1, &e);
        char nm[96];
        snprintf(nm, sizeof nm, "training: %s%s%s lowers the Fashion-MNIST loss", cases[k].name,
                 cases[k].base[0] ? "/" : "", cases[k].base);
        CHECK(!rc && s1.loss < s0.loss - 1e-3, nm, "rc %d loss %.6g -> %.6g %s", rc, s0.loss,
              s1.loss, rc ? e.msg : "");
        opt_free(o);
    }
    free(th);
    model_free(m);
    data_free(ds);
}

int main(void)
{
    synth();
    hand_steps();
    sam_perturbation();
    sam_gam_steps();
    zo_steps();
    minima();
    unbiased();
    checkpoints();
    decay_by_role();
    heavy_ball_by_hand();
    parallel_update();
    no_backward();
    metrics();
    schedules();
    usage_errors();
    training();
    return check_done();
}
