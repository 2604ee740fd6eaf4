/* names.h -- the nearest of a table's names to a misspelt one, for "did you mean".
 *
 * Every table of named things in basin (options, commands, models, optimizers, plot
 * kinds, metric keys) answers an unknown name with its nearest entry: the smallest
 * edit distance (letters compared without case, so `LR` finds `lr`), if it is small
 * enough to be a slip rather than another word.
 * The tables are read in place: an array of structs whose name is a `const char *`
 * member, given by the address of the first row's member and the row size. */
#ifndef BASIN_NAMES_H
#define BASIN_NAMES_H

#include <stddef.h>

/* Edit distance between a and b (optimal string alignment: insertions, deletions,
 * substitutions and swaps of two neighbours, one each), letters compared without
 * case; strings of 64 characters or more are 99 away from everything. */
int names_distance(const char *a, const char *b);

/* The name nearest to `name` among n names at `first`, `first + stride`, ... (each a
 * `const char *`; NULL entries are skipped), or NULL when none is close enough to be
 * a slip -- 1 edit for names of up to 4 letters, 2 up to 8, 3 beyond -- or when name
 * equals one (it is known). */
const char *names_nearest(const char *name, const char *const *first, size_t n,
                          size_t stride);

/* The same over a NULL-terminated array of names. */
const char *names_nearest_list(const char *name, const char *const *list);

#endif
