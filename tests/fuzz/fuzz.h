/* fuzz.h -- shared by the libFuzzer targets in tests/fuzz/ (make fuzz, make fuzz-ci).
 *
 * basin's parsers read named files, so each target writes the fuzzer's input to a
 * file in a private scratch directory (made once per process under $TMPDIR, removed
 * at exit) and calls the real reader on it: no test-only entry points. */
#ifndef BASIN_FUZZ_H
#define BASIN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* The path of `name` inside the scratch directory, written to buf[cap] (aborts when
 * it does not fit). Returns buf. */
char *fuzz_path(char *buf, size_t cap, const char *name);

/* Write data[0..size) to `name` in the scratch directory; its path into buf[cap].
 * Aborts (a fuzzer finding, not an input error) when the file cannot be written. */
char *fuzz_write(char *buf, size_t cap, const char *name, const uint8_t *data, size_t size);

/* Remove `name` from the scratch directory if it exists. */
void fuzz_remove(const char *name);

/* The entry point libFuzzer calls once per input; every target defines it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
