/* err.h -- errors as values.
 *
 * Every fallible function in basin returns an int status (0 on success) and, on
 * failure, leaves a human-readable message in a caller-owned `err` context. Only
 * main() turns a status into an exit code. The codes are the documented exit codes
 * of the basin command (README, "Exit codes"):
 *   ERR_OK    0  success
 *   ERR_DATA  1  bad data or input file, numerical failure (message names the file/value)
 *   ERR_USAGE 2  bad command line or option value
 *   ERR_SYS   3  system failure: out of memory, I/O error on an otherwise valid file */
#ifndef BASIN_ERR_H
#define BASIN_ERR_H

enum { ERR_OK = 0, ERR_DATA = 1, ERR_USAGE = 2, ERR_SYS = 3 };

typedef struct err {
    int code;        /* last status set, ERR_OK when clean */
    char msg[1024];  /* NUL-terminated message, "" when clean */
} err;

/* Record `code` and a printf-style message on `e` (which may be NULL) and return
 * `code`, so callers write `return err_set(e, ERR_DATA, "%s: truncated", path);`.
 * A message longer than msg keeps its head and its tail joined by "..." (cut between
 * UTF-8 characters): a long path is shortened in the middle, and the reason that
 * follows it survives. An argument may be e->msg itself. */
int err_set(err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the message already on `e` with more context ("while reading X: ..."), the
 * whole shortened as err_set's. Returns e->code. */
int err_wrap(err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Allocation helpers that report ERR_SYS on `e` when memory is exhausted: "out of
 * memory (N bytes, file.c:line)", the caller's file and line; a caller whose buffer is
 * large enough to be the one that fails names it with err_wrap ("lanczos: basis vector
 * 3: out of memory (...)"). They return NULL on failure; freeing is the caller's, with
 * free(). */
#define err_malloc(e, bytes) err_malloc_at((e), (bytes), ERR_HERE)
#define err_calloc(e, count, size) err_calloc_at((e), (count), (size), ERR_HERE)

/* A large buffer (hundreds of MB), in transparent huge pages and populated in one call
 * where the kernel allows (MADV_HUGEPAGE, MADV_POPULATE_WRITE): faulted in 4 KiB at a
 * time, fresh memory cost ~3 ms per MB on the virtual machine basin is benchmarked on,
 * 40 times more. Uninitialized; free() frees it. */
#define err_malloc_big(e, bytes) err_malloc_big_at((e), (bytes), ERR_HERE)

#define ERR_HERE ERR_HERE_(__FILE__, __LINE__)
#define ERR_HERE_(f, l) ERR_HERE__(f, l)
#define ERR_HERE__(f, l) f ":" #l
void *err_malloc_at(err *e, size_t bytes, const char *where);
void *err_calloc_at(err *e, size_t count, size_t size, const char *where);
void *err_malloc_big_at(err *e, size_t bytes, const char *where);

#endif
