/* data.h -- datasets: Fashion-MNIST, any IDX directory, CSV files, synthetic sets.
 *
 * A dataset is loaded whole into memory as one (n, d) row-major double matrix of
 * inputs and an int label per sample (classification), or real-valued targets
 * (n, tdim) for regression sets. A `data` owns its buffers: data_free().
 *
 * Pipeline, in this order, identical for every source:
 *   read file(s) -> choose samples (first N in file order, or a seeded random subset)
 *   -> class imbalance (training split only) -> label noise (training split only)
 *   -> scaling: pixels to [0,1] (default for image sets), or per-feature
 *      standardization with statistics of the *training* split (features with zero
 *      variance are centred, not divided).
 * Every random choice draws from its own rng.h stream of the seed (RNG_SUBSET,
 * RNG_SYNTH, RNG_NOISE), so e.g. adding label noise never changes the subset. */
#ifndef BASIN_DATA_H
#define BASIN_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "../core/err.h"

enum data_split { DATA_TRAIN = 0, DATA_TEST = 1 };
enum data_scale { DATA_SCALE_DEFAULT = 0, DATA_SCALE_UNIT, DATA_SCALE_STANDARDIZE, DATA_SCALE_NONE };
enum data_imbalance { DATA_IMB_STEP = 0, DATA_IMB_EXP };

typedef struct data {
    char name[256];   /* e.g. "fashion-mnist:train", for messages and the store */
    size_t n;         /* number of samples */
    int d;            /* features per sample (= c*h*w) */
    int c, h, w;      /* image geometry; tabular data is c=1, h=1, w=d */
    int classes;      /* labels lie in [0, classes); 0 for pure regression sets */
    double *x;        /* (n, d) inputs */
    int *y;           /* (n) labels, NULL for regression sets */
    double *t;        /* (n, tdim) regression targets, NULL for classification sets */
    int tdim;         /* target width, 0 when t is NULL */
} data;

typedef struct data_opts {
    const char *spec;       /* "fashion-mnist", "idx:DIR", "csv:TRAIN[,TEST]",
                               "blobs", "spirals", "teacher" */
    enum data_split split;  /* default DATA_TRAIN */
    size_t samples;         /* 0: all (synthetic: the generator's default size) */
    int random_subset;      /* 0: first `samples` in file order; 1: seeded random subset */
    double imbalance;       /* 0 or 1: balanced; R > 1: minority classes get 1/R as many */
    enum data_imbalance imbalance_type; /* STEP: upper half of classes are minority;
                                           EXP: class c keeps R^(-c/(C-1)) */
    double label_noise;     /* fraction in [0,1) of training labels replaced by a
                               uniformly drawn *different* class */
    enum data_scale scale;  /* DEFAULT: UNIT for IDX image sets, NONE for CSV/synthetic */
    uint64_t seed;          /* run seed; streams per purpose are derived from it */
    /* synthetic sets: 0 selects the documented default */
    int synth_dim;          /* input dimension (blobs, teacher); spirals are 2-D */
    int synth_classes;      /* classes (blobs, spirals) or target width (teacher) */
    double synth_noise;     /* noise level */
} data_opts;

/* Fill `o` with the defaults: fashion-mnist, train split, all samples, first-N,
 * balanced, no noise, default scaling, seed 0. */
void data_opts_default(data_opts *o);

/* Load a dataset. On success *out is a new dataset (caller: data_free).
 * Errors: ERR_USAGE for an unknown spec or nonsense option values (naming them);
 * ERR_DATA for a missing dataset (for fashion-mnist the message names the Debian
 * package dataset-fashion-mnist and BASIN_DATA_DIR), truncated or corrupt
 * IDX/gzip/CSV (naming file and, for CSV, line), an IDX header declaring more than
 * 2 GiB of images, a CSV label of AD_MAX_CLASSES (4096) or more (more classes than a
 * loss takes), more samples asked than exist. IDX: the first N samples (not a random
 * subset) read only the first N images when the file says it holds what its header
 * declares (a raw file's size; a gzip file's trailer, ISIZE), and a gzip file is then
 * not checked past them; any other gzip file is read whole. */
int data_load(const data_opts *o, data **out, err *e);

/* 0 when `spec` names a source data_load knows (fashion-mnist, idx:DIR,
 * csv:TRAIN[,TEST], blobs, spirals, teacher), else ERR_USAGE naming it and the known
 * forms. Checks the form only: files are opened by data_load. */
int data_spec_check(const char *spec, err *e);

/* Free a dataset; NULL is fine. */
void data_free(data *d);

/* The directory fashion-mnist is read from: $BASIN_DATA_DIR if set, else
 * /usr/share/datasets/fashion-mnist. */
const char *data_fashion_dir(void);

#endif
