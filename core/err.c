/* err.c -- the error context of err.h, and its allocation helpers. */
#define _DEFAULT_SOURCE   /* madvise */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include "err.h"

int err_set(err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return code;
}

int err_wrap(err *e, const char *fmt, ...)
{
    if (!e)
        return ERR_SYS;
    char head[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t k = strlen(head);   /* the message is cut, not overflowed, when too long */
    if (k > sizeof e->msg - 3)
        k = sizeof e->msg - 3;
    memcpy(e->msg, head, k);
    memcpy(e->msg + k, ": ", 2);
    k += 2;
    size_t rest = strlen(old);
    if (rest > sizeof e->msg - 1 - k)
        rest = sizeof e->msg - 1 - k;
    memcpy(e->msg + k, old, rest);
    e->msg[k + rest] = '\0';
    return e->code;
}

void *err_malloc_at(err *e, size_t bytes, const char *where)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        err_set(e, ERR_SYS, "out of memory (%zu bytes, %s)", bytes, where);
    return p;
}

void *err_calloc_at(err *e, size_t count, size_t size, const char *where)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        err_set(e, ERR_SYS, "out of memory (%zu x %zu bytes, %s)", count, size, where);
    return p;
}

#define HUGE_PAGE ((size_t)2 << 20)

void *err_malloc_big_at(err *e, size_t bytes, const char *where)
{
    size_t len = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *p = aligned_alloc(HUGE_PAGE, len ? len : HUGE_PAGE);
    if (!p) {
        err_set(e, ERR_SYS, "out of memory (%zu bytes, %s)", bytes, where);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE);   /* advice: where refused, nothing changes */
#endif
#ifdef MADV_POPULATE_WRITE
    madvise(p, len, MADV_POPULATE_WRITE);
#endif
    return p;
}
