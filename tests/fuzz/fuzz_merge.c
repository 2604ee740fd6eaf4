/* fuzz_merge.c -- libFuzzer target: `basin merge` on mutated databases. The input is
 * an SQLite file (the corpus holds small basin databases); store_merge opens it as a
 * store (schema version, migration) and merges it into a fresh OUT.db
 * (results/store.c). A corrupt file must give an error, never a crash. */
#include "fuzz.h"
#include "../../results/store.h"

/* The files a previous input left: merge must start from a fresh OUT.db and an
 * IN.db without a stale journal. */
static void fuzz_merge_clean(void)
{
    static const char *const names[] = {"in.db-wal", "in.db-shm", "in.db-journal", "out.db",
                                        "out.db-wal", "out.db-shm", "out.db-journal"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        fuzz_remove(names[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[4200], out[4200];
    err e = {0};
    fuzz_merge_clean();
    const char *ins[] = {fuzz_write(in, sizeof in, "in.db", data, size)};
    fuzz_path(out, sizeof out, "out.db");
    store_merge(out, ins, 1, &e);
    return 0;
}
