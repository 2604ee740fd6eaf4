/* rng.c -- per-purpose GSL streams (see rng.h). */
#include "rng.h"

uint64_t rng_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

gsl_rng *rng_stream(uint64_t seed, enum rng_purpose purpose, uint64_t sub)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return NULL;
    uint64_t s = rng_mix(rng_mix(rng_mix(seed) ^ (uint64_t)purpose) ^ sub);
    /* mt19937 takes an unsigned long seed; 0 selects GSL's default seed, avoid it. */
    unsigned long us = (unsigned long)(s ? s : 1);
    gsl_rng_set(r, us);
    return r;
}

void rng_free(gsl_rng *r)
{
    if (r)
        gsl_rng_free(r);
}
