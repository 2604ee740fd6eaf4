/* pool.h -- basin's worker threads.
 *
 * One process-wide pool of N threads (the caller counts as thread 0). Model
 * evaluations split their chunks over the pool, each thread driving single-threaded
 * OpenBLAS, so N is the total number of busy cores and the two never oversubscribe:
 * OpenBLAS runs on one thread from the start, set before its library constructor could
 * start threads of its own (a .preinit_array entry in pool.c, linked into every
 * executable), whatever OPENBLAS_NUM_THREADS says. N comes from --threads, else
 * BASIN_THREADS, else all online cores.
 * Work assignment is static (by thread index), so results depend on N but never on
 * timing. */
#ifndef BASIN_POOL_H
#define BASIN_POOL_H

#include "err.h"

/* Threads in use (initializing the pool from BASIN_THREADS or the core count on
 * first call). */
int pool_threads(void);

/* Use n threads (1..256). ERR_USAGE for other n; ERR_SYS if threads cannot start. */
int pool_set_threads(int n, err *e);

/* Before BLAS runs on the pool's threads (initializing the pool as pool_threads()
 * does): make OpenBLAS map a work buffer for each thread now, 128 MiB of address space
 * each, where a failed map is ERR_SYS "out of memory for OpenBLAS's work buffer ...";
 * OpenBLAS itself maps one when a call needs it and retries a failed map forever, a
 * hang under a memory limit. Cheap once done; models call it before they evaluate.
 * Between pool_run calls only (it calls BLAS on the caller's thread). */
int pool_reserve(err *e);

/* Parse BASIN_THREADS-style text; -1 when it is not an integer in 1..256. */
int pool_parse_threads(const char *s);

/* Run fn(arg, tid, nthreads) on every thread, tid 0 on the caller, and return when
 * all have finished. Not reentrant: fn must not call pool_run. */
void pool_run(void (*fn)(void *arg, int tid, int nthreads), void *arg);

#endif
