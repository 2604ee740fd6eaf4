/* names.c -- "did you mean" (names.h). */
#include <ctype.h>
#include <string.h>

#include "names.h"

int names_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            int s = d[i - 1][j - 1] + !same;
            int t = d[i - 1][j] < d[i][j - 1] ? d[i - 1][j] + 1 : d[i][j - 1] + 1;
            d[i][j] = s < t ? s : t;
            if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2])
                && tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1])
                && d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;   /* two letters swapped: one slip */
        }
    return d[la][lb];
}

const char *names_nearest(const char *name, const char *const *first, size_t n,
                          size_t stride)
{
    size_t len = strlen(name);
    int limit = len <= 4 ? 1 : len <= 8 ? 2 : 3, best = limit + 1;
    const char *pick = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *c = *(const char *const *)((const char *)first + i * stride);
        if (!c)
            continue;
        if (!strcmp(c, name))
            return NULL;
        int d = names_distance(name, c);
        if (d < best) {
            best = d;
            pick = c;
        }
    }
    return pick;
}

const char *names_nearest_list(const char *name, const char *const *list)
{
    size_t n = 0;
    while (list[n])
        n++;
    return names_nearest(name, list, n, sizeof *list);
}
