/* sweep.c -- experiment files to runs: sections and keys, sweep axes, grid expansion
 * in canonical order, canonical configuration text and run ids (exp.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp.h"

/* --- SHA-256 (FIPS 180-4), for run ids: collision-free for all practical purposes,
 * so an id prefix names a configuration as a git hash names a commit. --- */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64], a[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16
             | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(a, h, sizeof a);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = a[7] + (ROR(a[4], 6) ^ ROR(a[4], 11) ^ ROR(a[4], 25))
                    + ((a[4] & a[5]) ^ (~a[4] & a[6])) + K256[i] + w[i];
        uint32_t t2 = (ROR(a[0], 2) ^ ROR(a[0], 13) ^ ROR(a[0], 22))
                    + ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
        memmove(a + 1, a, 7 * sizeof a[0]);
        a[4] += t1;
        a[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        h[i] += a[i];
}

/* hex (65 bytes) = SHA-256 of the string s, lowercase. */
static void sha256_hex(const char *s, char *hex)
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    size_t n = strlen(s), i = 0;
    unsigned char blk[64];
    for (; i + 64 <= n; i += 64)
        sha256_block(h, (const unsigned char *)s + i);
    size_t r = n - i;
    memcpy(blk, s + i, r);
    blk[r++] = 0x80;
    if (r > 56) {
        memset(blk + r, 0, 64 - r);
        sha256_block(h, blk);
        r = 0;
    }
    memset(blk + r, 0, 56 - r);
    uint64_t bits = (uint64_t)n * 8;
    for (int k = 0; k < 8; k++)
        blk[56 + k] = (unsigned char)(bits >> (56 - 8 * k));
    sha256_block(h, blk);
    for (int k = 0; k < 8; k++)
        snprintf(hex + 8 * k, 9, "%08x", h[k]);
}

/* --- sections and keys: the one place that says which key goes where --- */

static const struct section {
    const char *name;
    const char *keys;   /* space-delimited; NULL: every option of basin train not listed
                           elsewhere (optimizer hyperparameters and schedules land here) */
} sections[] = {
    {"experiment", " name description seed threads "},
    {"data", " data samples subset imbalance imbalance-type label-noise scale synth-dim"
             " synth-classes synth-noise test-samples "},
    {"model", " model hidden act slope no-bias loss chunk init channels width blocks skip "},
    {"optim", NULL},
    {"train", " batch epochs steps no-shuffle eval-every checkpoint-every snapshot-every"
              " resources "},
    {"probes", " hessian-every hessian-top trace-every density-every sharpness-every"
               " sharpness-kind sharpness-rho sharpness-adaptive probe-samples probe-tol"
               " collapse-every overlap-top "},
    {"landscape", " "},
    {"plots", " "},    /* dir and plot names (exp.h): checked by exp_plot, not options */
};
#define NSECTIONS (int)(sizeof sections / sizeof sections[0])

/* The option rows experiment files take: basin train's flags and basin run's [probes]. */
#define EXP_CMDS (CMD_TRAIN | CMD_RUN)

enum key_kind { K_UNKNOWN, K_CFG, K_RUNNER, K_META };

static const char *const runner_keys[] = {"eval-every", "checkpoint-every", "snapshot-every",
                                          "resources"};
#define NRUNNER 4

static int listed(const char *keys, const char *key)
{
    char pat[80];
    snprintf(pat, sizeof pat, " %s ", key);
    return keys && strstr(keys, pat) != NULL;
}

/* Which section a key belongs to (-1: none), its kind, and its place in the canonical
 * order (cfg table index; runner keys after). */
static int classify(const char *key, enum key_kind *kind, int *order)
{
    *kind = K_UNKNOWN;
    *order = 1 << 20;
    if (strcmp(key, "name") == 0 || strcmp(key, "description") == 0)
        *kind = K_META;
    for (int k = 0; k < NRUNNER; k++)
        if (strcmp(key, runner_keys[k]) == 0) {
            *kind = K_RUNNER;
            *order = 1000 + k;
        }
    int cmds, takes;
    const char *n;
    for (int i = 0; *kind == K_UNKNOWN && (n = cfg_option(i, &cmds, &takes)); i++) {
        char buf[256];
        cfg c;
        if (strcmp(n, key) != 0 || !(cmds & EXP_CMDS))
            continue;
        cfg_default(&c);
        if (cfg_get(&c, EXP_CMDS, key, buf, sizeof buf) == 0 || strcmp(key, "threads") == 0) {
            *kind = K_CFG;
            *order = i;
        }
    }
    if (*kind == K_UNKNOWN)
        return -1;
    for (int s = 0; s < NSECTIONS; s++)
        if (listed(sections[s].keys, key))
            return s;
    for (int s = 0; s < NSECTIONS; s++)
        if (!sections[s].keys)
            return *kind == K_CFG ? s : -1;
    return -1;
}

static int section_index(const char *name)
{
    for (int s = 0; s < NSECTIONS; s++)
        if (strcmp(sections[s].name, name) == 0)
            return s;
    return -1;
}

/* A cfg message ("--lr: 'x' is not a number") for a file: the dashes dropped. */
static int file_err(err *e, const ini *f, int line, const char *msg)
{
    char m[sizeof e->msg];
    size_t k = 0;
    for (const char *p = msg; *p && k + 1 < sizeof m; p++) {
        if (p[0] == '-' && p[1] == '-' && (p == msg || p[-1] == ' ' || p[-1] == '('))
            p++;
        else
            m[k++] = *p;
    }
    m[k] = 0;
    if (!line)   /* an entry of --set */
        return err_set(e, e && e->code ? e->code : ERR_USAGE, "%s: --set %s", f->path, m);
    return err_set(e, e && e->code ? e->code : ERR_USAGE, "%s:%d: %s", f->path, line, m);
}

/* --- sweep values --- */

typedef struct axis {
    int entry;      /* index in the ini */
    int order;
    int n;
    char **items;   /* (n) */
} axis;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Split the sweep `{...}` of entry v into items stored in *arena; body (strlen(v->value)
 * - 1 bytes, the heap's: a value may be megabytes) is the caller's scratch. */
static int split_body(const ini *f, const ini_entry *v, char *body, char **arena,
                      size_t *used, axis *a, err *e)
{
    const char *s = v->value;
    size_t len = strlen(s);
    memcpy(body, s + 1, len - 2);
    body[len - 2] = 0;
    long lo, hi;
    char tail;
    /* {FIRST..LAST}: one item, starting as a number does ({csv:../a.csv} is a value) */
    size_t lead = strspn(body, " \t");
    int range = !strpbrk(body, ",;") && strstr(body, "..")
                && strchr("+-0123456789", body[lead]) && body[lead];
    a->n = 0;
    if (range) {
        if (sscanf(body, " %ld .. %ld %c", &lo, &hi, &tail) != 2 || hi < lo)
            return err_set(e, ERR_USAGE, "%s:%d: %s: bad range '%s' (want {FIRST..LAST} with "
                           "whole numbers, FIRST <= LAST)", f->path, v->line, v->key, s);
        if ((unsigned long)hi - (unsigned long)lo >= EXP_MAX_RUNS)
            return err_set(e, ERR_USAGE, "%s:%d: %s: range '%s' is longer than a sweep may be "
                           "(%d runs)", f->path, v->line, v->key, s, EXP_MAX_RUNS);
        a->n = (int)(hi - lo + 1);
    }
    char sep = strchr(body, ';') ? ';' : ',';
    if (!a->n) {
        size_t items = 1;
        for (char *p = body; *p; p++)
            items += *p == sep;
        if (items > EXP_MAX_RUNS)
            return err_set(e, ERR_USAGE, "%s:%d: %s: the sweep has %zu values; at most %d",
                           f->path, v->line, v->key, items, EXP_MAX_RUNS);
        a->n = (int)items;
    }
    a->items = calloc((size_t)a->n, sizeof *a->items);
    size_t need = *used + len + 24 * (size_t)a->n + 1;
    char *grown = realloc(*arena, need);
    if (!a->items || !grown)
        return err_set(e, ERR_SYS, "out of memory");
    *arena = grown;
    /* items are offsets into the arena until the whole plan is read (it may move) */
    char *tok = body;
    for (int k = 0; k < a->n; k++) {
        char *out = *arena + *used;
        if (range)
            snprintf(out, 24, "%ld", lo + k);
        else {
            char *end = strchr(tok, sep);
            if (end)
                *end = 0;
            while (*tok == ' ' || *tok == '\t')
                tok++;
            size_t l = strlen(tok);
            while (l && (tok[l - 1] == ' ' || tok[l - 1] == '\t'))
                l--;
            if (!l)
                return err_set(e, ERR_USAGE, "%s:%d: %s: empty item in sweep '%s'", f->path,
                               v->line, v->key, s);
            memcpy(out, tok, l);
            out[l] = 0;
            tok = end ? end + 1 : tok + strlen(tok);
        }
        a->items[k] = (char *)(uintptr_t)*used;
        *used += strlen(out) + 1;
    }
    if (range)
        return 0; /* a range has no repeats */
    /* repeats by sorting a copy (a list may hold tens of thousands of items) */
    const char **sorted = malloc((size_t)a->n * sizeof *sorted);
    if (!sorted)
        return err_set(e, ERR_SYS, "out of memory");
    for (int k = 0; k < a->n; k++)
        sorted[k] = *arena + (uintptr_t)a->items[k];
    qsort(sorted, (size_t)a->n, sizeof *sorted, cmp_str);
    for (int k = 1; k < a->n; k++)
        if (strcmp(sorted[k - 1], sorted[k]) == 0) {
            int rc = err_set(e, ERR_USAGE, "%s:%d: %s: '%s' appears twice in the sweep",
                             f->path, v->line, v->key, sorted[k]);
            free(sorted);
            return rc;
        }
    free(sorted);
    return 0;
}

static int split_items(const ini *f, const ini_entry *v, char **arena, size_t *used,
                       axis *a, err *e)
{
    char *body = malloc(strlen(v->value));
    if (!body)
        return err_set(e, ERR_SYS, "out of memory");
    int rc = split_body(f, v, body, arena, used, a, e);
    free(body);
    return rc;
}

static int cmp_axis(const void *a, const void *b)
{
    const axis *x = a, *y = b;
    return x->order != y->order ? (x->order < y->order ? -1 : 1) : x->entry - y->entry;
}

static int boolean(const char *v, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int k = 0; k < 4; k++) {
        if (strcmp(v, yes[k]) == 0)
            return *out = 1, 0;
        if (strcmp(v, no[k]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

/* Apply entry `v` with value `val` to run r. */
static int apply(const ini *f, const ini_entry *v, const char *val, exp_run *r, err *e)
{
    enum key_kind kind;
    int order, cmds = 0, takes = 1;
    classify(v->key, &kind, &order);
    if (kind == K_RUNNER && strcmp(v->key, "resources") == 0) {
        if (boolean(val, &r->x.resources))
            return err_set(e, ERR_USAGE, "%s:%d: %s: '%s' is not true or false", f->path,
                           v->line, v->key, val);
        return 0;
    }
    if (kind == K_RUNNER) {
        char *end;
        errno = 0;
        long n = strtol(val, &end, 10);
        if (*end || errno || n < 0 || end == val)
            return err_set(e, ERR_USAGE, "%s:%d: %s: '%s' is not a whole number >= 0", f->path,
                           v->line, v->key, val);
        long *dst[NRUNNER] = {&r->x.eval_every, &r->x.checkpoint_every, &r->x.snapshot_every,
                              NULL};
        for (int k = 0; k < NRUNNER; k++)
            if (dst[k] && strcmp(v->key, runner_keys[k]) == 0)
                *dst[k] = n;
        return 0;
    }
    if (kind != K_CFG)
        return 0;
    const char *n;
    for (int i = 0; (n = cfg_option(i, &cmds, &takes)); i++)
        if ((cmds & EXP_CMDS) && strcmp(n, v->key) == 0)
            break;
    int rc, on = 1;
    if (!takes) {
        if (boolean(val, &on))
            return err_set(e, ERR_USAGE, "%s:%d: %s: '%s' is not true or false", f->path,
                           v->line, v->key, val);
        rc = on ? cfg_set(&r->c, EXP_CMDS, v->key, NULL, e) : 0;
    } else {
        rc = cfg_set(&r->c, EXP_CMDS, v->key, val, e);
    }
    return rc ? file_err(e, f, v->line, e->msg) : 0;
}

/* A growing "key = value\n" text and, optionally, the (key, value) pairs. */
typedef struct canon {
    char *t;
    size_t len, cap;
} canon;

static int canon_add(canon *c, const char *key, const char *val, err *e)
{
    size_t need = strlen(key) + strlen(val) + 5;
    if (c->len + need >= c->cap) {
        char *g = realloc(c->t, c->cap = 2 * c->cap + need);
        if (!g)
            return err_set(e, ERR_SYS, "out of memory");
        c->t = g;
    }
    c->len += (size_t)snprintf(c->t + c->len, c->cap - c->len, "%s = %s\n", key, val);
    return 0;
}

/* Keys added after runs were stored: written only when not at their default, so the
 * ids of the runs without them stay as they were. */
static int omitted_at_default(const char *key, const char *val)
{
    return (!strcmp(key, "collapse-every") || !strcmp(key, "overlap-top")) && !strcmp(val, "0");
}

/* The canonical configuration of r (without the seed line when !with_seed): every
 * option of basin train that has a canonical form, in table order, then eval-every
 * and snapshot-every (and resources when on). Into *out, exactly as long as it is. */
static int canon_text(exp_run *r, int with_seed, char **out, err *e)
{
    canon c = {.t = malloc(4096), .cap = 4096};
    int cmds, takes, rc = 0;
    if (!c.t)
        return err_set(e, ERR_SYS, "out of memory");
    c.t[0] = 0;
    const char *n;
    char buf[1024];
    for (int i = 0; !rc && (n = cfg_option(i, &cmds, &takes)); i++)
        if ((cmds & EXP_CMDS) && cfg_get_row(&r->c, i, buf, sizeof buf) == 0
            && (with_seed || strcmp(n, "seed") != 0) && !omitted_at_default(n, buf))
            rc = canon_add(&c, n, buf, e);
    snprintf(buf, sizeof buf, "%ld", r->x.eval_every);
    rc = rc ? rc : canon_add(&c, "eval-every", buf, e);
    snprintf(buf, sizeof buf, "%ld", r->x.snapshot_every);
    rc = rc ? rc : canon_add(&c, "snapshot-every", buf, e);
    if (r->x.resources)   /* only when on: the ids of runs without it stay as they were */
        rc = rc ? rc : canon_add(&c, "resources", "true", e);
    char *fit = rc ? NULL : realloc(c.t, c.len + 1);
    if (!rc && !fit)
        rc = err_set(e, ERR_SYS, "out of memory");
    if (rc)
        free(c.t);
    else
        *out = fit;
    return rc;
}

/* r's (key, value) pairs for the params table: its canonical text cut into lines
 * "key = value" in one copy, r->keys and r->vals pointing into it. */
static int canon_params(exp_run *r, err *e)
{
    int lines = 0;
    for (const char *q = r->canon; *q; q++)
        lines += *q == '\n';
    r->pbuf = strdup(r->canon);
    r->keys = malloc(((size_t)lines + 1) * sizeof *r->keys);
    r->vals = malloc(((size_t)lines + 1) * sizeof *r->vals);
    if (!r->pbuf || !r->keys || !r->vals)
        return err_set(e, ERR_SYS, "out of memory");
    r->nparams = 0;
    for (char *q = r->pbuf, *nl; (nl = strchr(q, '\n')); q = nl + 1) {
        char *eq = strstr(q, " = ");   /* keys hold no blanks: the first " = " ends one */
        *nl = 0;
        *eq = 0;
        r->keys[r->nparams] = q;
        r->vals[r->nparams++] = eq + 3;
    }
    return 0;
}

/* Resolve grid point `ix` (one item index per axis) into r. */
static int resolve(exp_plan *p, const axis *ax, int nax, const int *ix, exp_run *r, err *e)
{
    const ini *f = &p->file;
    cfg_default(&r->c);
    r->x = (exp_opts){0};
    int epochs_line = 0, steps_line = 0, rc = 0;
    for (size_t i = 0; !rc && i < f->n; i++) {
        const ini_entry *v = &f->v[i];
        const char *val = v->value;
        for (int a = 0; a < nax; a++)
            if (ax[a].entry == (int)i)
                val = ax[a].items[ix[a]];
        if (!strcmp(v->section, "plots"))   /* drawn after the runs, not configuration */
            continue;
        rc = apply(f, v, val, r, e);
        if (strcmp(v->key, "epochs") == 0)
            epochs_line = v->line ? v->line : -1;   /* 0: a --set */
        if (strcmp(v->key, "steps") == 0)
            steps_line = v->line ? v->line : -1;
    }
    if (rc)
        return rc;
    if (epochs_line && steps_line)
        return err_set(e, ERR_USAGE, "%s:%d: steps conflicts with epochs (line %d): give one",
                       f->path, steps_line, epochs_line);
    if (!epochs_line && !steps_line)
        return err_set(e, ERR_USAGE, "%s: [train] needs epochs or steps", f->path);
    if (opt_names_check(r->c.optim, r->c.hp.base, e))   /* e.g. a base under mezo */
        return err_wrap(e, "%s", f->path);
    char lab[1024] = "";
    for (int a = 0; a < nax; a++)
        snprintf(lab + strlen(lab), sizeof lab - strlen(lab), "%s%s=%s", a ? " " : "",
                 f->v[ax[a].entry].key, ax[a].items[ix[a]]);
    char *nos = NULL;
    if (!(r->label = strdup(lab)))
        return err_set(e, ERR_SYS, "out of memory");
    rc = canon_text(r, 1, &r->canon, e);
    rc = rc ? rc : canon_params(r, e);
    rc = rc ? rc : canon_text(r, 0, &nos, e);
    if (!rc) {
        sha256_hex(r->canon, r->id);
        sha256_hex(nos, r->grp);
    }
    free(nos);
    return rc;
}

/* Whether `s` (an experiment or a [plots] name) may be part of a figure's file name,
 * DIR/EXPERIMENT-PLOT.png, without leaving DIR or hiding the file: 0 when it may, else -1
 * with what is wrong in why ("holds a '/'", ...; the name itself only where it prints). */
static int file_part(const char *s, char *why, size_t cap)
{
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return snprintf(why, cap, "holds the control character 0x%02x", (unsigned char)*c),
                   -1;
    if (strchr(s, '/'))
        return snprintf(why, cap, "'%s' holds a '/'", s), -1;
    if (s[0] == '.')
        return snprintf(why, cap, "'%s' starts with '.'", s), -1;
    return 0;
}

/* Check every entry's section and key; collect the axes. */
static int check_entries(exp_plan *p, axis *ax, int *nax, err *e)
{
    const ini *f = &p->file;
    size_t used = 0;
    *nax = 0;
    for (size_t i = 0; i < f->nsec; i++)
        if (section_index(f->sec[i].name) < 0) {
            char all[256] = "";
            for (int k = 0; k < NSECTIONS; k++)
                snprintf(all + strlen(all), sizeof all - strlen(all), " [%s]", sections[k].name);
            return err_set(e, ERR_USAGE, "%s:%d: unknown section [%s] (sections:%s)", f->path,
                           f->sec[i].line, f->sec[i].name, all);
        }
    for (size_t i = 0; i < f->n; i++) {
        const ini_entry *v = &f->v[i];
        int s = section_index(v->section);
        char why[300];
        if (!strcmp(v->section, "plots")) {
            if (strcmp(v->key, "dir") && file_part(v->key, why, sizeof why))
                return err_set(e, ERR_USAGE, "%s:%d: [plots]: the plot name %s (figures are "
                               "DIR/EXPERIMENT-NAME.png)", f->path, v->line, why);
            if (strcmp(v->key, "dir") && exp_plot(v->value, "x", "x.db", "x.png", 1, e))
                return err_wrap(e, "%s:%d: [plots] %s", f->path, v->line, v->key);
            continue;
        }
        enum key_kind kind;
        int order, home = classify(v->key, &kind, &order);
        if (kind == K_UNKNOWN) {
            cfg c;
            cfg_default(&c);
            err e2 = {0};
            cfg_set(&c, EXP_CMDS, v->key, "0", &e2);
            if (strstr(e2.msg, "did you mean"))
                return file_err(e, f, v->line, e2.msg);
            return err_set(e, ERR_USAGE, "%s:%d: unknown key '%s' in [%s] (see the sections "
                           "in experiments/exp.h and `basin train --help`)", f->path, v->line,
                           v->key, v->section);
        }
        if (home != s)
            return err_set(e, ERR_USAGE, "%s:%d: %s belongs in [%s], not [%s]", f->path,
                           v->line, v->key, home >= 0 ? sections[home].name : "?", v->section);
        size_t len = strlen(v->value);
        if (v->value[0] == '{' || v->value[len - 1] == '}') {
            if (len < 3 || v->value[0] != '{' || v->value[len - 1] != '}')
                return err_set(e, ERR_USAGE, "%s:%d: %s: a sweep is '{a, b, c}' or "
                               "'{1..5}', got '%s'", f->path, v->line, v->key, v->value);
            if (kind == K_META)
                return err_set(e, ERR_USAGE, "%s:%d: %s cannot be swept", f->path, v->line,
                               v->key);
            ax[*nax] = (axis){.entry = (int)i, .order = strcmp(v->key, "seed") ? order : 1 << 21};
            int rc = split_items(f, v, &p->items, &used, &ax[*nax], e);
            (*nax)++;
            if (rc)
                return rc;
        }
        if (strcmp(v->key, "name") == 0 && file_part(v->value, why, sizeof why)) {
            if (!v->line)
                return err_set(e, ERR_USAGE, "%s: --set name: the experiment name %s (figures "
                               "are DIR/NAME-PLOT.png)", f->path, why);
            return err_set(e, ERR_USAGE, "%s:%d: the experiment name %s (figures are "
                           "DIR/NAME-PLOT.png)", f->path, v->line, why);
        }
        if (strcmp(v->key, "name") == 0)
            p->name = v->value;
    }
    for (int a = 0; a < *nax; a++)   /* offsets to pointers, now that the arena is final */
        for (int k = 0; k < ax[a].n; k++)
            ax[a].items[k] = p->items + (uintptr_t)ax[a].items[k];
    if (!p->name)
        return err_set(e, ERR_USAGE, "%s: [experiment] needs a name", f->path);
    qsort(ax, (size_t)*nax, sizeof *ax, cmp_axis);
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp((*(const exp_run *const *)a)->id, (*(const exp_run *const *)b)->id);
}

/* Two grid points with one configuration (`lr = {0.1, 0.10}`) would be one run. */
static int distinct(const exp_plan *p, err *e)
{
    const exp_run **v = malloc(p->n * sizeof *v);
    if (!v)
        return err_set(e, ERR_SYS, "out of memory");
    for (size_t r = 0; r < p->n; r++)
        v[r] = &p->runs[r];
    qsort(v, p->n, sizeof *v, cmp_id);
    int rc = 0;
    for (size_t r = 1; !rc && r < p->n; r++)
        if (strcmp(v[r - 1]->id, v[r]->id) == 0)
            rc = err_set(e, ERR_USAGE, "%s: runs '%s' and '%s' have the same configuration "
                         "(id %.12s)", p->file.path, v[r - 1]->label, v[r]->label, v[r]->id);
    free(v);
    return rc;
}

/* --set KEY=VALUE overrides (exp.h): each replaces the value of KEY's entry, or adds an
 * entry to KEY's section; steps replaces epochs and epochs steps. The strings live in
 * p->sets; the stored file text gets one "; basin run --set KEY=VALUE" line each. */
static int apply_sets(exp_plan *p, const char *const *sets, int nsets, err *e)
{
    ini *f = &p->file;
    size_t need = 0;
    for (int i = 0; i < nsets; i++)
        need += strlen(sets[i]) + 2;
    ini_entry *v = realloc(f->v, (f->n + (size_t)nsets + 1) * sizeof *v);
    if (v)
        f->v = v;
    char *text = v ? realloc(f->text, strlen(f->text) + need + 32 * (size_t)nsets + 2) : NULL;
    if (text)
        f->text = text;
    if (!v || !text || !(p->sets = malloc(need + 1)))
        return err_set(e, ERR_SYS, "out of memory");
    char *arena = p->sets;
    for (int i = 0; i < nsets; i++) {
        const char *eq = strchr(sets[i], '=');
        char *key = arena, *val;
        if (!eq)
            return err_set(e, ERR_USAGE, "--set '%s': want KEY=VALUE", sets[i]);
        size_t kl = (size_t)(eq - sets[i]);
        while (kl && (sets[i][kl - 1] == ' ' || sets[i][kl - 1] == '\t'))
            kl--;
        const char *ks = sets[i];
        while (*ks == ' ' || *ks == '\t')
            ks++, kl--;
        memcpy(key, ks, kl);
        key[kl] = 0;
        for (char *c = key; *c; c++)
            if (*c == '_')
                *c = '-';
        val = key + kl + 1;
        const char *vs = eq + 1;
        while (*vs == ' ' || *vs == '\t')
            vs++;
        size_t vl = strlen(vs);
        while (vl && (vs[vl - 1] == ' ' || vs[vl - 1] == '\t'))
            vl--;
        memcpy(val, vs, vl);
        val[vl] = 0;
        arena = val + vl + 1;
        if (!*key || !*val)
            return err_set(e, ERR_USAGE, "--set '%s': want KEY=VALUE, both non-empty", sets[i]);
        enum key_kind kind;
        int order, home = classify(key, &kind, &order);
        if (kind == K_UNKNOWN || home < 0) {
            cfg c;
            cfg_default(&c);
            err e2 = {0};
            cfg_set(&c, EXP_CMDS, key, "0", &e2);
            if (strstr(e2.msg, "did you mean"))
                return err_set(e, ERR_USAGE, "--set: %s", e2.msg);
            return err_set(e, ERR_USAGE, "--set: unknown key '%s' (see basin train --help and "
                           "basin run --help)", key);
        }
        const char *other = !strcmp(key, "steps") ? "epochs" : !strcmp(key, "epochs") ? "steps" : NULL;
        size_t j = 0;
        long found = -1;
        for (size_t k = 0; k < f->n; k++) {   /* drop the conflicting length key */
            if (other && !strcmp(f->v[k].key, other))
                continue;
            f->v[j] = f->v[k];
            if (!strcmp(f->v[j].key, key))
                found = (long)j;
            j++;
        }
        f->n = j;
        if (found < 0)
            f->v[f->n++] = (ini_entry){sections[home].name, key, val, 0};
        else {
            f->v[found].value = val;
            f->v[found].line = 0;
        }
        size_t tl = strlen(f->text);
        sprintf(f->text + tl, "%s; basin run --set %s=%s\n",
                tl && f->text[tl - 1] != '\n' ? "\n" : "", key, val);
    }
    return 0;
}

int exp_plan_load(const char *path, exp_plan *p, err *e)
{
    return exp_plan_load_set(path, NULL, 0, p, e);
}

int exp_plan_load_set(const char *path, const char *const *sets, int nsets, exp_plan *p, err *e)
{
    memset(p, 0, sizeof *p);
    int rc = ini_read(path, &p->file, e);
    if (rc)
        return rc;
    if (nsets && (rc = apply_sets(p, sets, nsets, e))) {
        exp_plan_free(p);
        return rc;
    }
    int nax = 0;
    axis *ax = calloc(p->file.n + 1, sizeof *ax);
    if (!ax) {
        exp_plan_free(p);
        return err_set(e, ERR_SYS, "out of memory");
    }
    rc = check_entries(p, ax, &nax, e);
    double total = 1;
    for (int a = 0; a < nax; a++)
        total *= ax[a].n;
    if (!rc && total > EXP_MAX_RUNS)
        rc = err_set(e, ERR_USAGE, "%s: the sweep has %.0f runs; at most %d (split it over "
                     "several files)", path, total, EXP_MAX_RUNS);
    if (!rc && !(p->runs = calloc((size_t)total, sizeof *p->runs)))
        rc = err_set(e, ERR_SYS, "out of memory");
    int ix[64] = {0};
    if (!rc && nax > 64)
        rc = err_set(e, ERR_USAGE, "%s: more than 64 sweep axes", path);
    for (size_t r = 0; !rc && r < (size_t)total; r++) {
        rc = resolve(p, ax, nax, ix, &p->runs[r], e);
        p->n = r + 1;
        for (int a = nax - 1; a >= 0 && ++ix[a] == ax[a].n; a--)   /* last axis fastest */
            ix[a] = 0;
    }
    rc = rc ? rc : distinct(p, e);
    for (int a = 0; a < nax; a++)
        free(ax[a].items);
    free(ax);
    if (rc)
        exp_plan_free(p);
    return rc;
}

void exp_plan_free(exp_plan *p)
{
    for (size_t r = 0; r < p->n; r++) {
        exp_run *x = &p->runs[r];
        free(x->pbuf);
        free(x->keys);
        free(x->vals);
        free(x->canon);
        free(x->label);
    }
    free(p->runs);
    free(p->items);
    free(p->sets);
    ini_free(&p->file);
    memset(p, 0, sizeof *p);
}
