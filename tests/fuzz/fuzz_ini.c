/* fuzz_ini.c -- libFuzzer target: experiment files. The input is an experiment file;
 * exp_plan_load reads it (ini.c), validates every key and expands the sweep grid
 * (sweep.c), as `basin run FILE --dry-run` does. */
#include "fuzz.h"
#include "../../experiments/exp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4200];
    exp_plan p;
    err e = {0};
    fuzz_write(path, sizeof path, "in.ini", data, size);
    if (exp_plan_load(path, &p, &e) == 0)
        exp_plan_free(&p);
    return 0;
}
