/* ini.c -- the strict INI reader of experiment files (ini.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"

static char *slurp(const char *path, size_t *len, err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(e, errno == ENOENT ? ERR_DATA : ERR_SYS, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = err_malloc(e, cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1)
            break;
        char *p = realloc(buf, cap *= 2);
        if (!p) {
            err_set(e, ERR_SYS, "%s: out of memory", path);
            free(buf);
        }
        buf = p;
    }
    if (buf && ferror(f)) {
        err_set(e, ERR_SYS, "%s: read error", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        *len = n;
    }
    return buf;
}

static char *trim(char *s, char *end)
{
    while (s < end && isspace((unsigned char)*s))
        s++;
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    *end = 0;
    return s;
}

static int name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return 0;
    return 1;
}

int ini_read(const char *path, ini *f, err *e)
{
    memset(f, 0, sizeof *f);
    size_t len;
    char *text = slurp(path, &len, e);
    if (!text)
        return e ? e->code : ERR_SYS;
    if (strlen(text) != len) {
        int ln = 1;
        for (const char *c = text; *c; c++)
            ln += *c == '\n';
        free(text);
        return err_set(e, ERR_DATA, "%s:%d: NUL byte in file", path, ln);
    }
    f->text = text;
    f->path = strdup(path);
    f->arena = strdup(text);
    size_t lines = 1;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    f->v = calloc(lines, sizeof *f->v);
    f->sec = calloc(lines, sizeof *f->sec);
    if (!f->path || !f->arena || !f->v || !f->sec) {
        ini_free(f);
        return err_set(e, ERR_SYS, "%s: out of memory", path);
    }
    const char *section = NULL;
    int rc = 0;
    char *p = f->arena;
    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
        p += 3;   /* UTF-8 byte-order mark */
    for (int ln = 1; !rc && *p; ln++) {
        char *eol = strchr(p, '\n'), *next = eol ? eol + 1 : p + strlen(p);
        if (!eol)
            eol = next;
        char *s = trim(p, eol);
        p = next;
        if (!*s || *s == ';' || *s == '#')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close || close[1])
                rc = err_set(e, ERR_DATA, "%s:%d: malformed section header '%s' (want [name])",
                             path, ln, s);
            else {
                *close = 0;
                section = trim(s + 1, close);
                if (!name_ok(section))
                    rc = err_set(e, ERR_DATA, "%s:%d: bad section name '%s'", path, ln, section);
                for (size_t i = 0; !rc && i < f->nsec; i++)
                    if (strcmp(f->sec[i].name, section) == 0)
                        rc = err_set(e, ERR_DATA, "%s:%d: section [%s] repeated (first at line "
                                     "%d); keep one", path, ln, section, f->sec[i].line);
                f->sec[f->nsec++] = (ini_section){section, ln};
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = err_set(e, ERR_DATA, "%s:%d: expected 'key = value' or '[section]', got '%.60s'",
                         path, ln, s);
            break;
        }
        if (!section) {
            rc = err_set(e, ERR_DATA, "%s:%d: key before any [section]", path, ln);
            break;
        }
        char *key = trim(s, eq), *val = eq + 1;
        for (char *c = val; *c; c++)   /* inline comment: blank then ';' or '#' */
            if ((*c == ';' || *c == '#') && c > val && isspace((unsigned char)c[-1])) {
                *c = 0;
                break;
            }
        val = trim(val, val + strlen(val));
        for (char *c = key; *c; c++)
            if (*c == '_')
                *c = '-';
        if (!name_ok(key))
            rc = err_set(e, ERR_DATA, "%s:%d: bad key '%s'", path, ln, key);
        else if (!*val)
            rc = err_set(e, ERR_DATA, "%s:%d: %s: empty value", path, ln, key);
        for (size_t i = 0; !rc && i < f->n; i++)
            if (strcmp(f->v[i].section, section) == 0 && strcmp(f->v[i].key, key) == 0)
                rc = err_set(e, ERR_DATA, "%s:%d: duplicate key '%s' in [%s] (first set at "
                             "line %d)", path, ln, key, section, f->v[i].line);
        if (!rc)
            f->v[f->n++] = (ini_entry){section, key, val, ln};
    }
    if (rc)
        ini_free(f);
    return rc;
}

void ini_free(ini *f)
{
    free(f->path);
    free(f->text);
    free(f->v);
    free(f->sec);
    free(f->arena);
    memset(f, 0, sizeof *f);
}
