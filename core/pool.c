/* pool.c -- persistent worker threads (see pool.h). Workers sleep on a condition
 * variable and run one generation of work per pool_run call. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "pool.h"

void openblas_set_num_threads(int num_threads);   /* libopenblas */

#define MAX_THREADS 256

static struct {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    pthread_t tid[MAX_THREADS];
    int n;              /* threads, including the caller; 0 before init */
    int workers;        /* started worker threads (n - 1) */
    long gen;           /* work generation */
    long start_gen;     /* generation when the current workers were started */
    int pending;        /* workers still running this generation */
    int quit;
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
    pthread_mutex_lock(&P.mu);
    long seen = P.start_gen;   /* never rerun a job finished before this worker existed */
    for (;;) {
        while (P.gen == seen && !P.quit)
            pthread_cond_wait(&P.go, &P.mu);
        if (P.quit)
            break;
        seen = P.gen;
        void (*fn)(void *, int, int) = P.fn;
        void *a = P.arg;
        int n = P.n;
        pthread_mutex_unlock(&P.mu);
        fn(a, me, n);
        pthread_mutex_lock(&P.mu);
        if (--P.pending == 0)
            pthread_cond_signal(&P.done);
    }
    pthread_mutex_unlock(&P.mu);
    return NULL;
}

static void stop_workers(void)
{
    pthread_mutex_lock(&P.mu);
    P.quit = 1;
    pthread_cond_broadcast(&P.go);
    pthread_mutex_unlock(&P.mu);
    for (int i = 0; i < P.workers; i++)
        pthread_join(P.tid[i], NULL);
    P.quit = 0;
    P.workers = 0;
}

int pool_set_threads(int n, err *e)
{
    if (n < 1 || n > MAX_THREADS)
        return err_set(e, ERR_USAGE, "threads: %d is not in 1..%d", n, MAX_THREADS);
    openblas_set_num_threads(1);
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
    pthread_mutex_lock(&P.mu);
    P.fn = fn;
    P.arg = arg;
    P.pending = n - 1;
    P.gen++;
    pthread_cond_broadcast(&P.go);
    pthread_mutex_unlock(&P.mu);
    fn(arg, 0, n);
    pthread_mutex_lock(&P.mu);
    while (P.pending)
        pthread_cond_wait(&P.done, &P.mu);
    pthread_mutex_unlock(&P.mu);
}
