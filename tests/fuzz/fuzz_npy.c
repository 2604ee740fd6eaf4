/* fuzz_npy.c -- libFuzzer target: .npy files. The input is a .npy file; npy_read
 * parses its preamble and header dict and reads the float64 data (core/npy.c). */
#include <stdlib.h>

#include "fuzz.h"
#include "../../core/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4200];
    double *x;
    size_t n;
    err e = {0};
    fuzz_write(path, sizeof path, "in.npy", data, size);
    if (npy_read(path, &x, &n, &e) == 0)
        free(x);
    return 0;
}
