/* npy.h -- parameter vectors in and out as NumPy .npy files.
 *
 * basin exchanges theta, gradients, directions and HVPs with Python as 1-D float64
 * little-endian .npy arrays (format versions 1.0-3.0 read, 1.0 written). Shapes with
 * more than one dimension are accepted on read when C-ordered and flattened. */
#ifndef BASIN_NPY_H
#define BASIN_NPY_H

#include <stddef.h>
#include "err.h"

/* Read `path` into a new malloc'ed array (*out, caller frees) of *n doubles.
 * Errors (ERR_DATA, message naming the file): missing file, bad magic, unsupported
 * dtype (anything but '<f8'), Fortran order, truncated data, malformed header. */
int npy_read(const char *path, double **out, size_t *n, err *e);

/* Read `path`, requiring exactly `n` elements, into caller-owned `out`.
 * A length mismatch is ERR_DATA and names both lengths. */
int npy_read_exact(const char *path, double *out, size_t n, err *e);

/* Write x[0..n) to `path` as a 1-D '<f8' array. ERR_SYS on I/O failure. The file
 * is written to a temporary name and renamed, so a failed write leaves no torn file. */
int npy_write(const char *path, const double *x, size_t n, err *e);

#endif
