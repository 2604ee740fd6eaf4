/* data.c -- datasets (see data.h): Fashion-MNIST and other IDX directories (gzip or
 * raw), CSV files, synthetic sets (blobs, spirals, teacher), and the one pipeline
 * every source goes through: choose samples -> imbalance -> label noise -> scaling.
 *
 * Each source first builds a dataset holding every sample of the split; the pipeline
 * then keeps the chosen rows, in file order. IDX images stay bytes until then, so a
 * small subset of a big set is widened to doubles alone; the first N samples (not a
 * random subset) of a file that says it is whole (a raw file's size, a gzip file's
 * trailer) read only the first N images, so `--samples 10` of a gzip bomb inflates 10
 * images; a cut gzip file is read whole, and found truncated. An IDX header declaring
 * more than DATA_IDX_MAX_BYTES (2 GiB) of images is refused before anything is read.
 * DATA_SCALE_UNIT is pixel scaling: it divides by 255 whatever the source, so on a CSV
 * file it only makes sense for 8-bit pixel columns. Standardization uses the population
 * (1/n) standard deviation. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <zlib.h>

#include "data.h"
#include "../core/ad.h"
#include "../core/rng.h"

#define DATA_PATH_MAX 4096
#define DATA_PI 3.14159265358979323846
#define DATA_SYNTH_N 600      /* samples per split of a synthetic set by default */
#define DATA_SYNTH_SHARED 99  /* RNG_SYNTH sub-stream of what both splits share */
#define DATA_TEACHER_WIDTH 32 /* hidden units of the teacher network */
#define DATA_FASHION_CLASSES 10
#define DATA_IDX_IMAGES 0x00000803u /* IDX magic: unsigned bytes, 3 dimensions */
#define DATA_IDX_LABELS 0x00000801u /* IDX magic: unsigned bytes, 1 dimension */
/* The most image bytes an IDX file may declare, 2 GiB (16 GiB as doubles): 40 times
 * Fashion-MNIST's 47 MB, 3 times EMNIST ByClass; a header beyond is refused unread. */
#define DATA_IDX_MAX_BYTES ((size_t)1 << 31)

enum data_synth { DATA_BLOBS, DATA_SPIRALS, DATA_TEACHER };

void data_opts_default(data_opts *o)
{
    memset(o, 0, sizeof *o);
    o->spec = "fashion-mnist";
    o->split = DATA_TRAIN;
    o->imbalance_type = DATA_IMB_STEP;
    o->scale = DATA_SCALE_DEFAULT;
}

const char *data_fashion_dir(void)
{
    const char *dir = getenv("BASIN_DATA_DIR");
    return dir && *dir ? dir : "/usr/share/datasets/fashion-mnist";
}

void data_free(data *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->y);
    free(d->t);
    free(d);
}

/* A new tabular dataset of n samples: x (n, dim) when dim > 0, y (n) when `labels`,
 * t (n, tdim) when tdim > 0, all uninitialized. NULL (ERR_SYS on e) when out of memory. */
static data *data_alloc(size_t n, int dim, int labels, int tdim, err *e)
{
    size_t width = (size_t)(dim > tdim ? dim : tdim);
    if (width && n > SIZE_MAX / sizeof(double) / width) {
        err_set(e, ERR_SYS, "out of memory (%zu samples of %zu values)", n, width);
        return NULL;
    }
    data *d = err_calloc(e, 1, sizeof *d);
    if (!d)
        return NULL;
    d->n = n;
    d->d = d->w = dim;
    d->c = d->h = 1;
    d->tdim = tdim;
    int ok = !dim || (d->x = err_malloc(e, n * (size_t)dim * sizeof *d->x));
    if (ok && labels)
        ok = (d->y = err_malloc(e, n * sizeof *d->y)) != NULL;
    if (ok && tdim)
        ok = (d->t = err_malloc(e, n * (size_t)tdim * sizeof *d->t)) != NULL;
    if (!ok) {
        data_free(d);
        return NULL;
    }
    return d;
}

/* p (capacity *cap elements of `size` bytes) grown by doubling to hold `need`
 * elements; NULL (ERR_SYS on e, p still valid) when out of memory. */
static void *data_grow(void *p, size_t *cap, size_t need, size_t size, err *e)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 1024;
    while (c < need && c <= SIZE_MAX / 2 / size)
        c *= 2;
    void *q = c >= need ? realloc(p, c * size) : NULL;
    if (!q) {
        err_set(e, ERR_SYS, "out of memory (%zu elements of %zu bytes)", need, size);
        return NULL;
    }
    *cap = c;
    return q;
}

/* ---- IDX ------------------------------------------------------------------------ */

/* One IDX unsigned-byte file being read. */
typedef struct data_idx {
    char path[DATA_PATH_MAX];
    gzFile f;          /* NULL when closed */
    uint32_t dims[3];  /* from the header */
    int64_t raw;       /* a raw (not gzip) file: the bytes after its header; -1: gzip */
    int64_t isize;     /* a gzip file: its trailer's ISIZE (the last member's length
                          mod 2^32); -1: raw, or too short to hold a trailer */
} data_idx;

static uint32_t data_be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Read len bytes from f into buf, adding them to *got. ERR_DATA for corrupt gzip data
 * or when the file ends first (naming `what`, the bytes it needs, `total`, and the
 * bytes it held, *got). */
static int data_gz_fill(gzFile f, const char *path, unsigned char *buf, size_t len,
                        const char *what, size_t total, size_t *got, err *e)
{
    int zerr = Z_OK;
    for (size_t k = 0; k < len;) {
        size_t chunk = len - k < (1u << 30) ? len - k : (1u << 30);
        int r = gzread(f, buf + k, (unsigned)chunk);
        if (r < 0)
            return err_set(e, ERR_DATA, "%s: corrupt gzip data: %s", path, gzerror(f, &zerr));
        if (r == 0) {
            const char *zmsg = gzerror(f, &zerr);
            return err_set(e, ERR_DATA, "%s: truncated: %s needs %zu bytes, file holds %zu%s%s",
                           path, what, total, *got, zerr != Z_OK ? "; gzip: " : "",
                           zerr != Z_OK ? zmsg : "");
        }
        k += (size_t)r;
        *got += (size_t)r;
    }
    return 0;
}

/* Read exactly len bytes of `what` from f into buf. */
static int data_gz_read(gzFile f, const char *path, void *buf, size_t len, const char *what,
                        err *e)
{
    size_t got = 0;
    return data_gz_fill(f, path, buf, len, what, len, &got, e);
}

/* Open DIR/BASE.gz, else DIR/BASE (gzopen reads raw files transparently), and read its
 * header: `magic`, then `ndim` nonzero big-endian dimensions. A missing fashion-mnist
 * file says how to install it. On failure x->f is NULL. */
static int data_idx_open(data_idx *x, const char *dir, const char *base, int fashion,
                         uint32_t magic, int ndim, err *e)
{
    x->f = NULL;
    for (int gz = 1; gz >= 0 && !x->f; gz--) {
        if (snprintf(x->path, sizeof x->path, "%s/%s%s", dir, base, gz ? ".gz" : "")
            >= (int)sizeof x->path)
            return err_set(e, ERR_USAGE, "%s: directory name too long", dir);
        errno = 0;
        if (!(x->f = gzopen(x->path, "rb")) && errno != ENOENT)
            return err_set(e, ERR_DATA, "%s: cannot open: %s", x->path, strerror(errno));
    }
    if (!x->f) {
        snprintf(x->path, sizeof x->path, "%s/%s.gz", dir, base);
        return err_set(e, ERR_DATA, "%s: no such file%s", x->path, fashion
                       ? "; install the Debian package dataset-fashion-mnist (apt-get install "
                         "dataset-fashion-mnist) or set BASIN_DATA_DIR to a directory holding it"
                       : " (with or without .gz)");
    }
    gzbuffer(x->f, 1u << 18);
    unsigned char head[16];
    int rc = data_gz_read(x->f, x->path, head, 4 + 4 * (size_t)ndim, "header", e);
    if (!rc && data_be32(head) != magic)
        rc = err_set(e, ERR_DATA, "%s: bad magic 0x%08x (need 0x%08x, an IDX unsigned-byte %s file)",
                     x->path, (unsigned)data_be32(head), (unsigned)magic,
                     ndim == 1 ? "label" : "image");
    for (int i = 0; !rc && i < ndim; i++)
        if (!(x->dims[i] = data_be32(head + 4 + 4 * i)))
            rc = err_set(e, ERR_DATA, "%s: bad dimension 0", x->path);
    struct stat st;
    x->raw = !rc && gzdirect(x->f) && stat(x->path, &st) == 0
             ? (int64_t)st.st_size - (4 + 4 * ndim) : -1;
    x->isize = -1;
    FILE *t = !rc && x->raw < 0 ? fopen(x->path, "rb") : NULL;
    unsigned char tail[4];
    if (t && fseek(t, -4, SEEK_END) == 0 && fread(tail, 1, 4, t) == 4)
        x->isize = (int64_t)tail[0] | (int64_t)tail[1] << 8 | (int64_t)tail[2] << 16
                   | (int64_t)tail[3] << 24;
    if (t)
        fclose(t);
    if (rc) {
        gzclose(x->f);
        x->f = NULL;
    }
    return rc;
}

/* A raw file against the `total` payload bytes its header declares, from its size:
 * truncated or longer, found without reading (so also when only its head is read).
 * gzip files are checked as they are read. */
static int data_idx_size(const data_idx *x, size_t total, err *e)
{
    if (x->raw >= 0 && (uint64_t)x->raw < total)
        return err_set(e, ERR_DATA, "%s: truncated: data needs %zu bytes, file holds %lld",
                       x->path, total, (long long)x->raw);
    if (x->raw >= 0 && (uint64_t)x->raw > total)
        return err_set(e, ERR_DATA, "%s: more data than the header's %zu bytes", x->path, total);
    return 0;
}

/* Whether x says it holds all `bytes` (header and payload) its header declares, so that
 * reading only its head is safe: a raw file's size (data_idx_size checked it), a gzip
 * file's trailer ISIZE (mod 2^32; bytes < 2^32 under DATA_IDX_MAX_BYTES). A cut gzip
 * file (its last 4 bytes are not its trailer) or one of several members is read whole,
 * and so still checked (truncated, corrupt, CRC). */
static int data_idx_complete(const data_idx *x, uint64_t bytes)
{
    return x->raw >= 0 || x->isize == (int64_t)(bytes & 0xffffffffu);
}

/* Read the first len of the total payload bytes after the header into a new buffer *out
 * (caller frees). The buffer grows as the bytes arrive, so a header that claims more
 * than the file holds costs no more memory than the file does. When len = total,
 * anything after the payload is an error: that also makes zlib check the gzip trailer
 * (CRC and length); a head (len < total) leaves the rest unread and unchecked. */
static int data_idx_payload(data_idx *x, unsigned char **out, size_t len, size_t total,
                            err *e)
{
    unsigned char *buf = NULL;
    size_t cap = 0, got = 0;
    int zerr, rc = 0;
    while (!rc && got < len) {
        size_t c = cap ? (cap < len / 2 ? 2 * cap : len) : (len < (1u << 20) ? len : (1u << 20));
        unsigned char *p = realloc(buf, c);
        if (!p) {
            rc = err_set(e, ERR_SYS, "%s: out of memory (%zu bytes)", x->path, c);
            break;
        }
        buf = p;
        rc = data_gz_fill(x->f, x->path, buf + cap, c - cap, "data", total, &got, e);
        cap = c;
    }
    unsigned char extra;
    int r = rc || len < total ? 0 : gzread(x->f, &extra, 1);
    if (r < 0)
        rc = err_set(e, ERR_DATA, "%s: corrupt gzip data: %s", x->path, gzerror(x->f, &zerr));
    else if (r > 0)
        rc = err_set(e, ERR_DATA, "%s: more data than the header's %zu bytes", x->path, len);
    if (rc)
        free(buf);
    *out = rc ? NULL : buf;
    return rc;
}

/* The labels of `split` in DIR (train-* or t10k-* names) in a new dataset *out without
 * x, and its images as bytes in *px (malloc'ed, caller frees): all n of them, or with
 * head > 0 only the first min(head, n) (px (min(head, n), d); the labels are read whole,
 * n bytes, and give the class count). */
static int data_idx_load(const char *dir, int fashion, enum data_split split, size_t head,
                         data **out, unsigned char **px, err *e)
{
    const char *pre = split == DATA_TRAIN ? "train" : "t10k";
    char base[32];
    data_idx im, lb = { .f = NULL };
    *out = NULL;
    *px = NULL;
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", pre);
    int rc = data_idx_open(&im, dir, base, fashion, DATA_IDX_IMAGES, 3, e);
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", pre);
    if (!rc)
        rc = data_idx_open(&lb, dir, base, fashion, DATA_IDX_LABELS, 1, e);
    if (!rc && im.dims[0] != lb.dims[0])
        rc = err_set(e, ERR_DATA, "%s holds %u images but %s holds %u labels", im.path,
                     (unsigned)im.dims[0], lb.path, (unsigned)lb.dims[0]);
    if (!rc && (uint64_t)im.dims[1] * im.dims[2] > INT_MAX)
        rc = err_set(e, ERR_DATA, "%s: %ux%u images are too large", im.path,
                     (unsigned)im.dims[1], (unsigned)im.dims[2]);
    size_t n = rc ? 0 : im.dims[0], total = rc ? 0 : n * im.dims[1] * im.dims[2];
    rc = rc ? rc : data_idx_size(&im, total, e);
    if (!rc && total > DATA_IDX_MAX_BYTES)
        rc = err_set(e, ERR_DATA, "%s: the header declares %zu images of %ux%u (%zu bytes); "
                     "at most %zu bytes (2 GiB) of images are read", im.path, n,
                     (unsigned)im.dims[1], (unsigned)im.dims[2], total, DATA_IDX_MAX_BYTES);
    rc = rc ? rc : data_idx_size(&lb, n, e);
    /* the images read: the head asked for, when the file says it is whole */
    size_t k = head && head < n && data_idx_complete(&im, 16 + (uint64_t)total) ? head : n;
    data *d = NULL;
    unsigned char *lab = NULL;
    if (!rc)
        rc = data_idx_payload(&im, px, k * (total / n), total, e);
    if (!rc)
        rc = data_idx_payload(&lb, &lab, n, n, e);
    if (!rc && !(d = data_alloc(n, 0, 1, 0, e)))   /* n is now backed by the files */
        rc = ERR_SYS;
    for (size_t i = 0; !rc && i < n; i++) {
        if (fashion && lab[i] >= DATA_FASHION_CLASSES)
            rc = err_set(e, ERR_DATA, "%s: label %d of sample %zu is out of range (fashion-mnist "
                         "has %d classes)", lb.path, lab[i], i, DATA_FASHION_CLASSES);
        d->y[i] = lab[i];
        d->classes = lab[i] >= d->classes ? lab[i] + 1 : d->classes;
    }
    if (!rc) {
        d->d = (int)(total / n);
        d->h = (int)im.dims[1];
        d->w = (int)im.dims[2];
        if (fashion)
            d->classes = DATA_FASHION_CLASSES;
    }
    if (im.f)
        gzclose(im.f);
    if (lb.f)
        gzclose(lb.f);
    free(lab);
    if (rc) {
        data_free(d);
        free(*px);
        *px = NULL;
        return rc;
    }
    *out = d;
    return 0;
}

/* ---- CSV ------------------------------------------------------------------------ */

/* s as a finite number followed by nothing but blanks. */
static int data_parse_number(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    if (end == s || !isfinite(*v))
        return -1;
    end += strspn(end, " \t");
    return *end ? -1 : 0;
}

/* s as a label: a decimal integer >= 0 followed by nothing but blanks (0), beyond the
 * classes a loss takes (1: it is in [AD_MAX_CLASSES, INT_MAX)), or not (-1). */
static int data_parse_label(const char *s, int *v)
{
    char *end;
    errno = 0;
    long l = strtol(s, &end, 10);
    if (end == s || errno || l < 0 || l >= INT_MAX)
        return -1;
    end += strspn(end, " \t");
    *v = (int)l;
    return *end ? -1 : l >= AD_MAX_CLASSES;
}

/* Append the row in `line` (NUL-terminated, no newline; split in place) to d.
 * *cols is the column count of the first row (0 before it). */
static int data_csv_row(const char *path, size_t lineno, char *line, data *d, size_t *cols,
                        size_t *xcap, size_t *ycap, err *e)
{
    size_t ncol = 1;
    for (const char *p = line; *p; p++)
        ncol += *p == ',';
    if (!*cols && (ncol < 2 || ncol - 1 > INT_MAX))
        return err_set(e, ERR_DATA, "%s:%zu: %zu columns (need a label and 1 to %d features)",
                       path, lineno, ncol, INT_MAX);
    if (*cols && ncol != *cols)
        return err_set(e, ERR_DATA, "%s:%zu: %zu columns, expected %zu as on the first row",
                       path, lineno, ncol, *cols);
    *cols = ncol;
    d->d = (int)(ncol - 1);
    double *x = data_grow(d->x, xcap, (d->n + 1) * (size_t)d->d, sizeof *x, e);
    if (x)
        d->x = x;
    int *y = x ? data_grow(d->y, ycap, d->n + 1, sizeof *y, e) : NULL;
    if (!y)
        return ERR_SYS;
    d->y = y;
    x += d->n * (size_t)d->d;
    char *field = line;
    for (size_t col = 1; col <= ncol; col++) {
        char *end = field + strcspn(field, ",");
        *end = '\0';
        int lab = col == 1 ? data_parse_label(field, &y[d->n]) : 0;
        if (lab > 0)
            return err_set(e, ERR_DATA, "%s:%zu: column 1: label '%.40s' is out of range: at "
                           "most %d classes (labels 0 to %d)", path, lineno, field,
                           AD_MAX_CLASSES, AD_MAX_CLASSES - 1);
        if (lab < 0)
            return err_set(e, ERR_DATA, "%s:%zu: column 1: label '%.40s' is not a non-negative "
                           "integer", path, lineno, field);
        if (col > 1 && data_parse_number(field, &x[col - 2]))
            return err_set(e, ERR_DATA, "%s:%zu: column %zu: '%.40s' is not a finite number",
                           path, lineno, col, field);
        field = end + 1;
    }
    if (y[d->n] >= d->classes)
        d->classes = y[d->n] + 1;
    d->n++;
    return 0;
}

/* Whether `line` is a header: its first field is not a number. */
static int data_csv_is_header(char *line)
{
    size_t k = strcspn(line, ",");
    char c = line[k];
    double v;
    line[k] = '\0';
    int header = data_parse_number(line, &v) != 0;
    line[k] = c;
    return header;
}

/* Read a CSV file: one sample per line, the label first, then the features, separated
 * by commas. A UTF-8 byte-order mark is dropped (as the experiment-file reader does);
 * a first line whose first field is not a number is then a header and skipped; blank
 * lines are skipped; lines may be of any length. */
static int data_csv_load(const char *path, data **out, err *e)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(e, ERR_DATA, "%s: cannot open: %s", path, strerror(errno));
    data *d = data_alloc(0, 0, 0, 0, e);
    char *line = NULL;
    size_t linecap = 0, lineno = 0, cols = 0, xcap = 0, ycap = 0;
    ssize_t len;
    int rc = d ? 0 : ERR_SYS, first = 1;
    while (!rc && (len = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (first && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) {
            memmove(line, line + 3, (size_t)len - 2);   /* a UTF-8 byte-order mark */
            len -= 3;
        }
        if (!len)
            continue;
        if (first) {
            first = 0;
            if (data_csv_is_header(line))
                continue;
        }
        rc = data_csv_row(path, lineno, line, d, &cols, &xcap, &ycap, e);
    }
    if (!rc && !feof(f))
        rc = err_set(e, ERR_SYS, "%s: read error: %s", path, strerror(errno));
    if (!rc && !d->n)
        rc = err_set(e, ERR_DATA, "%s: empty: no data rows", path);
    free(line);
    fclose(f);
    if (rc) {
        data_free(d);
        return rc;
    }
    d->w = d->d;
    *out = d;
    return 0;
}

/* ---- synthetic sets ------------------------------------------------------------- */

/* blobs: sample i is class i % C, drawn from N(mu_c, noise^2 I); the centres
 * mu_c ~ N(0, 4 I) come from the shared stream. */
static data *data_blobs(const data_opts *o, size_t n, gsl_rng *shared, gsl_rng *r, err *e)
{
    int dim = o->synth_dim ? o->synth_dim : 2, classes = o->synth_classes ? o->synth_classes : 3;
    double noise = o->synth_noise ? o->synth_noise : 1.0;
    double *mu = err_malloc(e, (size_t)classes * (size_t)dim * sizeof *mu);
    data *d = mu ? data_alloc(n, dim, 1, 0, e) : NULL;
    if (d) {
        d->classes = classes;
        for (size_t k = 0; k < (size_t)classes * (size_t)dim; k++)
            mu[k] = gsl_ran_gaussian(shared, 2.0);
        for (size_t i = 0; i < n; i++) {
            d->y[i] = (int)(i % (size_t)classes);
            for (int j = 0; j < dim; j++)
                d->x[i * (size_t)dim + j] = mu[(size_t)d->y[i] * (size_t)dim + j]
                                            + gsl_ran_gaussian(r, noise);
        }
    }
    free(mu);
    return d;
}

/* spirals: C interleaved arms in the plane; sample i is on arm c = i % C at
 * t ~ U(0,1): radius t, angle 2 pi c / C + 3 pi t + noise * N(0,1) (1.5 turns). */
static data *data_spirals(const data_opts *o, size_t n, gsl_rng *r, err *e)
{
    int classes = o->synth_classes ? o->synth_classes : 2;
    double noise = o->synth_noise ? o->synth_noise : 0.2;
    data *d = data_alloc(n, 2, 1, 0, e);
    if (!d)
        return NULL;
    d->classes = classes;
    for (size_t i = 0; i < n; i++) {
        d->y[i] = (int)(i % (size_t)classes);
        double t = gsl_rng_uniform(r);
        double a = 2 * DATA_PI * d->y[i] / classes + 3 * DATA_PI * t + gsl_ran_gaussian(r, noise);
        d->x[2 * i] = t * cos(a);
        d->x[2 * i + 1] = t * sin(a);
    }
    return d;
}

/* teacher: x ~ N(0, I), t = W2 tanh(W1 x + b1) + b2 + noise * N(0, I). The teacher's
 * weights and biases, drawn in the order W1 (32, dim), b1, W2 (tdim, 32), b2 from the
 * shared stream, are N(0, 1/fan_in). */
static data *data_teacher(const data_opts *o, size_t n, gsl_rng *shared, gsl_rng *r, err *e)
{
    enum { H = DATA_TEACHER_WIDTH };
    int dim = o->synth_dim ? o->synth_dim : 10, tdim = o->synth_classes ? o->synth_classes : 1;
    size_t nw = (size_t)H * (size_t)dim + H + (size_t)tdim * H + (size_t)tdim;
    double *w = err_malloc(e, nw * sizeof *w);
    data *d = w ? data_alloc(n, dim, 0, tdim, e) : NULL;
    if (d) {
        double *w1 = w, *b1 = w1 + (size_t)H * dim, *w2 = b1 + H, *b2 = w2 + (size_t)tdim * H;
        for (size_t k = 0; k < nw; k++) /* fan_in: dim for W1 and b1, H for W2 and b2 */
            w[k] = gsl_ran_gaussian(shared, 1.0 / sqrt(k < (size_t)(w2 - w) ? dim : H));
        for (size_t i = 0; i < n; i++) {
            double *x = d->x + i * (size_t)dim, *t = d->t + i * (size_t)tdim, h[H];
            for (int j = 0; j < dim; j++)
                x[j] = gsl_ran_gaussian(r, 1.0);
            for (int u = 0; u < H; u++) {
                double s = b1[u];
                for (int j = 0; j < dim; j++)
                    s += w1[(size_t)u * dim + j] * x[j];
                h[u] = tanh(s);
            }
            for (int k = 0; k < tdim; k++) {
                double s = b2[k];
                for (int u = 0; u < H; u++)
                    s += w2[(size_t)k * H + u] * h[u];
                t[k] = s + gsl_ran_gaussian(r, o->synth_noise);
            }
        }
    }
    free(w);
    return d;
}

/* A synthetic set: parameters both splits share come from RNG_SYNTH sub-stream
 * DATA_SYNTH_SHARED, the samples from sub-stream `split`. */
static int data_synth_load(const data_opts *o, enum data_synth kind, data **out, err *e)
{
    size_t n = o->samples ? o->samples : DATA_SYNTH_N;
    if (kind == DATA_SPIRALS && o->synth_dim && o->synth_dim != 2)
        return err_set(e, ERR_USAGE, "spirals are 2-D, not %d-D", o->synth_dim);
    gsl_rng *shared = rng_stream(o->seed, RNG_SYNTH, DATA_SYNTH_SHARED);
    gsl_rng *r = rng_stream(o->seed, RNG_SYNTH, (uint64_t)o->split);
    *out = NULL;
    if (!shared || !r)
        err_set(e, ERR_SYS, "out of memory (random streams)");
    else if (kind == DATA_BLOBS)
        *out = data_blobs(o, n, shared, r, e);
    else if (kind == DATA_SPIRALS)
        *out = data_spirals(o, n, r, e);
    else
        *out = data_teacher(o, n, shared, r, e);
    rng_free(shared);
    rng_free(r);
    return *out ? 0 : ERR_SYS;
}

/* ---- pipeline ------------------------------------------------------------------- */

/* A new array of k indices from [0, n) in increasing order: the first k when r is
 * NULL, else a uniformly random k-subset drawn from r. NULL when out of memory. */
static size_t *data_pick(gsl_rng *r, size_t n, size_t k, err *e)
{
    size_t *all = err_malloc(e, n * sizeof *all);
    for (size_t i = 0; all && i < n; i++)
        all[i] = i;
    if (!all || !r)
        return all;
    size_t *pick = err_malloc(e, k * sizeof *pick);
    if (pick)
        gsl_ran_choose(r, pick, k, all, n, sizeof *all);
    free(all);
    return pick;
}

/* Keep rows idx[0..m) of d (strictly increasing, so compacting in place is safe);
 * with IDX pixel bytes px (n, d), x is made from the kept rows of px. */
static int data_keep(data *d, const unsigned char *px, const size_t *idx, size_t m, err *e)
{
    size_t dim = (size_t)d->d, td = (size_t)d->tdim;
    if (px && !(d->x = err_malloc(e, m * dim * sizeof *d->x)))
        return ERR_SYS;
    for (size_t i = 0; i < m; i++) {
        size_t j = idx[i];
        if (px)
            for (size_t k = 0; k < dim; k++)
                d->x[i * dim + k] = px[j * dim + k];
        else if (j != i)
            memcpy(d->x + i * dim, d->x + j * dim, dim * sizeof *d->x);
        if (d->y)
            d->y[i] = d->y[j];
        if (d->t && j != i)
            memcpy(d->t + i * td, d->t + j * td, td * sizeof *d->t);
    }
    d->n = m;
    /* A small subset of a big set should not pin the big buffer; if the shrink
     * fails the old block is still valid. */
    double *x = px ? NULL : realloc(d->x, m * dim * sizeof *x);
    if (x)
        d->x = x;
    return 0;
}

/* Filter idx[0..k) (training split) so that class c keeps, of its n_c samples, the
 * first max(1, floor(n_c / R)) when c >= C/2 (STEP), or max(1, floor(n_c R^(-c/(C-1))))
 * (EXP); the others keep all. Returns the new count in *k. */
static int data_imbalance(const data_opts *o, const data *d, size_t *idx, size_t *k, err *e)
{
    if (!d->y)
        return err_set(e, ERR_USAGE, "imbalance %g: %s has no class labels", o->imbalance, d->name);
    int classes = d->classes;
    size_t *keep = err_calloc(e, (size_t)classes, sizeof *keep);
    if (!keep)
        return ERR_SYS;
    for (size_t i = 0; i < *k; i++)
        keep[d->y[idx[i]]]++;
    for (int c = 0; c < classes; c++) {
        double kept = (double)keep[c];
        if (o->imbalance_type == DATA_IMB_STEP && c >= classes / 2)
            kept = floor(kept / o->imbalance);
        else if (o->imbalance_type == DATA_IMB_EXP && classes > 1)
            /* the slack keeps an exact product like 100 * 10^-1 from flooring to 9 */
            kept = floor(kept * pow(o->imbalance, -(double)c / (classes - 1)) + 1e-9);
        keep[c] = keep[c] ? (kept < 1 ? 1 : (size_t)kept) : 0;
    }
    size_t m = 0;
    for (size_t i = 0; i < *k; i++)
        if (keep[d->y[idx[i]]]) {
            keep[d->y[idx[i]]]--;
            idx[m++] = idx[i];
        }
    *k = m;
    free(keep);
    return 0;
}

/* Choose the samples: the first `samples` or a seeded random subset, then (training
 * split) the class imbalance; keep them (see data_keep for px). */
static int data_choose(const data_opts *o, data *d, const unsigned char *px, err *e)
{
    size_t k = o->samples ? o->samples : d->n;
    if (k > d->n)
        return err_set(e, ERR_DATA, "%s: %zu samples asked for, but it holds only %zu",
                       d->name, k, d->n);
    gsl_rng *r = NULL;
    if (o->random_subset && !(r = rng_stream(o->seed, RNG_SUBSET, (uint64_t)o->split)))
        return err_set(e, ERR_SYS, "out of memory (random stream)");
    size_t *idx = data_pick(r, d->n, k, e);
    rng_free(r);
    if (!idx)
        return ERR_SYS;
    int rc = 0;
    if (o->split == DATA_TRAIN && o->imbalance > 1)
        rc = data_imbalance(o, d, idx, &k, e);
    if (!rc)
        rc = data_keep(d, px, idx, k, e);
    free(idx);
    return rc;
}

/* Training split: round(f n) samples drawn from RNG_NOISE get a uniformly drawn
 * different class. */
static int data_label_noise(const data_opts *o, data *d, err *e)
{
    if (o->label_noise == 0)
        return 0;
    if (!d->y || d->classes < 2)
        return err_set(e, ERR_USAGE, "label noise %g: %s has %s", o->label_noise, d->name,
                       d->y ? "fewer than 2 classes" : "no class labels");
    size_t k = (size_t)floor(o->label_noise * (double)d->n + 0.5);
    gsl_rng *r = rng_stream(o->seed, RNG_NOISE, 0);
    if (!r)
        return err_set(e, ERR_SYS, "out of memory (random stream)");
    size_t *idx = data_pick(r, d->n, k, e);
    for (size_t i = 0; idx && i < k; i++) {
        int *y = &d->y[idx[i]];
        int c = (int)gsl_rng_uniform_int(r, (unsigned long)d->classes - 1);
        *y = c + (c >= *y);
    }
    int rc = idx ? 0 : ERR_SYS;
    free(idx);
    rng_free(r);
    return rc;
}

/* Per-feature (x - mean) / sd with the training split's statistics; sd = 0 (a constant
 * feature) only centres. The test split loads the training split's selection again. */
static int data_standardize(const data_opts *o, data *d, err *e)
{
    data *train = d;
    if (o->split != DATA_TRAIN) {
        data_opts to = *o;
        to.split = DATA_TRAIN;
        to.scale = DATA_SCALE_NONE;
        to.label_noise = 0; /* labels do not enter the statistics */
        if (data_load(&to, &train, e))
            return err_wrap(e, "standardizing %s with training statistics", d->name);
        if (train->d != d->d) {
            int rc = err_set(e, ERR_DATA, "%s has %d features but %s has %d", d->name, d->d,
                             train->name, train->d);
            data_free(train);
            return rc;
        }
    }
    size_t dim = (size_t)d->d, n = train->n;
    double *mean = err_calloc(e, 2 * dim, sizeof *mean);
    int rc = mean ? 0 : ERR_SYS;
    if (mean) {
        double *sd = mean + dim;
        /* Sums of x - x_0 are exact for constant features and stable for the rest. */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < dim; j++)
                mean[j] += train->x[i * dim + j] - train->x[j];
        for (size_t j = 0; j < dim; j++)
            mean[j] = train->x[j] + mean[j] / (double)n;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < dim; j++) {
                double v = train->x[i * dim + j] - mean[j];
                sd[j] += v * v;
            }
        for (size_t j = 0; j < dim; j++) {
            sd[j] = sqrt(sd[j] / (double)n);
            if (!(sd[j] > 0))
                sd[j] = 1;
        }
        for (size_t i = 0; i < d->n; i++)
            for (size_t j = 0; j < dim; j++)
                d->x[i * dim + j] = (d->x[i * dim + j] - mean[j]) / sd[j];
    }
    free(mean);
    if (train != d)
        data_free(train);
    return rc;
}

static int data_check_opts(const data_opts *o, err *e)
{
    if (!o->spec)
        return err_set(e, ERR_USAGE, "no dataset given");
    if ((unsigned)o->split > DATA_TEST)
        return err_set(e, ERR_USAGE, "split %d: must be train (0) or test (1)", (int)o->split);
    if ((unsigned)o->scale > DATA_SCALE_NONE)
        return err_set(e, ERR_USAGE, "scaling %d is not a data_scale", (int)o->scale);
    if ((unsigned)o->imbalance_type > DATA_IMB_EXP)
        return err_set(e, ERR_USAGE, "imbalance type %d: must be step or exp",
                       (int)o->imbalance_type);
    if (!(o->imbalance == 0 || o->imbalance >= 1))
        return err_set(e, ERR_USAGE, "imbalance %g: must be 0 (off) or a ratio >= 1", o->imbalance);
    if (!(o->label_noise >= 0 && o->label_noise < 1))
        return err_set(e, ERR_USAGE, "label noise %g: must lie in [0, 1)", o->label_noise);
    if (o->synth_dim < 0 || o->synth_classes < 0 || !(o->synth_noise >= 0))
        return err_set(e, ERR_USAGE, "synthetic dim %d, classes %d, noise %g: must not be negative",
                       o->synth_dim, o->synth_classes, o->synth_noise);
    return 0;
}

/* The kind of source `s` names; for synthetic sets *synth is which. */
enum spec_kind { SPEC_FASHION, SPEC_IDX, SPEC_CSV, SPEC_SYNTH, SPEC_UNKNOWN };

static enum spec_kind spec_kind(const char *s, enum data_synth *synth)
{
    static const char *const names[] = { [DATA_BLOBS] = "blobs", [DATA_SPIRALS] = "spirals",
                                         [DATA_TEACHER] = "teacher" };
    if (!strcmp(s, "fashion-mnist"))
        return SPEC_FASHION;
    if (!strncmp(s, "idx:", 4) && s[4])
        return SPEC_IDX;
    if (!strncmp(s, "csv:", 4) && s[4] && s[4] != ',')
        return SPEC_CSV;
    for (int k = DATA_BLOBS; k <= DATA_TEACHER; k++)
        if (!strcmp(s, names[k]))
            return *synth = (enum data_synth)k, SPEC_SYNTH;
    return SPEC_UNKNOWN;
}

int data_spec_check(const char *spec, err *e)
{
    enum data_synth synth;
    if (spec_kind(spec, &synth) != SPEC_UNKNOWN)
        return 0;
    return err_set(e, ERR_USAGE, "unknown dataset '%s' (known: fashion-mnist, idx:DIR, "
                   "csv:TRAIN[,TEST], blobs, spirals, teacher)", spec);
}

/* Every sample of the split from the source `o->spec` names. IDX sources leave x
 * NULL and return their pixels as bytes in *px (caller frees); others set *px = NULL. */
static int data_read(const data_opts *o, data **out, unsigned char **px, err *e)
{
    const char *s = o->spec;
    enum data_synth synth = DATA_BLOBS;
    *out = NULL;
    *px = NULL;
    switch (spec_kind(s, &synth)) {
    case SPEC_FASHION:   /* the first N samples read the first N images alone */
        return data_idx_load(data_fashion_dir(), 1, o->split,
                             o->random_subset ? 0 : o->samples, out, px, e);
    case SPEC_IDX:
        return data_idx_load(s + 4, 0, o->split, o->random_subset ? 0 : o->samples, out, px, e);
    case SPEC_SYNTH:
        return data_synth_load(o, synth, out, e);
    case SPEC_UNKNOWN:
        return data_spec_check(s, e);
    case SPEC_CSV:
        break;
    }
    const char *train = s + 4, *comma = strchr(train, ',');
    if (o->split == DATA_TEST && (!comma || !comma[1]))
        return err_set(e, ERR_USAGE, "%s: the test split needs a second file (csv:TRAIN,TEST)", s);
    if (o->split == DATA_TEST)
        return data_csv_load(comma + 1, out, e);
    if (!comma)
        return data_csv_load(train, out, e);
    char path[DATA_PATH_MAX];
    size_t len = (size_t)(comma - train);
    if (len >= sizeof path)
        return err_set(e, ERR_USAGE, "%s: file name too long", s);
    memcpy(path, train, len);
    path[len] = '\0';
    return data_csv_load(path, out, e);
}

int data_load(const data_opts *o, data **out, err *e)
{
    data *d = NULL;
    unsigned char *px = NULL;
    int rc = data_check_opts(o, e);
    *out = NULL;
    if (!rc)
        rc = data_read(o, &d, &px, e);
    if (!rc) {
        snprintf(d->name, sizeof d->name, "%s:%s", o->spec,
                 o->split == DATA_TRAIN ? "train" : "test");
        rc = data_choose(o, d, px, e);
    }
    int image = px != NULL; /* pixels scale to [0,1] by default */
    free(px);
    if (!rc && o->split == DATA_TRAIN)
        rc = data_label_noise(o, d, e);
    enum data_scale scale = o->scale;
    if (scale == DATA_SCALE_DEFAULT)
        scale = image ? DATA_SCALE_UNIT : DATA_SCALE_NONE;
    if (!rc && scale == DATA_SCALE_UNIT)
        for (size_t i = 0; i < d->n * (size_t)d->d; i++)
            d->x[i] /= 255.0;
    if (!rc && scale == DATA_SCALE_STANDARDIZE)
        rc = data_standardize(o, d, e);
    if (rc) {
        data_free(d);
        return rc;
    }
    *out = d;
    return 0;
}
