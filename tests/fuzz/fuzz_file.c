/* fuzz_file.c -- the scratch directory of the fuzz targets (fuzz.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static char scratch[4096];

/* Remove the scratch directory and what the targets left in it (flat, few files). */
static void fuzz_cleanup(void)
{
    static const char *const names[] = {
        "in.ini", "in.csv", "in.npy", "in.db", "in.db-wal", "in.db-shm", "in.db-journal",
        "out.db", "out.db-wal", "out.db-shm", "out.db-journal",
        "idx/train-images-idx3-ubyte", "idx/train-labels-idx1-ubyte",
        "idx/t10k-images-idx3-ubyte", "idx/t10k-labels-idx1-ubyte",
    };
    char p[4200];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(fuzz_path(p, sizeof p, names[i]));
    rmdir(fuzz_path(p, sizeof p, "idx"));
    rmdir(scratch);
}

char *fuzz_path(char *buf, size_t cap, const char *name)
{
    if (!*scratch) {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch, sizeof scratch, "%s/basin-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(scratch)) {
            perror(scratch);
            abort();
        }
        atexit(fuzz_cleanup);
    }
    if ((size_t)snprintf(buf, cap, "%s/%s", scratch, name) >= cap)
        abort();
    return buf;
}

char *fuzz_write(char *buf, size_t cap, const char *name, const uint8_t *data, size_t size)
{
    FILE *f = fopen(fuzz_path(buf, cap, name), "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f)) {
        perror(buf);
        abort();
    }
    return buf;
}

void fuzz_remove(const char *name)
{
    char p[4200];
    unlink(fuzz_path(p, sizeof p, name));
}
