/* npy.c -- NumPy .npy files in and out (see npy.h).
 *
 * The format (numpy.lib.format): the magic "\x93NUMPY", major and minor version
 * bytes, the header length (uint16 little-endian in 1.0, uint32 in 2.0 and 3.0),
 * then a Python dict literal {'descr': '<f8', 'fortran_order': False, 'shape': (n,), }
 * padded with spaces to a multiple of 64 bytes and ended by '\n', then the raw data. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c moves '<f8' data with fread/fwrite and needs a little-endian host"
#endif

/* Headers beyond this are refused as malformed (numpy itself refuses 10000 bytes). */
#define NPY_MAX_HEADER (1u << 20)

static const char *npy_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* A quoted Python string at p into out[cap]; the position after it, or NULL. */
static const char *npy_string(const char *p, char *out, size_t cap)
{
    if (*p != '\'' && *p != '"')
        return NULL;
    const char *end = strchr(p + 1, *p);
    if (!end || (size_t)(end - p - 1) >= cap)
        return NULL;
    memcpy(out, p + 1, (size_t)(end - p - 1));
    out[end - p - 1] = '\0';
    return end + 1;
}

/* A shape tuple "(d0, d1, ...)" at p; *n = the product of the dimensions (1 for "()").
 * The position after it, or NULL when malformed or the product overflows. */
static const char *npy_shape(const char *p, size_t *n)
{
    if (*p != '(')
        return NULL;
    size_t prod = 1;
    for (p = npy_ws(p + 1); *p != ')';) {
        if (*p < '0' || *p > '9')
            return NULL;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || v > SIZE_MAX || (v && prod > SIZE_MAX / v))
            return NULL;
        prod *= (size_t)v;
        p = npy_ws(end);
        if (*p == ',')
            p = npy_ws(p + 1);
        else if (*p != ')')
            return NULL;
    }
    *n = prod;
    return p + 1;
}

/* A Python bool at p into *v; the position after it, or NULL. */
static const char *npy_bool(const char *p, int *v)
{
    *v = !strncmp(p, "True", 4);
    if (*v)
        return p + 4;
    return strncmp(p, "False", 5) ? NULL : p + 5;
}

/* Parse the header dict `h`; *n = element count. ERR_DATA unless it describes a
 * C-ordered '<f8' array. */
static int npy_parse(const char *path, const char *h, size_t *n, err *e)
{
    char descr[32] = "", key[32];
    int fortran = -1, shape = 0;
    const char *p = npy_ws(h);
    if (*p++ != '{')
        goto bad;
    for (p = npy_ws(p); *p != '}'; p = npy_ws(p)) {
        if (!(p = npy_string(p, key, sizeof key)))
            goto bad;
        p = npy_ws(p);
        if (*p++ != ':')
            goto bad;
        p = npy_ws(p);
        if (!strcmp(key, "descr"))
            p = npy_string(p, descr, sizeof descr);
        else if (!strcmp(key, "fortran_order"))
            p = npy_bool(p, &fortran);
        else if (!strcmp(key, "shape")) {
            p = npy_shape(p, n);
            shape = 1;
        } else
            goto bad;
        if (!p)
            goto bad;
        p = npy_ws(p);
        if (*p == ',')
            p++;
        else if (*p != '}')
            goto bad;
    }
    if (!*descr || fortran < 0 || !shape)
        goto bad;
    if (strcmp(descr, "<f8"))
        return err_set(e, ERR_DATA, "%s: dtype '%s' is not supported (need float64 '<f8'%s)",
                       path, descr, strcmp(descr, ">f8") ? "" : "; this file is big-endian");
    if (fortran)
        return err_set(e, ERR_DATA, "%s: fortran_order True is not supported (need a C-ordered array)",
                       path);
    return 0;
bad:
    return err_set(e, ERR_DATA, "%s: malformed .npy header (expected a dict with 'descr', "
                   "'fortran_order' and 'shape')", path);
}

static int npy_truncated(const char *path, size_t want, size_t held, err *e)
{
    return err_set(e, ERR_DATA, "%s: truncated: header says %zu elements, file holds %zu",
                   path, want, held);
}

/* Read the preamble and header of open file f, leaving it at the data; *n = element
 * count, checked against the file size for regular files. */
static int npy_header(FILE *f, const char *path, size_t *n, err *e)
{
    unsigned char pre[12];
    size_t got = fread(pre, 1, 10, f);
    if (got < 6 || memcmp(pre, "\x93NUMPY", 6))
        return err_set(e, ERR_DATA, "%s: not a .npy file (bad magic)", path);
    if (got < 10)
        return err_set(e, ERR_DATA, "%s: truncated header", path);
    size_t hlen = pre[8] | (size_t)pre[9] << 8;
    if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2)
            return err_set(e, ERR_DATA, "%s: truncated header", path);
        hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else if (pre[6] != 1) {
        return err_set(e, ERR_DATA, "%s: .npy format version %d.%d is not supported (need 1.0-3.0)",
                       path, pre[6], pre[7]);
    }
    if (hlen > NPY_MAX_HEADER)
        return err_set(e, ERR_DATA, "%s: malformed .npy header (%zu bytes long)", path, hlen);
    char *h = err_malloc(e, hlen + 1);
    if (!h)
        return ERR_SYS;
    int rc = 0;
    if (fread(h, 1, hlen, f) != hlen)
        rc = err_set(e, ERR_DATA, "%s: truncated header", path);
    h[hlen] = '\0';
    if (!rc && strlen(h) != hlen)
        rc = err_set(e, ERR_DATA, "%s: malformed .npy header (NUL byte)", path);
    if (!rc)
        rc = npy_parse(path, h, n, e);
    free(h);
    struct stat st;
    long pos;
    if (!rc && !fstat(fileno(f), &st) && S_ISREG(st.st_mode) && (pos = ftell(f)) >= 0) {
        size_t held = st.st_size > pos ? (size_t)(st.st_size - pos) / sizeof(double) : 0;
        if (*n > held)
            rc = npy_truncated(path, *n, held, e);
    }
    return rc;
}

/* Read n doubles of data from f into x. */
static int npy_body(FILE *f, const char *path, double *x, size_t n, err *e)
{
    size_t got = fread(x, sizeof *x, n, f);
    if (got == n)
        return 0;
    if (ferror(f))
        return err_set(e, ERR_SYS, "%s: read error: %s", path, strerror(errno));
    return npy_truncated(path, n, got, e);
}

static int npy_open(const char *path, FILE **f, err *e)
{
    *f = fopen(path, "rb");
    if (!*f)
        return err_set(e, ERR_DATA, "%s: cannot open: %s", path, strerror(errno));
    return 0;
}

int npy_read(const char *path, double **out, size_t *n, err *e)
{
    FILE *f;
    *out = NULL;
    *n = 0;
    int rc = npy_open(path, &f, e);
    if (rc)
        return rc;
    size_t count = 0;
    double *x = NULL;
    rc = npy_header(f, path, &count, e);
    if (!rc && !(x = err_malloc(e, count * sizeof *x)))
        rc = ERR_SYS;
    if (!rc)
        rc = npy_body(f, path, x, count, e);
    fclose(f);
    if (rc) {
        free(x);
        return rc;
    }
    *out = x;
    *n = count;
    return 0;
}

int npy_read_exact(const char *path, double *out, size_t n, err *e)
{
    FILE *f;
    int rc = npy_open(path, &f, e);
    if (rc)
        return rc;
    size_t count = 0;
    rc = npy_header(f, path, &count, e);
    if (!rc && count != n)
        rc = err_set(e, ERR_DATA, "%s: holds %zu elements, expected %zu", path, count, n);
    if (!rc)
        rc = npy_body(f, path, out, n, e);
    fclose(f);
    return rc;
}

int npy_write(const char *path, const double *x, size_t n, err *e)
{
    /* 10-byte preamble + dict + spaces + '\n', a multiple of 64 bytes. */
    char head[192];
    int len = snprintf(head + 10, sizeof head - 10,
                       "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu,), }", n);
    size_t total = ((size_t)len + 10 + 1 + 63) / 64 * 64, hlen = total - 10;
    memcpy(head, "\x93NUMPY", 6);
    head[6] = 1;
    head[7] = 0;
    head[8] = (char)(hlen & 0xff);
    head[9] = (char)(hlen >> 8);
    memset(head + 10 + len, ' ', total - 10 - (size_t)len);
    head[total - 1] = '\n';

    size_t plen = strlen(path) + 32;
    char *tmp = err_malloc(e, plen);
    if (!tmp)
        return ERR_SYS;
    snprintf(tmp, plen, "%s.tmp.%ld", path, (long)getpid());
    int rc = 0;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = err_set(e, ERR_SYS, "%s: cannot create: %s", tmp, strerror(errno));
    } else {
        int ok = fwrite(head, 1, total, f) == total && fwrite(x, sizeof *x, n, f) == n;
        ok = !fclose(f) && ok; /* fclose flushes: its failure is a write failure too */
        if (!ok)
            rc = err_set(e, ERR_SYS, "%s: write failed: %s", tmp, strerror(errno));
        else if (rename(tmp, path))
            rc = err_set(e, ERR_SYS, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        if (rc)
            unlink(tmp);
    }
    free(tmp);
    return rc;
}
