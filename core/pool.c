/* pool.c -- persistent worker threads (see pool.h). Workers run one generation of
 * work per pool_run call. Between generations they first spin for a while on the
 * generation counter, then sleep on a condition variable: waking a sleeping thread
 * costs 10-50 us on a virtual machine, which a training step of a few milliseconds
 * that calls pool_run three times (gradient, its sum, the update) notices. The caller
 * spins the same way for the workers to finish. */
#define _DEFAULT_SOURCE   /* MAP_ANONYMOUS */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/mman.h>

#include "pool.h"

/* OpenBLAS on one thread from the start (pool.h). Its library constructor
 * (gotoblas_init) sizes its own thread pool and starts it before main() runs:
 * blas_num_threads - 1 threads, each mapping a 128 MiB work buffer, that
 * openblas_set_num_threads(1) in main() only parks, and that OpenBLAS's exit handler
 * joins -- forever when one of them is still retrying a map that a memory limit
 * refused (issue 18). The executable's .preinit_array runs after relocation and before
 * any shared object's initializer (ELF gABI, DT_PREINIT_ARRAY), so a count set here is
 * the one the constructor finds: it calls blas_get_cpu_number() only while
 * blas_cpu_number is 0, which returns blas_num_threads once that is set, and then
 * starts blas_num_threads - 1 threads, none (OpenBLAS 0.3.21 through 0.3.28,
 * driver/others/memory.c and blas_server.c). Setting OPENBLAS_NUM_THREADS here
 * instead does not work: glibc points environ at the process's environment only in
 * libc's own initializer, after this, so a setenv() now is discarded. Any other count
 * is overridden: basin's threads are the parallelism (bench/bench.c raises OpenBLAS's
 * for its DGEMM rates with openblas_set_num_threads, and lowers it again). The
 * Makefile links this object (-u pool_threads) into every executable that links
 * libbasin.a. */
extern int blas_num_threads, blas_cpu_number;   /* libopenblas */

static void pool_preinit(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    if (!blas_cpu_number)   /* not yet initialized */
        blas_num_threads = blas_cpu_number = 1;
}
__attribute__((section(".preinit_array"), used))
static void (*const pool_preinit_entry)(int, char **, char **) = pool_preinit;

#define MAX_THREADS 256
/* Polls of an atomic before sleeping, each after a pause: about 100 us here. */
#define SPINS 5000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* The hand-offs are lock-free while both sides spin: pool_run publishes the job and
 * bumps gen; the last worker to finish brings pending to 0. A side that stops spinning
 * registers as a sleeper under mu and re-checks before it waits; the other side, after
 * its atomic store, wakes it under mu when it sees the registration. Both orders are
 * sequentially consistent, so one of the two always sees the other (no lost wake-up). */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    pthread_t tid[MAX_THREADS];
    int n;                  /* threads, including the caller; 0 before init */
    int workers;            /* started worker threads (n - 1) */
    atomic_long gen;        /* work generation */
    long start_gen;         /* generation when the current workers were started */
    atomic_int pending;     /* workers still running this generation */
    atomic_int quit;
    atomic_int sleepers;    /* workers waiting on go */
    atomic_int caller_waits;/* the caller waits on done */
    void (*fn)(void *, int, int);
    void *arg;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER,
       .done = PTHREAD_COND_INITIALIZER};

int pool_parse_threads(const char *s)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    return s && *s && !*end && v >= 1 && v <= MAX_THREADS ? (int)v : -1;
}

static void *worker(void *arg)
{
    int me = (int)(long)arg;
    long seen = P.start_gen;   /* never rerun a job finished before this worker existed */
    for (;;) {
        for (int i = 0; i < SPINS && atomic_load(&P.gen) == seen && !atomic_load(&P.quit); i++)
            cpu_relax();
        if (atomic_load(&P.gen) == seen && !atomic_load(&P.quit)) {
            pthread_mutex_lock(&P.mu);
            atomic_fetch_add(&P.sleepers, 1);
            while (atomic_load(&P.gen) == seen && !atomic_load(&P.quit))
                pthread_cond_wait(&P.go, &P.mu);
            atomic_fetch_sub(&P.sleepers, 1);
            pthread_mutex_unlock(&P.mu);
        }
        if (atomic_load(&P.quit))
            break;
        seen = atomic_load(&P.gen);
        P.fn(P.arg, me, P.n);
        if (atomic_fetch_sub(&P.pending, 1) == 1 && atomic_load(&P.caller_waits)) {
            pthread_mutex_lock(&P.mu);
            pthread_cond_signal(&P.done);
            pthread_mutex_unlock(&P.mu);
        }
    }
    return NULL;
}

static void stop_workers(void)
{
    pthread_mutex_lock(&P.mu);
    atomic_store(&P.quit, 1);
    pthread_cond_broadcast(&P.go);
    pthread_mutex_unlock(&P.mu);
    for (int i = 0; i < P.workers; i++)
        pthread_join(P.tid[i], NULL);
    atomic_store(&P.quit, 0);
    P.workers = 0;
}

int pool_set_threads(int n, err *e)
{
    if (n < 1 || n > MAX_THREADS)
        return err_set(e, ERR_USAGE, "threads: %d is not in 1..%d", n, MAX_THREADS);
    if (n == P.n)
        return 0;
    stop_workers();
    P.n = 1;
    P.start_gen = P.gen;
    for (int i = 1; i < n; i++) {
        if (pthread_create(&P.tid[i - 1], NULL, worker, (void *)(long)i) != 0) {
            stop_workers();
            return err_set(e, ERR_SYS, "threads: cannot start thread %d of %d", i + 1, n);
        }
        P.workers = i;
    }
    P.n = n;
    return 0;
}

/* OpenBLAS's work buffers (driver/others/memory.c): a level-3 routine (and a level-2
 * one on long vectors) takes one for the call, the first free one, mapping a new one
 * of BUFFER_SIZE bytes when none is free; mapped buffers are kept for reuse. A map
 * that fails (mmap, then malloc) is retried at once, forever: with one thread, the
 * caller spins and the process hangs where it should report that it is out of memory.
 * So the pool makes OpenBLAS map one buffer per thread before BLAS runs on them, held
 * all at once so that each is a new one, and maps a buffer of the same size itself
 * just before each new one: where that fails, OpenBLAS's would have too. */
void *blas_memory_alloc(int procpos);   /* libopenblas */
void blas_memory_free(void *buffer);    /* libopenblas */

/* BUFFER_SIZE of OpenBLAS on x86_64 (common_x86_64.h: 32 << 22), the size of each map;
 * test_models checks it against what OpenBLAS maps. */
#define BLAS_BUFFER ((size_t)128 << 20)
/* Room above one buffer for what OpenBLAS allocates beside it on a first call. */
#define BLAS_SLACK ((size_t)2 << 20)

static int blas_buffers;   /* OpenBLAS buffers known to be mapped */

int pool_reserve(err *e)
{
    int n = pool_threads();
    if (n <= blas_buffers)
        return 0;
    void *held[MAX_THREADS];
    int k = 0, rc = 0;
    for (; k < n; k++) {
        if (k >= blas_buffers) {
            void *p = mmap(NULL, BLAS_BUFFER + BLAS_SLACK, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                rc = err_set(e, ERR_SYS, "out of memory for OpenBLAS's work buffer of "
                             "thread %d of %d (%zu bytes; one per thread)", k + 1, n,
                             BLAS_BUFFER);
                break;
            }
            munmap(p, BLAS_BUFFER + BLAS_SLACK);
        }
        if (!(held[k] = blas_memory_alloc(0))) {   /* its table of buffers is full */
            rc = err_set(e, ERR_SYS, "OpenBLAS has no work buffer for thread %d of %d",
                         k + 1, n);
            break;
        }
    }
    while (k > 0)
        blas_memory_free(held[--k]);
    if (!rc)
        blas_buffers = n;
    return rc;
}

int pool_threads(void)
{
    if (!P.n) {
        int n = pool_parse_threads(getenv("BASIN_THREADS"));
        if (n < 0) {
            long c = sysconf(_SC_NPROCESSORS_ONLN);
            n = c >= 1 && c <= MAX_THREADS ? (int)c : 1;
        }
        if (pool_set_threads(n, NULL))
            pool_set_threads(1, NULL);
    }
    return P.n;
}

void pool_run(void (*fn)(void *arg, int tid, int nthreads), void *arg)
{
    int n = pool_threads();
    if (n == 1) {
        fn(arg, 0, 1);
        return;
    }
    P.fn = fn;
    P.arg = arg;
    atomic_store(&P.pending, n - 1);
    atomic_fetch_add(&P.gen, 1);       /* publishes fn, arg and pending */
    if (atomic_load(&P.sleepers)) {
        pthread_mutex_lock(&P.mu);
        pthread_cond_broadcast(&P.go);
        pthread_mutex_unlock(&P.mu);
    }
    fn(arg, 0, n);
    for (int i = 0; i < SPINS && atomic_load(&P.pending); i++)
        cpu_relax();
    if (atomic_load(&P.pending)) {
        pthread_mutex_lock(&P.mu);
        atomic_store(&P.caller_waits, 1);
        while (atomic_load(&P.pending))
            pthread_cond_wait(&P.done, &P.mu);
        atomic_store(&P.caller_waits, 0);
        pthread_mutex_unlock(&P.mu);
    }
}
