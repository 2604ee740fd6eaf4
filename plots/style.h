/* style.h -- the one look of basin's plots (internal to plots/): a fixed colour per
 * optimizer name, shades for several configurations of one optimizer, the palette of
 * maps, axis labels of metric keys, and the 2-D test functions as gnuplot
 * expressions (plots link nothing of models/, so the formulas are restated here;
 * models/testfn.c is the reference). */
#ifndef BASIN_PLOT_STYLE_H
#define BASIN_PLOT_STYLE_H

#include <stdint.h>

/* The colour (0xRRGGBB) of an optimizer name; unknown names get a fixed grey-ish
 * colour derived from the name. style_optim_known: 1 when the name is in the table. */
uint32_t style_optim_rgb(const char *name);
int style_optim_known(const char *name);

/* Colour k of a cycle for things without an optimizer (CSV inputs). */
uint32_t style_cycle_rgb(int k);

/* Shade k of a colour: k = 0 the colour itself, then alternately darker and lighter. */
uint32_t style_shade(uint32_t rgb, int k);

/* The gnuplot `set palette` line of every map (perceptually uniform, viridis-like). */
const char *style_palette(void);

/* An axis label with units for a metric key (the key itself when unknown). */
const char *style_metric_label(const char *key);

/* A test function for race: gnuplot expression of x and y, title, global minimum
 * (when it has one point) and the window it is usually drawn in (x0, x1, y0, y1). */
typedef struct style_fn {
    char expr[256];
    char title[128];
    int has_min;
    double min[2];
    double win[4];
} style_fn;

/* Fill *f for `name` (rosenbrock, beale, himmelblau, rastrigin, quadratic:a,b);
 * -1 when unknown. */
int style_function(const char *name, style_fn *f);

#endif
