/* check.h -- the tiny test harness every tests/test_*.c program uses.
 *
 * CHECK(cond, fmt, ...) prints one "PASS name" or "FAIL name: detail" line per check;
 * check_close() compares numbers with a relative tolerance and an absolute floor;
 * check_done() prints "N passed, M failed" and returns the exit status (non-zero on
 * any failure). Header-only: each test program includes it once. */
#ifndef BASIN_CHECK_H
#define BASIN_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_pass_, check_fail_;

static int check_report(int ok, const char *name, const char *detail)
{
    if (ok) {
        check_pass_++;
        printf("PASS %s\n", name);
    } else {
        check_fail_++;
        printf("FAIL %s: %s\n", name, detail);
    }
    fflush(stdout);
    return ok;
}

#define CHECK(cond, name, ...)                                         \
    do {                                                               \
        char check_buf_[2048];                                          \
        snprintf(check_buf_, sizeof check_buf_, __VA_ARGS__);          \
        check_report(!!(cond), (name), check_buf_);                    \
    } while (0)

/* |got - want| <= rtol * max(|got|, |want|) + atol, and both finite. */
static int check_close(const char *name, double got, double want, double rtol, double atol)
{
    double err = fabs(got - want), scale = fmax(fabs(got), fabs(want));
    int ok = isfinite(got) && isfinite(want) && err <= rtol * scale + atol;
    char buf[256];
    snprintf(buf, sizeof buf, "got %.17g want %.17g (abs err %.3g, rtol %.1g, atol %.1g)",
             got, want, err, rtol, atol);
    return check_report(ok, name, buf);
}

static int check_done(void)
{
    printf("%d passed, %d failed\n", check_pass_, check_fail_);
    return check_fail_ ? 1 : 0;
}

#endif
