/* cnn.c -- convolutional networks on the core autodiff graph: "cnn" and "resnet".
 *
 * cnn, LeNet-5-like, as PyTorch's
 *   nn.Sequential(Conv2d(c, c1, 5, padding=2), act, MaxPool2d(2),
 *                 Conv2d(c1, c2, 5), act, MaxPool2d(2), Flatten(),
 *                 Linear(c2*h'*w', hidden[0]), act, ..., Linear(hidden[-1], classes))
 * so theta is "0.weight" [c1, c, 5, 5], "0.bias", "3.weight", "3.bias", "7.weight",
 * "7.bias", "9.weight", ... (the dense head is --hidden, as the MLP's; --no-bias drops
 * every bias). On 28x28 inputs h' = w' = 5.
 *
 * resnet, for small images (bench/torch_models.py holds the PyTorch module):
 *   stem:   conv 3x3 stride 2 pad 1 (c -> width, no bias), GroupNorm(1, width), act
 *   blocks: r = GN2(conv2(act(GN1(conv1(h))))) with 3x3 convs pad 1 and no bias;
 *           h = act(h + r) with skips, act(r) without (--skip off)
 *   head:   global average pool, Linear(width, classes)
 * theta: "conv.weight", "norm.weight", "norm.bias", "blocks.0.conv1.weight",
 * "blocks.0.norm1.weight", "blocks.0.norm1.bias", "blocks.0.conv2.weight",
 * "blocks.0.norm2.weight", "blocks.0.norm2.bias", "blocks.1...", "head.weight",
 * "head.bias". Convolutions before a norm have no bias (the norm's beta takes its
 * place). Skips on or off, the layout is the same: only the graph differs.
 *
 * Both keep the features (model_features) at the input of the last linear layer,
 * mark conv weights ROLE_WEIGHT with ndim 4 (a row per output filter, for filter
 * normalization) and group-norm affine parameters ROLE_NORM, and initialize as
 * PyTorch: conv and linear weights and biases U(+-1/sqrt(fan_in)) with fan_in =
 * in*kh*kw (kaiming_uniform with a = sqrt(5)), norm weights 1 and biases 0. They run
 * on exec.c's executor (impl.h's model_exec). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "../core/rng.h"
#include "impl.h"

#define MAX_BLOCKS 256      /* resnet depth limit */
#define MAX_WIDTH 4096      /* channels and dense widths */

typedef struct cnn {
    model_exec x;             /* first: the executor reads m->impl as a model_exec */
    model_opts o;
    int resnet;
    ad_img in;              /* one sample */
    int bias;               /* linear layers (and cnn's convolutions) have biases */
    double fan[];           /* (nblocks) init: > 0 U(+-1/sqrt(fan)), 0 ones, -1 zeros */
} cnn;

/* --- graphs: the blocks table is read in theta order, as it was laid out --- */

typedef struct builder {
    ad_graph *g;
    const model *m;
    int k;                  /* next block */
} builder;

/* The next block as a parameter node of (shape[0], rest) */
static int next_param(builder *b)
{
    const model_block *bl = &b->m->blocks[b->k++];
    return ad_param(b->g, bl->offset, bl->shape[0], (int)(bl->size / (size_t)bl->shape[0]));
}

/* Convolution with the next block(s) as weight (and bias); *img becomes the output. */
static int conv(builder *b, int h, ad_img *img, int with_bias, int k, int stride, int pad)
{
    const model_block *w = &b->m->blocks[b->k];
    ad_img in = *img;
    int wn = next_param(b), bn = with_bias ? next_param(b) : -1;
    *img = ad_window_out(in, w->shape[0], k, k, stride, pad);
    return ad_conv2d(b->g, h, in, wn, bn, k, k, stride, pad);
}

static int norm(builder *b, int h, ad_img img)
{
    int gm = next_param(b);
    return ad_groupnorm(b->g, h, img, gm, next_param(b));
}

/* Linear layer with the next block(s); act after it unless it is the last. */
static int dense(builder *b, int h, int with_bias)
{
    h = ad_matmul_t(b->g, h, next_param(b));
    return with_bias ? ad_bias(b->g, h, next_param(b)) : h;
}

static ad_graph *cnn_graph(const model *m, err *e)
{
    const cnn *c = m->impl;
    const model_opts *o = &c->o;
    builder b = {.g = ad_graph_new(c->x.chunk, e), .m = m};
    if (!b.g)
        return NULL;
    ad_graph *g = b.g;
    ad_img img = c->in;
    int h = ad_input(g, m->in_dim);
    if (!c->resnet) {
        for (int l = 0; l < 2; l++) {
            h = ad_act(g, conv(&b, h, &img, c->bias, 5, 1, l == 0 ? 2 : 0), o->act, o->leaky_slope);
            ad_img in = img;
            img = ad_window_out(in, in.c, 2, 2, 2, 0);
            h = ad_maxpool2d(g, h, in, 2, 2, 0);
        }
        for (int l = 0; l < o->nhidden; l++)
            h = ad_act(g, dense(&b, h, c->bias), o->act, o->leaky_slope);
    } else {
        h = ad_act(g, norm(&b, conv(&b, h, &img, 0, 3, 2, 1), img), o->act, o->leaky_slope);
        for (int l = 0; l < o->blocks; l++) {
            int r = ad_act(g, norm(&b, conv(&b, h, &img, 0, 3, 1, 1), img), o->act, o->leaky_slope);
            r = norm(&b, conv(&b, r, &img, 0, 3, 1, 1), img);
            h = ad_act(g, o->skip ? ad_add(g, h, r) : r, o->act, o->leaky_slope);
        }
        h = ad_gap(g, h, img);
    }
    ad_set_features(g, h);
    h = dense(&b, h, c->bias);
    int loss = o->loss == LOSS_MSE ? ad_loss_mse(g, h) : ad_loss_ce(g, h);
    if (ad_graph_plan(g, loss, e)) {
        ad_graph_free(g);
        return NULL;
    }
    return g;
}

/* --- initialization, block by block in theta order from the seed's init stream --- */

static int cnn_init(const model *m, double *theta, uint64_t seed, err *e)
{
    const cnn *c = m->impl;
    gsl_rng *r = rng_stream(seed, RNG_INIT, 0);
    if (!r)
        return err_set(e, ERR_SYS, "init: out of memory");
    for (int k = 0; k < m->nblocks; k++) {
        const model_block *bl = &m->blocks[k];
        double fan = c->fan[k], bound = fan > 0 ? 1 / sqrt(fan) : 0;
        for (size_t i = 0; i < bl->size; i++)
            theta[bl->offset + i] = fan > 0 ? bound * (2 * gsl_rng_uniform(r) - 1) : fan == 0;
    }
    rng_free(r);
    return 0;
}

/* --- layout --- */

typedef struct layout {
    model *m;
    cnn *c;
    int k;
    size_t n;
} layout;

/* Append the block prefix+suffix ("blocks.3.conv1." "weight") of shape s (ndim
 * entries) with init fan-in `fan`. */
static void add_block(layout *L, const char *prefix, const char *suffix, enum block_role role,
                      double fan, int ndim, int s0, int s1, int s2, int s3)
{
    model_block *bl = &L->m->blocks[L->k];
    *bl = (model_block){.offset = L->n, .ndim = ndim, .shape = {s0, s1, s2, s3}, .role = role};
    snprintf(bl->name, sizeof bl->name, "%s%s", prefix, suffix);
    bl->size = 1;
    for (int d = 0; d < ndim; d++)
        bl->size *= (size_t)bl->shape[d];
    L->c->fan[L->k++] = fan;
    L->n += bl->size;
}

/* Conv weight [out, in, k, k] (and bias) under `prefix`. */
static void add_conv(layout *L, const char *prefix, int out, int in, int k, int bias)
{
    double fan = (double)in * k * k;
    add_block(L, prefix, "weight", ROLE_WEIGHT, fan, 4, out, in, k, k);
    if (bias)
        add_block(L, prefix, "bias", ROLE_BIAS, fan, 1, out, 0, 0, 0);
}

static void add_linear(layout *L, const char *prefix, int out, int in, int bias)
{
    add_block(L, prefix, "weight", ROLE_WEIGHT, in, 2, out, in, 0, 0);
    if (bias)
        add_block(L, prefix, "bias", ROLE_BIAS, in, 1, out, 0, 0, 0);
}

/* GroupNorm affine: weight 1, bias 0 */
static void add_norm(layout *L, const char *prefix, int ch)
{
    add_block(L, prefix, "weight", ROLE_NORM, 0, 1, ch, 0, 0, 0);
    add_block(L, prefix, "bias", ROLE_NORM, -1, 1, ch, 0, 0, 0);
}

/* The image of one sample: given, or one square channel. */
static int image_of(const model_opts *o, ad_img *in, err *e)
{
    if (o->in_c || o->in_h || o->in_w) {
        *in = (ad_img){o->in_c, o->in_h, o->in_w};
        if (o->in_c <= 0 || o->in_h <= 0 || o->in_w <= 0
            || (long)o->in_c * o->in_h * o->in_w != o->in_dim)
            return err_set(e, ERR_USAGE, "%s: image %dx%dx%d does not hold the %d input features",
                           o->kind, o->in_c, o->in_h, o->in_w, o->in_dim);
        return 0;
    }
    int s = (int)lround(sqrt((double)o->in_dim));
    if (o->in_dim <= 0 || s * s != o->in_dim)
        return err_set(e, ERR_USAGE, "%s: %d input features are not a square image (the "
                       "convolutional models need image data)", o->kind, o->in_dim);
    *in = (ad_img){1, s, s};
    return 0;
}

static int check_sizes(const model_opts *o, int resnet, ad_img in, err *e)
{
    if (o->out_dim <= 0)
        return err_set(e, ERR_USAGE, "model: output width %d must be positive", o->out_dim);
    if ((unsigned)o->act >= AD_ACT_COUNT)
        return err_set(e, ERR_USAGE, "model: unknown activation %d", (int)o->act);
    if (resnet) {
        if (o->width <= 0 || o->width > MAX_WIDTH || o->blocks < 0 || o->blocks > MAX_BLOCKS)
            return err_set(e, ERR_USAGE, "resnet: width %d must be in 1..%d and blocks %d in 0..%d",
                           o->width, MAX_WIDTH, o->blocks, MAX_BLOCKS);
        if (ad_window_out(in, 1, 3, 3, 2, 1).h <= 0)
            return err_set(e, ERR_USAGE, "resnet: a %dx%d image is too small", in.h, in.w);
        return 0;
    }
    for (int l = 0; l < 2; l++)
        if (o->channels[l] <= 0 || o->channels[l] > MAX_WIDTH)
            return err_set(e, ERR_USAGE, "cnn: channels %d,%d must be in 1..%d", o->channels[0],
                           o->channels[1], MAX_WIDTH);
    if (o->nhidden < 0 || o->nhidden > 16)
        return err_set(e, ERR_USAGE, "cnn: %d hidden layers (at most 16)", o->nhidden);
    for (int l = 0; l < o->nhidden; l++)
        if (o->hidden[l] <= 0 || o->hidden[l] > 1 << 20)
            return err_set(e, ERR_USAGE, "model: hidden width %d is not in 1..%d", o->hidden[l],
                           1 << 20);
    ad_img a = ad_window_out(ad_window_out(in, 1, 2, 2, 2, 0), 1, 5, 5, 1, 0);
    if (a.h <= 0 || ad_window_out(a, 1, 2, 2, 2, 0).h <= 0 || ad_window_out(a, 1, 2, 2, 2, 0).w <= 0)
        return err_set(e, ERR_USAGE, "cnn: a %dx%d image is too small for two 5x5 convolutions "
                       "and 2x2 pools (at least 12x12)", in.h, in.w);
    return 0;
}

static void lay_out(layout *L, const model_opts *o, int resnet, ad_img in)
{
    const cnn *c = L->c;
    char p[40];     /* "blocks.<int>.conv<int>." at most 38 characters */
    if (!resnet) {
        ad_img img = in;
        for (int l = 0; l < 2; l++) {
            snprintf(p, sizeof p, "%d.", 3 * l);
            add_conv(L, p, o->channels[l], img.c, 5, c->bias);
            img = ad_window_out(ad_window_out(img, o->channels[l], 5, 5, 1, l == 0 ? 2 : 0),
                                o->channels[l], 2, 2, 2, 0);
        }
        int width = img.c * img.h * img.w;
        for (int l = 0; l <= o->nhidden; l++) {
            int out = l < o->nhidden ? o->hidden[l] : o->out_dim;
            snprintf(p, sizeof p, "%d.", 7 + 2 * l);
            add_linear(L, p, out, width, c->bias);
            width = out;
        }
        L->m->feat_dim = o->nhidden ? o->hidden[o->nhidden - 1] : img.c * img.h * img.w;
        return;
    }
    int w = o->width;
    add_conv(L, "conv.", w, in.c, 3, 0);
    add_norm(L, "norm.", w);
    for (int l = 0; l < o->blocks; l++)
        for (int j = 1; j <= 2; j++) {
            snprintf(p, sizeof p, "blocks.%d.conv%d.", l, j);
            add_conv(L, p, w, w, 3, 0);
            snprintf(p, sizeof p, "blocks.%d.norm%d.", l, j);
            add_norm(L, p, w);
        }
    add_linear(L, "head.", o->out_dim, w, c->bias);
    L->m->feat_dim = w;
}

int cnn_new(const model_kind *k, const model_opts *o, model **out, err *e)
{
    int resnet = strcmp(k->name, "resnet") == 0, rc;
    ad_img in;
    if ((rc = image_of(o, &in, e)) || (rc = check_sizes(o, resnet, in, e)))
        return rc;
    int nb = resnet ? 3 + 6 * o->blocks + (o->bias ? 2 : 1)
                    : (2 + o->nhidden + 1) * (o->bias ? 2 : 1);
    cnn *c = err_calloc(e, 1, sizeof *c + (size_t)nb * sizeof c->fan[0]);
    model *m = c ? model_alloc(nb, e) : NULL;
    if (!m) {
        free(c);
        return ERR_SYS;
    }
    c->o = *o;
    c->resnet = resnet;
    c->in = in;
    c->bias = o->bias;
    c->x.chunk = o->chunk ? o->chunk : resnet ? 32 : 128;
    c->x.build = cnn_graph;
    c->x.init = cnn_init;
    layout L = {.m = m, .c = c};
    lay_out(&L, o, resnet, in);
    snprintf(m->kind, sizeof m->kind, "%s", resnet ? "resnet" : "cnn");
    m->impl = c;
    m->n = L.n;
    m->in_dim = o->in_dim;
    m->out_dim = o->out_dim;
    if ((rc = model_exec_start(m, e))) {
        model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
