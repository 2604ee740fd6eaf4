/* registry.c -- the model registry (model.h): one row per --model kind. A new model is
 * one file with its constructor and one row here; every list of models (help texts,
 * checks, "did you mean", the options that apply, model_new) reads this table. */
#include <stdio.h>
#include <string.h>

#include "../core/names.h"
#include "impl.h"

/* Options every network takes (besides the data options); each row adds its own. */
#define NET " loss chunk "

const model_kind model_kinds[] = {
    {"logreg", NULL, net_new, NULL, NET "no-bias ", 1, "one Linear layer: (multinomial) "
     "logistic regression"},
    {"mlp", NULL, net_new, NULL, NET "hidden act slope no-bias ", 1,
     "nn.Sequential of Linear layers (--hidden widths) with --act between them"},
    {"cnn", NULL, cnn_new, NULL, NET "channels hidden act slope no-bias ", 1,
     "LeNet-5-like: two 5x5 convolutions (--channels) with max-pooling, then --hidden"},
    {"resnet", NULL, cnn_new, NULL, NET "width blocks skip act slope no-bias ", 1,
     "a stride-2 stem, --blocks residual blocks of --width channels with group norm, a "
     "linear head; --skip off drops the identity paths"},
    {"rosenbrock", NULL, testfn_new, &testfn_rosenbrock, " ", 0,
     "(1-x)^2 + 100 (y-x^2)^2, minimum 0 at (1, 1), start (-1.2, 1)"},
    {"beale", NULL, testfn_new, &testfn_beale, " ", 0,
     "Beale's function, minimum 0 at (3, 0.5), start (1, 1.5)"},
    {"himmelblau", NULL, testfn_new, &testfn_himmelblau, " ", 0,
     "(x^2+y-11)^2 + (x+y^2-7)^2, four minima 0, start (0, 0)"},
    {"rastrigin", NULL, testfn_new, &testfn_rastrigin, " ", 0,
     "Rastrigin's function (A = 10), minimum 0 at (0, 0), start (2.2, -1.7)"},
    {"quadratic", "a,b", testfn_new, &testfn_quadratic, " ", 0,
     "(a x^2 + b y^2)/2, start (1, 1)"},
};
const int model_nkinds = (int)(sizeof model_kinds / sizeof model_kinds[0]);

const model_kind *model_kind_find(const char *kind)
{
    for (int i = 0; kind && i < model_nkinds; i++) {
        const model_kind *k = &model_kinds[i];
        size_t len = strlen(k->name);
        if (!strncmp(kind, k->name, len) && (!kind[len] || (k->args && kind[len] == ':')))
            return k;
    }
    return NULL;
}

void model_kind_list(int data, char *buf, size_t cap)
{
    buf[0] = 0;
    for (int i = 0; i < model_nkinds; i++)
        if (data < 0 || model_kinds[i].data == data)
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s%s%s", buf[0] ? ", " : "",
                     model_kinds[i].name, model_kinds[i].args ? ":" : "",
                     model_kinds[i].args ? model_kinds[i].args : "");
}

int model_kind_check(const char *kind, err *e)
{
    if (!kind || !*kind)
        return err_set(e, ERR_USAGE, "model: no model kind given");
    if (model_kind_find(kind))
        return 0;
    char known[512];
    model_kind_list(-1, known, sizeof known);
    const char *near = names_nearest(kind, &model_kinds[0].name, (size_t)model_nkinds,
                                     sizeof model_kinds[0]);
    return err_set(e, ERR_USAGE, "model: unknown model '%s' (known: %s)%s%s%s", kind, known,
                   near ? "; did you mean " : "", near ? near : "", near ? "?" : "");
}

int model_option_applies(const char *kind, const char *option)
{
    const model_kind *k = model_kind_find(kind);
    char pat[80];
    snprintf(pat, sizeof pat, " %s ", option);
    return k && strstr(k->options, pat) != NULL;
}

int model_new(const model_opts *o, model **out, err *e)
{
    *out = NULL;
    int rc = model_kind_check(o->kind, e);
    if (rc)
        return rc;
    const model_kind *k = model_kind_find(o->kind);
    return k->make(k, o, out, e);
}

int model_fn_info(const char *kind, model_fn *f, err *e)
{
    const model_kind *k = model_kind_find(kind);
    if (!k || k->data)
        return err_set(e, ERR_USAGE, "'%s' is not a 2-D test function", kind ? kind : "");
    return testfn_info(k, kind, f, e);
}
