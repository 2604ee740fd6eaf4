/* fuzz_idx.c -- libFuzzer target: IDX datasets, raw or gzip. The input is
 * [2-byte little-endian length L][L bytes: labels file][rest: images file]; both go
 * into a directory read as `--data idx:DIR` (models/data.c): IDX headers, gzip
 * streams (zlib reads raw files transparently), counts, payload lengths, trailers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "../../models/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4200], spec[4300];
    if (size < 2)
        return 0;
    size_t nl = (size_t)data[0] | (size_t)data[1] << 8;
    data += 2;
    size -= 2;
    if (nl > size)
        nl = size;
    fuzz_path(path, sizeof path, "idx");
    if (mkdir(path, 0700) && errno != EEXIST)
        abort();
    fuzz_write(path, sizeof path, "idx/train-labels-idx1-ubyte", data, nl);
    fuzz_write(path, sizeof path, "idx/train-images-idx3-ubyte", data + nl, size - nl);
    data_opts o;
    struct data *d;
    err e = {0};
    snprintf(spec, sizeof spec, "idx:%s", fuzz_path(path, sizeof path, "idx"));
    data_opts_default(&o);
    o.spec = spec;
    if (data_load(&o, &d, &e) == 0)
        data_free(d);
    return 0;
}
