/* fuzz_csv.c -- libFuzzer target: CSV datasets. The input is a CSV file; data_load
 * reads it as `--data csv:FILE --scale standardize` does (models/data.c): header
 * detection, labels, finite features, equal row widths, then standardization. */
#include <stdio.h>

#include "fuzz.h"
#include "../../models/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4200], spec[4300];
    data_opts o;
    struct data *d;
    err e = {0};
    fuzz_write(path, sizeof path, "in.csv", data, size);
    snprintf(spec, sizeof spec, "csv:%s", path);
    data_opts_default(&o);
    o.spec = spec;
    o.scale = DATA_SCALE_STANDARDIZE;
    if (data_load(&o, &d, &e) == 0)
        data_free(d);
    return 0;
}
