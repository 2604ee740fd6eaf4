/* check_hvp.h -- checks shared by test_models.c and test_conv.c: every way of asking
 * a model for H v gives model_hvp's bits. Include after check.h. */
#ifndef BASIN_CHECK_HVP_H
#define BASIN_CHECK_HVP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/pool.h"
#include "../models/model.h"

/* hv = model_hvp(v) and g = model_grad at th on b, computed by the caller; u another
 * direction. H v with g asked as well; a model_lin replaying H v, H u, H v; one
 * over its byte budget (a fallback); and one recorded at T threads then used at the
 * other count (it must record again). */
static void check_hvp_variants(const char *name, model *m, const double *th, const double *v,
                               const double *u, batch b, const double *g, const double *hv)
{
    size_t n = m->n, bytes = n * sizeof(double);
    double *g2 = malloc(bytes), *h2 = malloc(bytes), *hu = malloc(bytes);
    char label[200];
    model_hvp(m, th, v, b, g2, h2, NULL, NULL);
    snprintf(label, sizeof label, "%s: hvp with g: same H v, g = grad", name);
    CHECK(!memcmp(h2, hv, bytes) && !memcmp(g2, g, bytes), label, "H v or g differs");
    model_hvp(m, th, u, b, NULL, hu, NULL, NULL);

    model_lin *l = NULL;
    int rc = model_lin_new(m, th, b, SIZE_MAX, &l, NULL);
    snprintf(label, sizeof label, "%s: model_lin keeps a primal state", name);
    CHECK(!rc && model_lin_bytes(l) > 0, label, "rc %d, %zu bytes", rc, l ? model_lin_bytes(l) : 0);
    int same = 1;
    for (int k = 0; !rc && k < 3; k++) {
        rc = model_lin_hvp(l, k == 1 ? u : v, h2, NULL, NULL);
        same &= !rc && !memcmp(h2, k == 1 ? hu : hv, bytes);
    }
    snprintf(label, sizeof label, "%s: model_lin H v, H u, H v = model_hvp's bits", name);
    CHECK(same, label, "rc %d", rc);
    int T = pool_threads(), T2 = T == 1 ? 2 : 1;
    pool_set_threads(T2, NULL);
    model_hvp(m, th, v, b, NULL, hu, NULL, NULL);
    rc = model_lin_hvp(l, v, h2, NULL, NULL);
    snprintf(label, sizeof label, "%s: model_lin recorded at %d threads, used at %d", name, T, T2);
    CHECK(!rc && !memcmp(h2, hu, bytes), label, "rc %d", rc);
    pool_set_threads(T, NULL);
    model_lin_free(l);

    rc = model_lin_new(m, th, b, 0, &l, NULL);
    rc = rc ? rc : model_lin_hvp(l, v, h2, NULL, NULL);
    snprintf(label, sizeof label, "%s: model_lin over its budget = model_hvp", name);
    CHECK(!rc && model_lin_bytes(l) == 0 && !memcmp(h2, hv, bytes), label, "rc %d", rc);
    model_lin_free(l);
    free(g2);
    free(h2);
    free(hu);
}

#endif
