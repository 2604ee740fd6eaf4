/* err.c -- the error context of err.h, and its allocation helpers. */
#define _DEFAULT_SOURCE   /* madvise */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include "err.h"

/* src (n bytes) into dst (cap bytes): whole when it fits, else its head and its tail
 * joined by "...", cut between UTF-8 characters. A message starts with what it is about
 * and ends with what is wrong: a long path in it is shortened in the middle, and the
 * reason after it always survives. */
static void fit(char *dst, size_t cap, const char *src, size_t n)
{
    if (n < cap) {
        memcpy(dst, src, n + 1);
        return;
    }
    size_t head = cap / 4, tail = cap - 1 - head - 3;
    while (head && ((unsigned char)src[head] & 0xC0) == 0x80)
        head--;
    const char *t = src + n - tail;
    while (((unsigned char)*t & 0xC0) == 0x80)
        t++;
    memcpy(dst, src, head);
    memcpy(dst + head, "...", 3);
    memcpy(dst + head + 3, t, (size_t)(src + n - t) + 1);
}

int err_set(err *e, int code, const char *fmt, ...)
{
    if (e) {
        char buf[sizeof e->msg];   /* formatted first: an argument may be e->msg itself */
        va_list ap, aq;
        va_start(ap, fmt);
        va_copy(aq, ap);
        int n = vsnprintf(buf, sizeof buf, fmt, ap);
        if (n < 0)
            buf[n = 0] = 0;
        /* too long: formatted whole, to keep its tail (out of memory: its head) */
        char *all = (size_t)n >= sizeof buf ? malloc((size_t)n + 1) : NULL;
        if (all)
            vsnprintf(all, (size_t)n + 1, fmt, aq);
        va_end(aq);
        va_end(ap);
        fit(e->msg, sizeof e->msg, all ? all : buf, all ? (size_t)n : strlen(buf));
        free(all);
        e->code = code;
    }
    return code;
}

int err_wrap(err *e, const char *fmt, ...)
{
    if (!e)
        return ERR_SYS;
    char buf[3 * sizeof e->msg];
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    size_t k = n < 0 ? 0 : (size_t)n, old = strlen(e->msg);
    char *all = k + 2 + old >= sizeof buf ? malloc(k + 2 + old + 1) : NULL, *m = all ? all : buf;
    if (all)
        vsnprintf(all, k + 1, fmt, aq);
    else if (k + 2 + old >= sizeof buf)   /* out of memory: the head cut */
        k = sizeof buf - 3 - old;
    va_end(aq);
    va_end(ap);
    memcpy(m + k, ": ", 2);
    memcpy(m + k + 2, e->msg, old + 1);
    fit(e->msg, sizeof e->msg, m, k + 2 + old);
    free(all);
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
