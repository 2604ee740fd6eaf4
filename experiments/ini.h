/* ini.h -- a small strict INI reader for experiment files.
 *
 * Grammar, one construct per line (lines of any length):
 *   blank lines; comments: lines whose first non-blank character is ';' or '#';
 *   [section]            a name of letters, digits, '_' and '-'
 *   key = value          inside a section; the value runs to the end of the line,
 *                        or to a ';' or '#' preceded by a blank (an inline comment)
 * Keys are read with '_' as '-' (so `weight_decay` and `weight-decay` are one key).
 * Errors are `file:line: message`: a key outside a section, a line that is neither,
 * an empty key or value, a key repeated within a section (naming the first line), a
 * section header repeated (naming the first line), a NUL byte.
 * The reader keeps values as text; sweep syntax (`{a, b}`, `{1..5}`) is sweep.c's.
 * An `ini` owns all its strings: ini_free(). */
#ifndef BASIN_INI_H
#define BASIN_INI_H

#include <stddef.h>
#include "../core/err.h"

typedef struct ini_entry {
    const char *section;   /* without brackets */
    const char *key;       /* '_' read as '-' */
    const char *value;     /* trimmed, comment removed */
    int line;              /* 1-based line of the key */
} ini_entry;

typedef struct ini_section {
    const char *name;
    int line;              /* of its [header] */
} ini_section;

typedef struct ini {
    char *path;            /* as given */
    char *text;            /* the whole file, NUL-terminated (for the store) */
    ini_entry *v;          /* (n) in file order */
    size_t n;
    ini_section *sec;      /* (nsec) in file order, empty sections included */
    size_t nsec;
    char *arena;           /* the strings entries point into */
} ini;

/* Read and parse `path`. ERR_DATA with "path:line: ..." for syntax errors, ERR_SYS
 * (naming the path) when the file cannot be read. On error *f is left empty. */
int ini_read(const char *path, ini *f, err *e);

/* Free what ini_read made; safe on a zeroed ini. */
void ini_free(ini *f);

#endif
