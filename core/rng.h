/* rng.h -- independent, seeded random streams, one per purpose.
 *
 * All randomness in basin comes from GSL generators (mt19937). A run has one seed;
 * each purpose gets its own stream derived from (seed, purpose) by a SplitMix64 hash,
 * so drawing more numbers for one purpose (switching a probe on, say) never changes
 * the numbers another purpose sees. Streams are owned by the caller: rng_free(). */
#ifndef BASIN_RNG_H
#define BASIN_RNG_H

#include <stdint.h>
#include <gsl/gsl_rng.h>

enum rng_purpose {
    RNG_INIT = 1,    /* parameter initialization */
    RNG_ORDER,       /* mini-batch order (shuffling) */
    RNG_SUBSET,      /* seeded random sample subsets of a dataset */
    RNG_SYNTH,       /* synthetic dataset generation */
    RNG_NOISE,       /* label noise */
    RNG_OPTIM,       /* stochastic optimizers: forward-gradient tangents, MeZO seeds */
    RNG_PROBE,       /* probes: Lanczos/Hutchinson start vectors, sharpness samples */
    RNG_DIRECTIONS,  /* landscape directions */
    RNG_PURPOSE_COUNT
};

/* A new generator for (seed, purpose); NULL only when out of memory. The same
 * (seed, purpose, sub) always yields the same sequence. `sub` separates several
 * streams of one purpose (probe k, shard i); pass 0 when there is one. */
gsl_rng *rng_stream(uint64_t seed, enum rng_purpose purpose, uint64_t sub);

/* Free a generator from rng_stream(); NULL is fine. */
void rng_free(gsl_rng *r);

/* SplitMix64 mixing of x: the hash used to derive stream seeds. */
uint64_t rng_mix(uint64_t x);

#endif
