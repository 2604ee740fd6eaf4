/* style.c -- colours, labels and test functions of basin's plots (style.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "style.h"

/* One colour per optimizer, the same in every plot (Tableau 10, then two more). */
static const struct {
    const char *name;
    uint32_t rgb;
} optim_rgb[] = {
    {"sgd", 0x1f77b4},      {"adam", 0xd62728},     {"adamw", 0xff7f0e},
    {"diffgrad", 0x9467bd}, {"ademamix", 0x8c564b}, {"dog", 0xe377c2},
    {"sam", 0x2ca02c},      {"gam", 0x17becf},      {"forward-grad", 0xbcbd22},
    {"mezo", 0x7f7f7f},     {"lbfgs", 0x393b79},    {"newton", 0x637939},
};
#define NOPTIM (int)(sizeof optim_rgb / sizeof optim_rgb[0])

int style_optim_known(const char *name)
{
    for (int i = 0; i < NOPTIM; i++)
        if (!strcmp(optim_rgb[i].name, name))
            return 1;
    return 0;
}

uint32_t style_optim_rgb(const char *name)
{
    for (int i = 0; i < NOPTIM; i++)
        if (!strcmp(optim_rgb[i].name, name))
            return optim_rgb[i].rgb;
    uint32_t h = 2166136261u;   /* FNV-1a: a stable colour for a new name */
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return 0x404040 | (h & 0x7f7f7f);
}

uint32_t style_cycle_rgb(int k)
{
    return optim_rgb[k % NOPTIM].rgb;
}

uint32_t style_shade(uint32_t rgb, int k)
{
    static const double mix[] = {0, -0.4, 0.45, -0.65, 0.7};
    double m = mix[k % 5];
    uint32_t out = 0;
    for (int s = 0; s < 24; s += 8) {
        double v = (rgb >> s) & 0xff;
        v = m < 0 ? v * (1 + m) : v + (255 - v) * m;
        out |= (uint32_t)lround(v) << s;
    }
    return out;
}

const char *style_palette(void)
{
    return "set palette defined (0 '#440154', 1 '#414487', 2 '#2a788e', 3 '#22a884', "
           "4 '#7ad151', 5 '#fde725')";
}

const char *style_metric_label(const char *key)
{
    static const char *const labels[][2] = {
        {"batch_loss", "mini-batch loss"},
        {"lr", "learning rate η"},
        {"train_loss", "training loss"},
        {"train_acc", "training accuracy (fraction)"},
        {"test_loss", "test loss"},
        {"test_acc", "test accuracy (fraction)"},
        {"grad_norm", "gradient norm ‖g‖₂"},
        {"update_norm", "update norm ‖Δθ‖₂"},
        {"perturbed_loss", "loss at the perturbed point"},
        {"lambda_max", "λmax, top Hessian eigenvalue"},
        {"trace", "Hessian trace"},
        {"nc1", "NC1: tr(Σw Σb⁺)/C"},
        {"sharp_worst", "worst-case sharpness (loss increase)"},
        {"sharp_adaptive", "adaptive sharpness (loss increase)"},
        {"sharp_average", "average sharpness (loss increase)"},
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (!strcmp(labels[i][0], key))
            return labels[i][1];
    return key;
}

int style_function(const char *name, style_fn *f)
{
    memset(f, 0, sizeof *f);
    f->has_min = 1;
    if (!strcmp(name, "rosenbrock")) {
        snprintf(f->expr, sizeof f->expr, "(1-x)**2 + 100*(y-x**2)**2");
        snprintf(f->title, sizeof f->title, "Rosenbrock  (1−x)² + 100(y−x²)²");
        f->min[0] = f->min[1] = 1;
        memcpy(f->win, (double[4]){-2, 2, -1, 3}, sizeof f->win);
    } else if (!strcmp(name, "beale")) {
        snprintf(f->expr, sizeof f->expr,
                 "(1.5-x+x*y)**2 + (2.25-x+x*y**2)**2 + (2.625-x+x*y**3)**2");
        snprintf(f->title, sizeof f->title, "Beale");
        f->min[0] = 3;
        f->min[1] = 0.5;
        memcpy(f->win, (double[4]){-4.5, 4.5, -4.5, 4.5}, sizeof f->win);
    } else if (!strcmp(name, "himmelblau")) {
        snprintf(f->expr, sizeof f->expr, "(x**2+y-11)**2 + (x+y**2-7)**2");
        snprintf(f->title, sizeof f->title, "Himmelblau  (x²+y−11)² + (x+y²−7)²");
        f->has_min = 0;   /* four minima */
        memcpy(f->win, (double[4]){-5, 5, -5, 5}, sizeof f->win);
    } else if (!strcmp(name, "rastrigin")) {
        snprintf(f->expr, sizeof f->expr, "20 + x**2 - 10*cos(2*pi*x) + y**2 - 10*cos(2*pi*y)");
        snprintf(f->title, sizeof f->title, "Rastrigin (A = 10)");
        memcpy(f->win, (double[4]){-5.12, 5.12, -5.12, 5.12}, sizeof f->win);
    } else if (!strncmp(name, "quadratic:", 10)) {
        char *end;
        double a = strtod(name + 10, &end), b = *end == ',' ? strtod(end + 1, &end) : NAN;
        if (*end || !isfinite(a) || !isfinite(b))
            return -1;
        snprintf(f->expr, sizeof f->expr, "(%.17g*x**2 + %.17g*y**2)/2", a, b);
        snprintf(f->title, sizeof f->title, "quadratic  (%g x² + %g y²)/2", a, b);
        f->has_min = a > 0 && b > 0;
        memcpy(f->win, (double[4]){-1e3, 1e3, -1e3, 1e3}, sizeof f->win);
    } else {
        return -1;
    }
    return 0;
}
