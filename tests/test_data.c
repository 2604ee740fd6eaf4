/* test_data.c -- checks of .npy I/O (core/npy.c) and datasets (models/data.c).
 *
 * Oracles: .npy fixtures written by NumPy 1.24 (tests/data/, run from the repository
 * root); bit-identical round trips; small IDX and CSV files written here into a
 * mkdtemp directory, malformed on purpose; Fashion-MNIST's published sizes (60000 /
 * 10000 images of 28x28, 10 classes); counts computed by hand for imbalance and label
 * noise; standardization statistics recomputed here from unscaled data. */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "../core/npy.h"
#include "../models/data.h"

#define FIX "tests/data/"

static char tmpdir[] = "/tmp/basin-test-data-XXXXXX";

/* tmpdir/name, in one of a few rotating static buffers. */
static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int write_file(const char *path, const void *p, size_t len, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        int ok = f && gzwrite(f, p, (unsigned)len) == (int)len;
        return (f && gzclose(f) == Z_OK && ok) ? 0 : -1;
    }
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(p, 1, len, f) == len;
    return (f && !fclose(f) && ok) ? 0 : -1;
}

static int write_text(const char *path, const char *s)
{
    return write_file(path, s, strlen(s), 0);
}

/* The whole file at path (malloc'ed) and its length; NULL on failure. */
static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *p = NULL;
    long n;
    if (f && !fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET)
        && (p = malloc((size_t)n + 1)) && fread(p, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
        p[n] = '\0';
    } else {
        free(p);
        p = NULL;
    }
    if (f)
        fclose(f);
    return p;
}

static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *ent;
    char sub[1024];
    while (d && (ent = readdir(d))) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, ent->d_name);
        struct stat st;
        if (!lstat(sub, &st) && S_ISDIR(st.st_mode))
            rm_tree(sub);
        else
            unlink(sub);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

/* A deterministic pseudo-random byte stream (so gzip cannot squeeze it away). */
static unsigned char noise_byte(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (unsigned char)(*s >> 16);
}

/* ---- npy -------------------------------------------------------------------------- */

/* Expect npy_read(path) to fail with ERR_DATA, a message containing `want` and the
 * file name, and *out == NULL. */
static void npy_reject(const char *name, const char *path, const char *want)
{
    double *x = (double *)1;
    size_t n = 99;
    err e = { 0 };
    int rc = npy_read(path, &x, &n, &e);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    CHECK(rc == ERR_DATA && strstr(e.msg, want) && strstr(e.msg, base) && !x && !n, name,
          "rc %d, message '%s' (want '%s')", rc, e.msg, want);
}

static void test_npy(void)
{
    enum { N = 1000 };
    static double x[N];
    unsigned s = 7;
    for (int i = 0; i < N; i++)
        x[i] = (noise_byte(&s) - 128.0) * exp((noise_byte(&s) - 128) / 8.0);
    x[0] = -0.0, x[1] = INFINITY, x[2] = NAN, x[3] = DBL_MIN / 3, x[4] = DBL_MAX;
    err e = { 0 };
    const char *p = tpath("theta.npy");
    int rc = npy_write(p, x, N, &e);
    double *y = NULL;
    size_t n = 0, len = 0;
    if (!rc)
        rc = npy_read(p, &y, &n, &e);
    CHECK(!rc && n == N && !memcmp(x, y, sizeof x), "npy round trip is bit-identical",
          "rc %d (%s), n %zu", rc, e.msg, n);
    free(y);
    unsigned char *raw = read_all(p, &len);
    CHECK(raw && len == 128 + sizeof x && raw[6] == 1 && raw[127] == '\n'
              && strstr((char *)raw + 10, "'shape': (1000,)"),
          "npy writes a 1.0 header padded to 64 bytes", "length %zu", len);
    free(raw);
    static double z[N];
    rc = npy_read_exact(p, z, N, &e);
    CHECK(!rc && !memcmp(x, z, sizeof x), "npy_read_exact reads a matching file", "%s", e.msg);
    rc = npy_read_exact(p, z, 999, &e);
    CHECK(rc == ERR_DATA && strstr(e.msg, "1000") && strstr(e.msg, "999"),
          "npy_read_exact names both lengths on a mismatch", "rc %d: %s", rc, e.msg);

    rc = npy_write(tpath("empty.npy"), x, 0, &e);
    y = NULL;
    if (!rc)
        rc = npy_read(tpath("empty.npy"), &y, &n, &e);
    CHECK(!rc && n == 0, "npy round trip of an empty array", "rc %d: %s", rc, e.msg);
    free(y);
    rc = npy_write(tpath("no/such/dir/x.npy"), x, N, &e);
    CHECK(rc == ERR_SYS && access(tpath("no/such/dir/x.npy"), F_OK),
          "npy_write into a missing directory is ERR_SYS", "rc %d: %s", rc, e.msg);
    DIR *d = opendir(tmpdir);
    struct dirent *ent;
    int stray = 0;
    while (d && (ent = readdir(d)))
        stray += strstr(ent->d_name, ".tmp") != NULL;
    if (d)
        closedir(d);
    CHECK(d && !stray, "npy_write leaves no temporary files", "%d left", stray);

    /* NumPy's own files: 2-D (flattened), versions 2.0 and 3.0, a 0-d scalar. */
    static const struct { const char *file; size_t n; double v[6]; } good[] = {
        { FIX "f8_2x3.npy", 6, { -2, -0.5, 1, 2.5, 4, 5.5 } },
        { FIX "f8_v2.npy", 3, { 1, -2, 3.5 } },
        { FIX "f8_v3.npy", 2, { 0.25, -0.5 } },
        { FIX "f8_scalar.npy", 1, { 7.25 } },
    };
    for (size_t k = 0; k < sizeof good / sizeof *good; k++) {
        char name[128];
        snprintf(name, sizeof name, "npy reads NumPy's %s", good[k].file + strlen(FIX));
        y = NULL;
        rc = npy_read(good[k].file, &y, &n, &e);
        CHECK(!rc && n == good[k].n && !memcmp(y, good[k].v, n * sizeof *y), name,
              "rc %d (%s), n %zu", rc, e.msg, n);
        free(y);
    }

    npy_reject("npy rejects float32", FIX "f4.npy", "'<f4' is not supported");
    npy_reject("npy rejects big-endian float64", FIX "f8_be.npy", "'>f8'");
    npy_reject("npy rejects Fortran order", FIX "f8_fortran.npy", "fortran_order");
    npy_reject("npy rejects a missing file", tpath("missing.npy"), "cannot open");
    raw = read_all(FIX "f8_2x3.npy", &len);
    if (!raw) {
        CHECK(0, "npy fixture f8_2x3.npy readable", "run from the repository root");
        return;
    }
    write_file(tpath("short.npy"), raw, len - 12, 0);
    npy_reject("npy rejects truncated data", tpath("short.npy"),
               "truncated: header says 6 elements, file holds 4");
    write_file(tpath("shorthead.npy"), raw, 40, 0);
    npy_reject("npy rejects a truncated header", tpath("shorthead.npy"), "truncated header");
    raw[1] = 'X';
    write_file(tpath("magic.npy"), raw, len, 0);
    npy_reject("npy rejects a bad magic", tpath("magic.npy"), "bad magic");
    raw[1] = 'N';
    char *key = strstr((char *)raw + 10, "shape");
    key[4] = 'x';
    write_file(tpath("dict.npy"), raw, len, 0);
    npy_reject("npy rejects an unknown header key", tpath("dict.npy"), "malformed");
    key[4] = 'e';
    key[9] = '-'; /* "(2, 3)" -> "(-, 3)" */
    write_file(tpath("shape.npy"), raw, len, 0);
    npy_reject("npy rejects a bad shape", tpath("shape.npy"), "malformed");
    free(raw);
}

/* ---- IDX ------------------------------------------------------------------------- */

/* Write DIR/PRE-images-idx3-ubyte[.gz] (n images of rows x cols noise bytes, seeded by
 * n) and DIR/PRE-labels-idx1-ubyte[.gz] (nl labels i % 4) with image magic `magic`. */
static void write_idx(const char *dir, const char *pre, unsigned n, unsigned nl, unsigned rows,
                      unsigned cols, unsigned magic, int gz)
{
    size_t len = 16 + (size_t)n * rows * cols;
    unsigned char *b = malloc(len > 8 + nl ? len : 8 + nl);
    unsigned hdr[4] = { magic, n, rows, cols }, s = n;
    char path[512];
    for (int i = 0; i < 16; i++)
        b[i] = (unsigned char)(hdr[i / 4] >> (24 - 8 * (i % 4)));
    for (size_t i = 16; i < len; i++)
        b[i] = noise_byte(&s);
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir, pre, gz ? ".gz" : "");
    write_file(path, b, len, gz);
    unsigned lh[2] = { 0x801, nl };
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(lh[i / 4] >> (24 - 8 * (i % 4)));
    for (unsigned i = 0; i < nl; i++)
        b[8 + i] = (unsigned char)(i % 4);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, pre, gz ? ".gz" : "");
    write_file(path, b, 8 + nl, gz);
    free(b);
}

static int load(data_opts *o, data **d, err *e)
{
    *d = NULL;
    return data_load(o, d, e);
}

/* Expect data_load(o) to fail with `code` and a message containing want1 and want2. */
static void load_reject(const char *name, data_opts *o, int code, const char *want1,
                        const char *want2)
{
    data *d = (data *)1;
    err e = { 0 };
    int rc = data_load(o, &d, &e);
    CHECK(rc == code && !d && strstr(e.msg, want1) && strstr(e.msg, want2), name,
          "rc %d (want %d), message '%s' (want '%s', '%s')", rc, code, e.msg, want1, want2);
}

static void test_idx(void)
{
    char spec[3][600];
    data_opts o;
    data *d = NULL, *r = NULL;
    err e = { 0 };
    const char *names[3] = { "idxgz", "idxraw", "idxbad" };
    for (int k = 0; k < 3; k++) {
        snprintf(spec[k], sizeof spec[k], "idx:%s/%s", tmpdir, names[k]);
        mkdir(spec[k] + 4, 0700);
    }
    write_idx(tpath("idxgz"), "train", 5, 5, 3, 4, 0x803, 1);
    write_idx(tpath("idxgz"), "t10k", 3, 3, 3, 4, 0x803, 1);
    write_idx(tpath("idxraw"), "train", 5, 5, 3, 4, 0x803, 0);

    data_opts_default(&o);
    o.spec = spec[0];
    int rc = load(&o, &d, &e);
    CHECK(!rc && d->n == 5 && d->d == 12 && d->c == 1 && d->h == 3 && d->w == 4
              && d->classes == 4 && d->y[4] == 0 && d->y[3] == 3 && !d->t,
          "idx reads gzipped files", "rc %d: %s", rc, e.msg);
    o.spec = spec[1];
    o.scale = DATA_SCALE_NONE;
    rc = rc ? rc : load(&o, &r, &e);
    int ok = !rc && r->n == 5;
    unsigned s = 5;
    for (size_t i = 0; ok && i < 60; i++) {
        double px = noise_byte(&s);
        ok = r->x[i] == px && d->x[i] == px / 255;
    }
    CHECK(ok, "idx reads raw files; pixels scale to [0,1] by default", "rc %d: %s", rc, e.msg);
    data_free(r);
    o.scale = DATA_SCALE_DEFAULT;
    o.samples = 3;
    o.random_subset = 1;
    rc = rc ? rc : load(&o, &r, &e);
    ok = !rc && r->n == 3 && r->d == 12;
    for (size_t i = 0, j = 0; ok && i < 3; i++, j++) {
        while (j < 5 && memcmp(r->x + 12 * i, d->x + 12 * j, 12 * sizeof *d->x))
            j++;
        ok = j < 5 && r->y[i] == d->y[j];
    }
    CHECK(ok, "idx random subset: whole rows with their labels, in file order", "rc %d: %s",
          rc, e.msg);
    o.samples = 0;
    o.random_subset = 0;
    data_free(d);
    data_free(r);
    o.spec = spec[0];
    o.split = DATA_TEST;
    rc = load(&o, &d, &e);
    CHECK(!rc && d->n == 3 && strstr(d->name, ":test"), "idx reads the t10k split",
          "rc %d: %s", rc, e.msg);
    data_free(d);
    o.split = DATA_TRAIN;
    o.samples = 6;
    load_reject("more samples than exist is ERR_DATA naming both", &o, ERR_DATA, "6", "only 5");
    o.samples = 0;

    /* malformed sets in idxbad */
    o.spec = spec[2];
    load_reject("idx: missing files", &o, ERR_DATA, "train-images-idx3-ubyte.gz", "no such file");
    size_t len;
    unsigned char *gz = read_all(tpath("idxgz/train-images-idx3-ubyte.gz"), &len);
    write_idx(tpath("idxbad"), "train", 5, 5, 3, 4, 0x803, 1);
    write_file(tpath("idxbad/train-images-idx3-ubyte.gz"), gz, len / 2, 0);
    load_reject("idx: truncated gzip", &o, ERR_DATA, "train-images-idx3-ubyte.gz", "truncated");
    write_idx(tpath("idxbad"), "train", 40, 40, 8, 8, 0x803, 1);
    free(gz);
    gz = read_all(tpath("idxbad/train-images-idx3-ubyte.gz"), &len);
    for (size_t i = len / 2; i < len / 2 + 4; i++)
        gz[i] ^= 0x5a;
    write_file(tpath("idxbad/train-images-idx3-ubyte.gz"), gz, len, 0);
    free(gz);
    load_reject("idx: corrupt gzip bytes", &o, ERR_DATA, "train-images-idx3-ubyte.gz", "gzip");
    write_idx(tpath("idxbad"), "train", 5, 5, 3, 4, 0x802, 1);
    load_reject("idx: wrong magic", &o, ERR_DATA, "train-images-idx3-ubyte.gz", "bad magic");
    write_idx(tpath("idxbad"), "train", 5, 4, 3, 4, 0x803, 1);
    load_reject("idx: image and label counts differ", &o, ERR_DATA, "5 images", "4 labels");
    write_idx(tpath("idxbad"), "train", 0, 0, 3, 4, 0x803, 1);
    load_reject("idx: zero images", &o, ERR_DATA, "train-images-idx3-ubyte.gz", "dimension 0");
}

/* DIR/train-images-idx3-ubyte[.gz] whose header declares n images of rows x cols but
 * which holds `held` of them (noise bytes seeded by 7), and DIR/train-labels-idx1-ubyte.gz
 * declaring n labels and holding min(n, held_labels) (i % 4). */
static void write_idx_short(const char *dir, unsigned n, unsigned rows, unsigned cols,
                            unsigned held, unsigned held_labels, int gz)
{
    size_t len = 16 + (size_t)held * rows * cols;
    unsigned char *b = malloc(len > 8 + (size_t)held_labels ? len : 8 + (size_t)held_labels);
    unsigned hdr[4] = { 0x803, n, rows, cols }, s = 7;
    char path[512];
    for (int i = 0; i < 16; i++)
        b[i] = (unsigned char)(hdr[i / 4] >> (24 - 8 * (i % 4)));
    for (size_t i = 16; i < len; i++)
        b[i] = noise_byte(&s);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte%s", dir, gz ? ".gz" : "");
    write_file(path, b, len, gz);
    unsigned lh[2] = { 0x801, n };
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(lh[i / 4] >> (24 - 8 * (i % 4)));
    for (unsigned i = 0; i < held_labels; i++)
        b[8 + i] = (unsigned char)(i % 4);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dir);
    write_file(path, b, 8 + (size_t)held_labels, 1);
    free(b);
}

/* path: one gzip member that claims to hold `isize` bytes (its trailer's ISIZE) and
 * holds p (len bytes) and `pad` zeros in stored blocks, then an invalid block (inflate
 * fails there): whole by its trailer, corrupt past pad. The trailer's CRC is 0. */
static void write_gz_corrupt_tail(const char *path, const unsigned char *p, size_t len,
                                  size_t pad, uint32_t isize)
{
    static const unsigned char head[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
    unsigned char *all = calloc(1, len + pad);
    FILE *f = fopen(path, "wb");
    if (!all || !f) {
        free(all);
        if (f)
            fclose(f);
        return;
    }
    memcpy(all, p, len);
    fwrite(head, 1, sizeof head, f);
    for (size_t done = 0; done < len + pad;) {   /* stored blocks: BFINAL 0, BTYPE 00 */
        size_t k = len + pad - done < 65535 ? len + pad - done : 65535;
        unsigned char b[5] = { 0, (unsigned char)k, (unsigned char)(k >> 8),
                               (unsigned char)~k, (unsigned char)(~k >> 8) };
        fwrite(b, 1, 5, f);
        fwrite(all + done, 1, k, f);
        done += k;
    }
    unsigned char tail[9] = { 7,   /* BFINAL 1, BTYPE 11: invalid */
                              0, 0, 0, 0, (unsigned char)isize, (unsigned char)(isize >> 8),
                              (unsigned char)(isize >> 16), (unsigned char)(isize >> 24) };
    fwrite(tail, 1, sizeof tail, f);
    fclose(f);
    free(all);
}

/* The first N samples of a file that says it is whole read only the first N images (a
 * gzip bomb with --samples 10 costs 10 images); a file that does not say so is read
 * whole; a header declaring more than the cap is refused before reading. */
static void test_idx_partial(void)
{
    char spec[600];
    data_opts o;
    data *d = NULL;
    err e = { 0 };
    snprintf(spec, sizeof spec, "idx:%s", tpath("idxpart"));
    mkdir(spec + 4, 0700);
    data_opts_default(&o);
    o.spec = spec;
    o.scale = DATA_SCALE_NONE;
    o.samples = 10;
    /* 1000000 images of 3x4 declared (its trailer agrees): 10 of noise, 2 MB of zeros,
     * then corrupt data, as if the 12 MB never read were a gigabyte */
    enum { NDECL = 1000000, PAD = 2 << 20 };
    unsigned char im[16 + 120], *lab = malloc(8 + NDECL);
    unsigned hdr[4] = { 0x803, NDECL, 3, 4 }, s = 7;
    for (int i = 0; i < 16; i++)
        im[i] = (unsigned char)(hdr[i / 4] >> (24 - 8 * (i % 4)));
    for (size_t i = 16; i < sizeof im; i++)
        im[i] = noise_byte(&s);
    write_gz_corrupt_tail(tpath("idxpart/train-images-idx3-ubyte.gz"), im, sizeof im, PAD,
                          16 + 12u * NDECL);
    unsigned lh[2] = { 0x801, NDECL };
    for (int i = 0; i < 8; i++)
        lab[i] = (unsigned char)(lh[i / 4] >> (24 - 8 * (i % 4)));
    for (unsigned i = 0; i < NDECL; i++)
        lab[8 + i] = (unsigned char)(i % 4);
    write_file(tpath("idxpart/train-labels-idx1-ubyte.gz"), lab, 8 + NDECL, 1);
    free(lab);
    int rc = load(&o, &d, &e), ok = !rc && d->n == 10 && d->d == 12 && d->classes == 4;
    s = 7;
    for (size_t i = 0; ok && i < 120; i++)
        ok = d->x[i] == noise_byte(&s) && d->y[i / 12] == (int)(i / 12 % 4);
    CHECK(ok, "idx: the first 10 samples of a whole-looking gzip read 10 images, not the "
          "1000000 its header declares", "rc %d: %s", rc, e.msg);
    data_free(d);
    o.samples = 0;
    load_reject("idx: all samples read every image (and reach the corrupt data)", &o, ERR_DATA,
                "train-images-idx3-ubyte.gz", "corrupt gzip data");
    o.samples = 10;
    o.random_subset = 1;
    load_reject("idx: a random subset reads every image", &o, ERR_DATA,
                "train-images-idx3-ubyte.gz", "corrupt gzip data");
    o.random_subset = 0;
    /* 1000 declared, 20 held, its trailer says 256 bytes: read whole, so truncated */
    write_idx_short(spec + 4, 1000, 3, 4, 20, 1000, 1);
    load_reject("idx: a gzip whose trailer disagrees with its header is read whole: truncated, "
                "even for 10 samples", &o, ERR_DATA, "train-images-idx3-ubyte.gz",
                "truncated: data needs 12000 bytes, file holds 240");
    /* a raw file's size is known without reading it: truncated even for 10 samples */
    write_idx_short(spec + 4, 1000, 3, 4, 20, 1000, 0);
    rename(tpath("idxpart/train-images-idx3-ubyte.gz"), tpath("idxpart/gz.keep"));
    load_reject("idx: a raw file shorter than its header is truncated, even for 10 samples",
                &o, ERR_DATA, "idxpart/train-images-idx3-ubyte:",
                "truncated: data needs 12000 bytes, file holds 240");
    unlink(tpath("idxpart/train-images-idx3-ubyte"));
    /* 3000000 images of 28x28 are 2352000000 bytes: beyond the cap, refused unread */
    write_idx_short(spec + 4, 3000000, 28, 28, 0, 0, 1);
    load_reject("idx: a header declaring more than 2 GiB is refused naming the cap", &o, ERR_DATA,
                "idxpart/train-images-idx3-ubyte.gz: the header declares 3000000 images of 28x28",
                "2147483648");
}

/* ---- Fashion-MNIST ---------------------------------------------------------------- */

static void test_fashion(void)
{
    data_opts o;
    data *full = NULL, *d = NULL, *d2 = NULL;
    err e = { 0 };
    data_opts_default(&o);
    int rc = load(&o, &full, &e);
    int ok = !rc && full->n == 60000 && full->d == 784 && full->c == 1 && full->h == 28
             && full->w == 28 && full->classes == 10 && full->y && !full->t;
    size_t count[10] = { 0 };
    for (size_t i = 0; ok && i < full->n; i++)
        if ((ok = full->y[i] >= 0 && full->y[i] < 10))
            count[full->y[i]]++;
    double lo = 1, hi = 0;
    for (size_t i = 0; ok && i < full->n * 784; i++) {
        lo = fmin(lo, full->x[i]);
        hi = fmax(hi, full->x[i]);
    }
    CHECK(ok && lo == 0 && hi == 1 && count[0] == 6000 && count[9] == 6000,
          "fashion-mnist train: 60000 x 784, labels 0..9, 6000 each, pixels in [0,1]",
          "rc %d (%s), range [%g, %g]", rc, e.msg, lo, hi);
    if (rc)
        return;
    o.split = DATA_TEST;
    rc = load(&o, &d, &e);
    CHECK(!rc && d->n == 10000 && d->d == 784 && !strcmp(d->name, "fashion-mnist:test"),
          "fashion-mnist test: 10000 x 784", "rc %d: %s", rc, e.msg);
    data_free(d);

    o.split = DATA_TRAIN;
    o.samples = 1000;
    rc = load(&o, &d, &e);
    CHECK(!rc && d->n == 1000 && !memcmp(d->x, full->x, 1000 * 784 * sizeof *d->x)
              && !memcmp(d->y, full->y, 1000 * sizeof *d->y),
          "fashion-mnist samples=1000 are the first 1000", "rc %d: %s", rc, e.msg);
    data_free(d);

    o.random_subset = 1;
    o.seed = 1;
    rc = load(&o, &d, &e) || load(&o, &d2, &e);
    CHECK(!rc && !memcmp(d->x, d2->x, 1000 * 784 * sizeof *d->x)
              && !memcmp(d->y, d2->y, 1000 * sizeof *d->y),
          "fashion-mnist random subset is deterministic", "rc %d: %s", rc, e.msg);
    data_free(d2);
    o.seed = 2;
    rc = rc ? rc : load(&o, &d2, &e);
    CHECK(!rc && memcmp(d->x, d2->x, 1000 * 784 * sizeof *d->x)
              && memcmp(d->x, full->x, 1000 * 784 * sizeof *d->x),
          "fashion-mnist random subsets differ across seeds and from first-N", "rc %d: %s",
          rc, e.msg);
    data_free(d);
    data_free(d2);
    data_free(full);

    const char *old = getenv("BASIN_DATA_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("BASIN_DATA_DIR", "/nonexistent", 1);
    data_opts_default(&o);
    CHECK(!strcmp(data_fashion_dir(), "/nonexistent"), "BASIN_DATA_DIR sets the directory",
          "%s", data_fashion_dir());
    load_reject("fashion-mnist missing: ERR_DATA naming the package", &o, ERR_DATA,
                "/nonexistent/train-images-idx3-ubyte.gz", "apt-get install dataset-fashion-mnist");
    if (saved)
        setenv("BASIN_DATA_DIR", saved, 1);
    else
        unsetenv("BASIN_DATA_DIR");
    free(saved);
}

/* ---- CSV -------------------------------------------------------------------------- */

static void test_csv(void)
{
    data_opts o;
    data *d = NULL, *h = NULL;
    err e = { 0 };
    char spec[1200];
    data_opts_default(&o);
    o.spec = spec;
    write_text(tpath("a.csv"), "0,1.5,2\n2,-3,4e2\n1, 0.25 ,0\n");
    write_text(tpath("ah.csv"), "label,f1,f2\r\n0,1.5,2\r\n2,-3,4e2\r\n\r\n1,0.25,0\r\n\n");
    snprintf(spec, sizeof spec, "csv:%s", tpath("a.csv"));
    int rc = load(&o, &d, &e);
    static const double want[6] = { 1.5, 2, -3, 400, 0.25, 0 };
    CHECK(!rc && d->n == 3 && d->d == 2 && d->h == 1 && d->w == 2 && d->classes == 3
              && d->y[1] == 2 && !memcmp(d->x, want, sizeof want),
          "csv without header", "rc %d: %s", rc, e.msg);
    snprintf(spec, sizeof spec, "csv:%s", tpath("ah.csv"));
    rc = load(&o, &h, &e);
    CHECK(!rc && h->n == 3 && h->d == 2 && !memcmp(h->x, want, sizeof want)
              && !memcmp(h->y, d->y, 3 * sizeof *d->y),
          "csv with a header, CRLF and blank lines", "rc %d: %s", rc, e.msg);
    data_free(h);
    /* a UTF-8 byte-order mark (spreadsheets write one) and no header: every row is data */
    write_text(tpath("bom.csv"), "\xEF\xBB\xBF" "0,1.5,2\n2,-3,4e2\n1, 0.25 ,0\n");
    write_text(tpath("bomh.csv"), "\xEF\xBB\xBF" "label,f1,f2\n0,1.5,2\n2,-3,4e2\n1,0.25,0\n");
    snprintf(spec, sizeof spec, "csv:%s", tpath("bom.csv"));
    rc = load(&o, &h, &e);
    CHECK(!rc && h->n == 3 && h->d == 2 && !memcmp(h->x, want, sizeof want)
              && !memcmp(h->y, d->y, 3 * sizeof *d->y),
          "csv with a byte-order mark and no header keeps its first row", "rc %d: %s n %zu",
          rc, e.msg, rc ? 0 : h->n);
    data_free(h);
    snprintf(spec, sizeof spec, "csv:%s", tpath("bomh.csv"));
    rc = load(&o, &h, &e);
    CHECK(!rc && h->n == 3 && !memcmp(h->x, want, sizeof want),
          "csv with a byte-order mark and a header", "rc %d: %s", rc, e.msg);
    data_free(h);
    data_free(d);

    /* Lines of 3000 features (~25 KB each). */
    enum { LONGD = 3000 };
    size_t cap = 2 * 10 * (LONGD + 1) + 16, k = 0;
    char *text = malloc(cap);
    for (int row = 0; row < 2; row++) {
        k += (size_t)snprintf(text + k, cap - k, "%d", row);
        for (int j = 0; j < LONGD; j++)
            k += (size_t)snprintf(text + k, cap - k, ",%d.125", j);
        text[k++] = '\n';
    }
    text[k] = '\0';
    write_text(tpath("long.csv"), text);
    free(text);
    snprintf(spec, sizeof spec, "csv:%s", tpath("long.csv"));
    rc = load(&o, &d, &e);
    CHECK(!rc && d->n == 2 && d->d == LONGD && d->x[2 * LONGD - 1] == LONGD - 1 + 0.125,
          "csv lines longer than 4096 bytes", "rc %d: %s", rc, e.msg);
    data_free(d);

    static const struct { const char *name, *file, *text, *want1, *want2; } bad[] = {
        { "csv: a bad value names file:line and column", "bad.csv", "0,1,2\n1,3,4\n0,5,abc\n",
          "bad.csv:3", "column 3: 'abc'" },
        { "csv: an empty field", "gap.csv", "0,1,2\n1,,4\n", "gap.csv:2", "column 2" },
        { "csv: infinity is not a value", "inf.csv", "0,1,inf\n", "inf.csv:1", "finite" },
        { "csv: wrong number of columns", "cols.csv", "0,1,2\n1,3\n", "cols.csv:2",
          "2 columns, expected 3" },
        { "csv: empty file", "empty.csv", "", "empty.csv", "empty" },
        { "csv: header only", "head.csv", "y,a,b\n", "head.csv", "empty" },
        { "csv: negative label", "neg.csv", "0,1\n-1,2\n", "neg.csv:2", "label '-1'" },
        { "csv: non-integer label", "frac.csv", "1.5,2\n", "frac.csv:1", "label '1.5'" },
        { "csv: label only", "one.csv", "1\n2\n", "one.csv:1", "1 columns" },
        { "csv: a label beyond the 4096 classes a loss takes", "big.csv", "4095,1\n4096,2\n",
          "big.csv:2", "label '4096' is out of range: at most 4096 classes" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_text(tpath(bad[i].file), bad[i].text);
        snprintf(spec, sizeof spec, "csv:%s", tpath(bad[i].file));
        load_reject(bad[i].name, &o, ERR_DATA, bad[i].want1, bad[i].want2);
    }
    snprintf(spec, sizeof spec, "csv:%s", tpath("nope.csv"));
    load_reject("csv: missing file", &o, ERR_DATA, "nope.csv", "cannot open");

    o.split = DATA_TEST;
    snprintf(spec, sizeof spec, "csv:%s", tpath("a.csv"));
    load_reject("csv: test split needs a second file", &o, ERR_USAGE, "csv:", "second file");
    snprintf(spec, sizeof spec, "csv:%s,%s", tpath("a.csv"), tpath("long.csv"));
    rc = load(&o, &d, &e);
    CHECK(!rc && d->n == 2 && d->d == LONGD, "csv: test split reads the second file",
          "rc %d: %s", rc, e.msg);
    data_free(d);
    o.split = DATA_TRAIN;
    o.scale = DATA_SCALE_UNIT;
    rc = load(&o, &d, &e);
    CHECK(!rc && d->n == 3 && d->x[3] == 400 / 255.0, "csv: train split reads the first file; "
          "unit scaling divides by 255", "rc %d: %s", rc, e.msg);
    data_free(d);
}

/* ---- synthetic sets --------------------------------------------------------------- */

static int same(const data *a, const data *b)
{
    return a->n == b->n && a->d == b->d && !memcmp(a->x, b->x, a->n * a->d * sizeof *a->x)
           && (!a->y || !memcmp(a->y, b->y, a->n * sizeof *a->y))
           && (!a->t || !memcmp(a->t, b->t, a->n * a->tdim * sizeof *a->t));
}

static void test_synth(void)
{
    data_opts o;
    data *a = NULL, *b = NULL, *c = NULL;
    err e = { 0 };
    data_opts_default(&o);
    o.spec = "blobs";
    o.seed = 3;
    int rc = load(&o, &a, &e) || load(&o, &b, &e);
    CHECK(!rc && a->n == 600 && a->d == 2 && a->classes == 3 && a->y && !a->t && !a->tdim
              && !strcmp(a->name, "blobs:train"),
          "blobs: default shape", "rc %d: %s", rc, e.msg);
    CHECK(!rc && same(a, b), "blobs: same seed, same data", "rc %d", rc);
    data_free(b);
    o.split = DATA_TEST;
    rc = rc ? rc : load(&o, &b, &e);
    /* Same centres in both splits: class means agree to a few standard errors. */
    double m[2][3][2] = { { { 0 } } };
    for (size_t i = 0; !rc && i < 600; i++)
        for (int j = 0; j < 2; j++) {
            m[0][a->y[i]][j] += a->x[2 * i + j] / 200;
            m[1][b->y[i]][j] += b->x[2 * i + j] / 200;
        }
    double gap = 0;
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 2; j++)
            gap = fmax(gap, fabs(m[0][k][j] - m[1][k][j]));
    CHECK(!rc && b->n == 600 && !same(a, b) && gap < 0.4,
          "blobs: test split has new samples around the same centres", "rc %d, gap %g", rc, gap);
    data_free(b);
    o.split = DATA_TRAIN;
    o.seed = 4;
    rc = rc ? rc : load(&o, &b, &e);
    CHECK(!rc && !same(a, b), "blobs: another seed, other data", "rc %d", rc);
    data_free(a);
    data_free(b);
    o.samples = 100, o.synth_dim = 5, o.synth_classes = 4;
    rc = load(&o, &a, &e);
    CHECK(!rc && a->n == 100 && a->d == 5 && a->classes == 4 && a->y[99] == 3,
          "blobs: samples, dim and classes options", "rc %d: %s", rc, e.msg);
    data_free(a);

    data_opts_default(&o);
    o.spec = "spirals";
    rc = load(&o, &a, &e);
    int ok = !rc && a->n == 600 && a->d == 2 && a->classes == 2;
    for (size_t i = 0; ok && i < a->n; i++)
        ok = hypot(a->x[2 * i], a->x[2 * i + 1]) <= 1 && a->y[i] == (int)(i % 2);
    CHECK(ok, "spirals: 600 points in the unit disc, 2 alternating classes", "rc %d: %s", rc,
          e.msg);
    data_free(a);
    o.synth_dim = 3;
    load_reject("spirals: only 2-D", &o, ERR_USAGE, "spirals", "3");

    data_opts_default(&o);
    o.spec = "teacher";
    rc = load(&o, &a, &e);
    ok = !rc && a->n == 600 && a->d == 10 && !a->y && a->t && a->tdim == 1 && a->classes == 0;
    double tmin = INFINITY, tmax = -INFINITY;
    for (size_t i = 0; ok && i < a->n; i++) {
        ok = isfinite(a->t[i]);
        tmin = fmin(tmin, a->t[i]);
        tmax = fmax(tmax, a->t[i]);
    }
    CHECK(ok && tmax > tmin, "teacher: 600 x 10 inputs, one finite varying target, no labels",
          "rc %d (%s), targets [%g, %g]", rc, e.msg, tmin, tmax);
    o.synth_noise = 0.5;
    rc = rc ? rc : load(&o, &b, &e);
    ok = !rc && !memcmp(a->x, b->x, 600 * 10 * sizeof *a->x);
    double dev = 0;
    for (size_t i = 0; ok && i < a->n; i++)
        dev += (b->t[i] - a->t[i]) * (b->t[i] - a->t[i]) / 600;
    CHECK(ok, "teacher: noise leaves the inputs alone", "rc %d: %s", rc, e.msg);
    check_close("teacher: noise 0.5 perturbs the targets by rms 0.5", sqrt(dev), 0.5, 0.1, 0);
    data_free(a);
    data_free(b);
    o.synth_noise = 0, o.synth_classes = 3, o.synth_dim = 4, o.samples = 50;
    rc = load(&o, &a, &e) || load(&o, &b, &e);
    o.seed = 1;
    rc = rc ? rc : load(&o, &c, &e);
    CHECK(!rc && a->n == 50 && a->d == 4 && a->tdim == 3 && same(a, b) && !same(a, c),
          "teacher: options, determinism, seeds differ", "rc %d: %s", rc, e.msg);
    data_free(a);
    data_free(b);
    data_free(c);
    o.imbalance = 2;
    load_reject("teacher: imbalance needs labels", &o, ERR_USAGE, "imbalance", "no class labels");
    o.imbalance = 0, o.label_noise = 0.1;
    load_reject("teacher: label noise needs labels", &o, ERR_USAGE, "label noise", "no class");

    data_opts_default(&o);
    o.spec = "mnist";
    load_reject("unknown dataset is ERR_USAGE", &o, ERR_USAGE, "mnist", "unknown");
    static const char *const good[] = {"fashion-mnist", "idx:/x", "csv:a.csv", "csv:a,b", "blobs",
                                       "spirals", "teacher"};
    static const char *const worse[] = {"mnist", "idx:", "csv:", "csv:,b", "Blobs", ""};
    int right = 1;
    for (size_t k = 0; k < sizeof good / sizeof *good; k++)
        right &= data_spec_check(good[k], NULL) == 0;
    for (size_t k = 0; k < sizeof worse / sizeof *worse; k++)
        right &= data_spec_check(worse[k], NULL) == ERR_USAGE;
    CHECK(right, "data_spec_check: the known forms pass, others are ERR_USAGE", "wrong verdict");
}

/* ---- imbalance, label noise --------------------------------------------------------- */

static void class_counts(const data *d, size_t *count, int classes)
{
    memset(count, 0, (size_t)classes * sizeof *count);
    for (size_t i = 0; i < d->n; i++)
        count[d->y[i]]++;
}

static void test_imbalance_noise(void)
{
    data_opts o;
    data *d = NULL, *ref = NULL;
    err e = { 0 };
    size_t count[4];
    data_opts_default(&o);
    o.spec = "blobs";
    o.synth_classes = 4;
    o.samples = 400; /* 100 per class */
    int rc = load(&o, &ref, &e);
    o.imbalance = 10;
    rc = rc ? rc : load(&o, &d, &e);
    if (!rc)
        class_counts(d, count, 4);
    /* The kept class-2 samples must be the first ten class-2 samples, in order. */
    int first = !rc;
    for (size_t i = 0, k = 0; first && i < d->n; i++)
        if (d->y[i] == 2) {
            first = !memcmp(d->x + 2 * i, ref->x + 2 * (4 * k + 2), 2 * sizeof *d->x);
            k++;
        }
    CHECK(!rc && d->n == 220 && count[0] == 100 && count[1] == 100 && count[2] == 10
              && count[3] == 10 && first,
          "imbalance step R=10: classes 2,3 keep their first 10 of 100",
          "rc %d (%s), n %zu", rc, e.msg, rc ? 0 : d->n);
    data_free(d);
    o.imbalance_type = DATA_IMB_EXP;
    rc = load(&o, &d, &e);
    if (!rc)
        class_counts(d, count, 4);
    /* floor(100 * 10^(-c/3)): 100, 46.4 -> 46, 21.5 -> 21, 10 */
    CHECK(!rc && count[0] == 100 && count[1] == 46 && count[2] == 21 && count[3] == 10,
          "imbalance exp R=10: 100, 46, 21, 10", "rc %d (%s), %zu %zu %zu %zu", rc, e.msg,
          count[0], count[1], count[2], count[3]);
    data_free(d);
    o.imbalance_type = DATA_IMB_STEP;
    o.imbalance = 1000;
    rc = load(&o, &d, &e);
    if (!rc)
        class_counts(d, count, 4);
    CHECK(!rc && count[1] == 100 && count[2] == 1 && count[3] == 1,
          "imbalance keeps at least one sample per class", "rc %d: %s", rc, e.msg);
    data_free(d);
    o.split = DATA_TEST;
    rc = load(&o, &d, &e);
    CHECK(!rc && d->n == 400, "imbalance leaves the test split alone", "rc %d: %s", rc, e.msg);
    data_free(d);
    o.split = DATA_TRAIN;
    o.imbalance = 0.5;
    load_reject("imbalance 0.5 is ERR_USAGE", &o, ERR_USAGE, "imbalance 0.5", ">= 1");
    o.imbalance = 0;

    static const struct { double f; size_t n, flips; } cases[] = {
        { 0.1, 400, 40 }, { 0.25, 10, 3 }, { 0.0004, 400, 0 }, { 0.99, 400, 396 } };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        o.label_noise = cases[c].f;
        o.samples = cases[c].n;
        rc = load(&o, &d, &e);
        size_t flips = 0;
        int ok = !rc && d->n == cases[c].n && !memcmp(d->x, ref->x, d->n * 2 * sizeof *d->x);
        for (size_t i = 0; ok && i < d->n; i++) {
            ok = d->y[i] >= 0 && d->y[i] < 4;
            flips += d->y[i] != ref->y[i];
        }
        char name[96];
        snprintf(name, sizeof name, "label noise %g of %zu flips exactly %zu labels", cases[c].f,
                 cases[c].n, cases[c].flips);
        CHECK(ok && flips == cases[c].flips, name, "rc %d (%s), %zu flipped", rc, e.msg, flips);
        data_free(d);
    }
    o.label_noise = 0.3;
    o.seed = 9;
    data *d2 = NULL;
    rc = load(&o, &d, &e) || load(&o, &d2, &e);
    CHECK(!rc && same(d, d2), "label noise is deterministic per seed", "rc %d", rc);
    data_free(d);
    data_free(d2);
    o.split = DATA_TEST;
    o.seed = 0;
    rc = load(&o, &d, &e);
    o.label_noise = 0;
    rc = rc ? rc : load(&o, &d2, &e);
    CHECK(!rc && same(d, d2), "label noise leaves the test split alone", "rc %d", rc);
    data_free(d);
    data_free(d2);
    o.label_noise = 1;
    load_reject("label noise 1 is ERR_USAGE", &o, ERR_USAGE, "label noise 1", "[0, 1)");
    o.label_noise = -0.1;
    load_reject("label noise -0.1 is ERR_USAGE", &o, ERR_USAGE, "label noise -0.1", "[0, 1)");
    data_free(ref);
}

/* ---- scaling ---------------------------------------------------------------------- */

static void test_standardize(void)
{
    data_opts o;
    data *d = NULL, *raw = NULL, *test = NULL;
    err e = { 0 };
    char spec[600];
    write_text(tpath("std.csv"), "0,1,5,10\n1,2,5,-10\n0,4,5,30\n1,9,5,0\n");
    data_opts_default(&o);
    snprintf(spec, sizeof spec, "csv:%s", tpath("std.csv"));
    o.spec = spec;
    o.scale = DATA_SCALE_STANDARDIZE;
    int rc = load(&o, &d, &e);
    int ok = !rc;
    for (int j = 0; ok && j < 3; j++) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < d->n; i++)
            mean += d->x[i * 3 + j] / d->n;
        for (size_t i = 0; i < d->n; i++)
            var += (d->x[i * 3 + j] - mean) * (d->x[i * 3 + j] - mean) / d->n;
        ok = fabs(mean) < 1e-12 && fabs(var - (j == 1 ? 0 : 1)) < 1e-12;
        for (size_t i = 0; ok && j == 1 && i < d->n; i++)
            ok = d->x[i * 3 + 1] == 0;
    }
    CHECK(ok, "standardized train: mean 0, sd 1; a constant feature becomes exactly 0",
          "rc %d: %s", rc, e.msg);
    data_free(d);

    /* Test split with the statistics of the training split's (imbalanced) selection. */
    data_opts_default(&o);
    o.spec = "blobs";
    o.seed = 5;
    o.samples = 300;
    o.imbalance = 4;
    o.scale = DATA_SCALE_NONE;
    rc = load(&o, &raw, &e);
    o.split = DATA_TEST;
    rc = rc ? rc : load(&o, &test, &e);
    o.scale = DATA_SCALE_STANDARDIZE;
    rc = rc ? rc : load(&o, &d, &e);
    double mean = 0, var = 0;
    for (size_t i = 0; !rc && i < raw->n; i++)
        mean += raw->x[2 * i + 1] / raw->n;
    for (size_t i = 0; !rc && i < raw->n; i++)
        var += (raw->x[2 * i + 1] - mean) * (raw->x[2 * i + 1] - mean) / raw->n;
    ok = !rc && raw->n == 100 + 25 + 25 && d->n == 300;
    for (size_t i = 0; ok && i < d->n; i++)
        ok = fabs(d->x[2 * i + 1] - (test->x[2 * i + 1] - mean) / sqrt(var)) < 1e-12;
    CHECK(ok, "standardized test split uses the training selection's statistics",
          "rc %d (%s)", rc, e.msg);
    data_free(raw);
    data_free(test);
    data_free(d);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    data_opts o;
    data_opts_default(&o);
    CHECK(!strcmp(o.spec, "fashion-mnist") && o.split == DATA_TRAIN && !o.samples
              && !o.random_subset && !o.imbalance && !o.label_noise
              && o.scale == DATA_SCALE_DEFAULT && !o.seed,
          "data_opts_default", "spec %s", o.spec);
    test_npy();
    test_idx();
    test_idx_partial();
    test_csv();
    test_synth();
    test_imbalance_noise();
    test_standardize();
    test_fashion();
    rm_tree(tmpdir);
    return check_done();
}
