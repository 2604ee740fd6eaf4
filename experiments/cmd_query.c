/* cmd_query.c -- the commands that read stores: runs, show, compare, export; and
 * merge (exp.h). Runs are named by id prefix (at least 4 hex digits), like git
 * commits. Tables go to stdout; nothing here writes to a store except merge. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../results/store.h"
#include "exp.h"

#define DEFAULT_DB "results/basin.db"

/* Parse `--name value` options of names[] (NULL-terminated) into vals[] and up to
 * npos positional arguments into pos[]. */
static int args(const char *cmd, int argc, char **argv, const char *const *names,
                const char **vals, const char **pos, int npos, err *e)
{
    int k = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            if (k == npos)
                return err_set(e, ERR_USAGE, "%s: unexpected argument '%s'", cmd, a);
            pos[k++] = a;
            continue;
        }
        int j = 0;
        while (names[j] && (strncmp(a, "--", 2) || strcmp(a + 2, names[j])))
            j++;
        if (!names[j])
            return err_set(e, ERR_USAGE, "%s: unknown option '%s' (see basin --help)", cmd, a);
        if (i + 1 >= argc)
            return err_set(e, ERR_USAGE, "%s: %s needs a value", cmd, a);
        vals[j] = argv[++i];
    }
    return 0;
}

/* Open an existing store (a missing file is an error, not a new database). */
static int open_db(const char *path, store **s, err *e)
{
    if (access(path, R_OK) != 0)
        return err_set(e, ERR_DATA, "%s: no such database (basin run writes one; --db PATH)",
                       path);
    return store_open_read(path, s, e);
}

static int prep(store *s, const char *sql, sqlite3_stmt **st, err *e)
{
    int rc = sqlite3_prepare_v2(store_db(s), sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : err_set(e, ERR_DATA, "query: %s", sqlite3_errmsg(store_db(s)));
}

static int step_err(store *s, int rc, err *e)
{
    return rc == SQLITE_DONE ? 0 : err_set(e, ERR_DATA, "query: %s", sqlite3_errmsg(store_db(s)));
}


int cmd_runs(int argc, char **argv, err *e)
{
    static const char *const names[] = {"db", "experiment", "status", NULL};
    const char *v[3] = {DEFAULT_DB, NULL, NULL};
    store *s;
    int rc = args("runs", argc, argv, names, v, NULL, 0, e);
    if (rc || (rc = open_db(v[0], &s, e)))
        return rc;
    sqlite3_stmt *st;
    rc = prep(s, "SELECT r.id, r.status, er.experiment, r.step, COALESCE(r.ended, r.heartbeat) "
                 "- r.started, r.label, COALESCE(r.message, '') FROM runs r "
                 "JOIN experiment_runs er ON er.run = r.id "
                 "WHERE (?1 IS NULL OR er.experiment = ?1) AND (?2 IS NULL OR r.status = ?2) "
                 "ORDER BY er.experiment, r.rowid", &st, e);
    if (!rc) {
        sqlite3_bind_text(st, 1, v[1], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, v[2], -1, SQLITE_STATIC);
        printf("%-12s  %-11s  %-16s  %8s  %8s  %s\n", "RUN", "STATUS", "EXPERIMENT", "STEP",
               "SECONDS", "CONFIG");
        int r, n = 0;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
            n++;
            printf("%-12.12s  %-11s  %-16s  %8lld  %8.1f  %s%s%s\n", store_text(st, 0),
                   store_text(st, 1), store_text(st, 2), sqlite3_column_int64(st, 3),
                   sqlite3_column_double(st, 4), store_text(st, 5),
                   *store_text(st, 6) ? "  # " : "", store_text(st, 6));
        }
        rc = step_err(s, r, e);
        sqlite3_finalize(st);
        if (!rc)
            printf("%d runs\n", n);
    }
    store_close(s);
    return rc;
}

/* Print every row of `sql` (run id bound to ?1) as "  c1 c2 ..." lines. */
static int rows(store *s, const char *id, const char *title, const char *sql, err *e)
{
    sqlite3_stmt *st;
    int rc = prep(s, sql, &st, e), r, n = 0;
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (!n++)
            printf("%s:\n", title);
        printf(" ");
        for (int i = 0; i < sqlite3_column_count(st); i++)
            if (sqlite3_column_type(st, i) == SQLITE_FLOAT)
                printf(" %.17g", sqlite3_column_double(st, i));
            else
                printf(" %s", store_text(st, i));
        printf("\n");
    }
    sqlite3_finalize(st);
    return step_err(s, r, e);
}

int cmd_show(int argc, char **argv, err *e)
{
    static const char *const names[] = {"db", NULL};
    const char *v[1] = {DEFAULT_DB}, *pos[1] = {NULL};
    store *s;
    char id[65];
    int rc = args("show", argc, argv, names, v, pos, 1, e);
    if (!rc && !pos[0])
        rc = err_set(e, ERR_USAGE, "show: which run? (basin show RUN-ID-PREFIX)");
    if (rc || (rc = open_db(v[0], &s, e)))
        return rc;
    if ((rc = store_run_resolve(s, pos[0], id, e))) {
        store_close(s);
        return rc;
    }
    sqlite3_stmt *st;
    static const char *const fields[] = {"id", "experiment", "status", "message", "seed", "label",
        "step", "total_steps", "started", "ended", "heartbeat", "owner_host", "owner_pid",
        "version", "git", "compiler", "cpu", "host", "blas", "threads", "cmdline"};
    char sql[512] = "SELECT ";
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        snprintf(sql + strlen(sql), sizeof sql - strlen(sql), "%s%s", i ? ", " : "", fields[i]);
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql), ", config FROM runs WHERE id = ?1");
    if (!(rc = prep(s, sql, &st, e))) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
                if (sqlite3_column_type(st, (int)i) != SQLITE_NULL)
                    printf("%-12s %s\n", fields[i], store_text(st, (int)i));
            printf("config:\n");
            const char *c = store_text(st, (int)(sizeof fields / sizeof fields[0]));
            for (const char *p = c; *p;) {
                size_t l = strcspn(p, "\n");
                printf("  %.*s\n", (int)l, p);
                p += l + (p[l] == '\n');
            }
        }
        sqlite3_finalize(st);
    }
    rc = rc ? rc : rows(s, id, "final metrics (key step epoch value)",
                        "SELECT key, step, epoch, value FROM metrics_latest WHERE run = ?1 "
                        "ORDER BY key", e);
    rc = rc ? rc : rows(s, id, "recorded (table rows first-step last-step)",
                        "SELECT 'hessian_eigs', count(*), min(step), max(step) FROM hessian_eigs WHERE run = ?1 HAVING count(*) "
                        "UNION ALL SELECT 'density', count(*), min(step), max(step) FROM density WHERE run = ?1 HAVING count(*) "
                        "UNION ALL SELECT 'trace', count(*), min(step), max(step) FROM trace WHERE run = ?1 HAVING count(*) "
                        "UNION ALL SELECT 'sharpness', count(*), min(step), max(step) FROM sharpness WHERE run = ?1 HAVING count(*) "
                        "UNION ALL SELECT 'collapse', count(*), min(step), max(step) FROM collapse WHERE run = ?1 HAVING count(*) "
                        "UNION ALL SELECT 'landscape_grids', count(*), min(step), max(step) FROM landscape_grids WHERE run = ?1 HAVING count(*) "
                        "UNION ALL SELECT 'trajectories', count(*), min(step), max(step) FROM trajectories WHERE run = ?1 HAVING count(*) "
                        "UNION ALL SELECT kind || ' checkpoints', count(*), min(step), max(step) FROM checkpoints WHERE run = ?1 GROUP BY kind",
                        e);
    store_close(s);
    return rc;
}

/* A group of runs in compare: its label and running mean/variance (Welford). */
typedef struct group {
    char label[512];
    int n;
    double mean, m2;
} group;

int cmd_compare(int argc, char **argv, err *e)
{
    static const char *const names[] = {"db", "experiment", "by", "metric", NULL};
    const char *v[4] = {DEFAULT_DB, NULL, NULL, "test_acc"};
    store *s;
    int rc = args("compare", argc, argv, names, v, NULL, 0, e);
    if (!rc && !v[1])
        rc = err_set(e, ERR_USAGE, "compare: --experiment NAME is required");
    if (rc || (rc = open_db(v[0], &s, e)))
        return rc;
    char by[1024] = "";
    sqlite3_stmt *st = NULL, *pq = NULL;
    if (v[2])
        snprintf(by, sizeof by, "%s", v[2]);
    else if (!(rc = prep(s, "SELECT p.key FROM params p JOIN experiment_runs er ON er.run = p.run "
                            "WHERE er.experiment = ?1 AND p.key != 'seed' GROUP BY p.key "
                            "HAVING COUNT(DISTINCT p.text) > 1 ORDER BY p.key", &st, e))) {
        sqlite3_bind_text(st, 1, v[1], -1, SQLITE_STATIC);   /* default: the swept keys */
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW)
            snprintf(by + strlen(by), sizeof by - strlen(by), "%s%s", by[0] ? "," : "",
                     store_text(st, 0));
        rc = step_err(s, r, e);
        sqlite3_finalize(st);
    }
    group *g = NULL;
    int ng = 0, cap = 0, r = SQLITE_DONE;
    rc = rc ? rc : prep(s, "SELECT r.id, l.value FROM experiment_runs er JOIN runs r ON r.id = er.run "
                           "JOIN metrics_latest l ON l.run = r.id AND l.key = ?2 "
                           "WHERE er.experiment = ?1 AND r.status = 'COMPLETED' ORDER BY r.rowid",
                    &st, e);
    rc = rc ? rc : prep(s, "SELECT text FROM params WHERE run = ?1 AND key = ?2", &pq, e);
    if (!rc) {
        sqlite3_bind_text(st, 1, v[1], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, v[3], -1, SQLITE_STATIC);
    }
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        char label[512] = "", keys[1024];
        snprintf(keys, sizeof keys, "%s", by);
        for (char *k = strtok(keys, ","); k; k = strtok(NULL, ",")) {
            sqlite3_bind_text(pq, 1, store_text(st, 0), -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(pq, 2, k, -1, SQLITE_TRANSIENT);
            int pr = sqlite3_step(pq);
            snprintf(label + strlen(label), sizeof label - strlen(label), "%s%s=%s",
                     label[0] ? " " : "", k, pr == SQLITE_ROW ? store_text(pq, 0) : "?");
            sqlite3_reset(pq);
        }
        int j = 0;
        while (j < ng && strcmp(g[j].label, label))
            j++;
        if (j == ng) {
            if (ng == cap) {
                group *p = realloc(g, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *g);
                if (!p) {
                    rc = err_set(e, ERR_SYS, "out of memory");
                    break;
                }
                g = p;
            }
            g[ng++] = (group){.n = 0};
            snprintf(g[j].label, sizeof g[j].label, "%s", label);
        }
        double x = sqlite3_column_double(st, 1), d = x - g[j].mean;
        g[j].n++;
        g[j].mean += d / g[j].n;
        g[j].m2 += d * (x - g[j].mean);
    }
    if (!rc)
        rc = step_err(s, r, e);
    sqlite3_finalize(st);
    sqlite3_finalize(pq);
    if (!rc && !ng)
        rc = err_set(e, ERR_DATA, "compare: no COMPLETED run of experiment '%s' has metric '%s'",
                     v[1], v[3]);
    if (!rc) {
        printf("experiment %s, final %s, mean +- std over seeds (n runs), by %s\n", v[1], v[3],
               by[0] ? by : "(nothing: one group)");
        for (int j = 0; j < ng; j++)
            printf("  %-40s %.6g +- %.2g (n=%d)\n", g[j].label[0] ? g[j].label : "(all)",
                   g[j].mean, g[j].n > 1 ? sqrt(g[j].m2 / (g[j].n - 1)) : 0.0, g[j].n);
    }
    free(g);
    store_close(s);
    return rc;
}

static void csv_field(const char *t)
{
    if (!strpbrk(t, ",\"\n\r")) {
        fputs(t, stdout);
        return;
    }
    putchar('"');
    for (; *t; t++) {
        if (*t == '"')
            putchar('"');
        putchar(*t);
    }
    putchar('"');
}

static void json_string(const char *t)
{
    putchar('"');
    for (; *t; t++) {
        unsigned char ch = (unsigned char)*t;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

int cmd_export(int argc, char **argv, err *e)
{
    static const char *const names[] = {"db", "run", "experiment", "table", "format", NULL};
    static const char *const tables[] = {"metrics", "runs", "params", "hessian_eigs", "density",
        "trace", "sharpness", "collapse", "landscape_grids", "landscape_points", "trajectories",
        "checkpoints", NULL};
    const char *v[5] = {DEFAULT_DB, NULL, NULL, "metrics", "csv"};
    store *s;
    int rc = args("export", argc, argv, names, v, NULL, 0, e), t = 0;
    if (!rc && !v[1] == !v[2])
        rc = err_set(e, ERR_USAGE, "export: give one of --run RUN or --experiment NAME");
    while (!rc && tables[t] && strcmp(tables[t], v[3]))
        t++;
    if (!rc && !tables[t])
        rc = err_set(e, ERR_USAGE, "export: unknown table '%s' (metrics, runs, params, "
                     "hessian_eigs, density, trace, sharpness, collapse, landscape_grids, "
                     "landscape_points, trajectories, checkpoints)", v[3]);
    int json = v[4] && !strcmp(v[4], "json");
    if (!rc && !json && strcmp(v[4], "csv"))
        rc = err_set(e, ERR_USAGE, "export: --format is csv or json, not '%s'", v[4]);
    if (rc || (rc = open_db(v[0], &s, e)))
        return rc;
    char id[65] = "", sql[512];
    if (v[1])
        rc = store_run_resolve(s, v[1], id, e);
    const char *key = strcmp(v[3], "runs") ? "run" : "id";
    snprintf(sql, sizeof sql, "SELECT * FROM %s WHERE %s IN (SELECT run FROM experiment_runs "
             "WHERE (?1 != '' AND run = ?1) OR experiment = ?2) ORDER BY rowid", v[3], key);
    sqlite3_stmt *st;
    if (!rc && !(rc = prep(s, sql, &st, e))) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, v[2] ? v[2] : "", -1, SQLITE_STATIC);
        int nc = sqlite3_column_count(st), r, n = 0;
        for (int i = 0; !json && i < nc; i++)
            printf("%s%s", i ? "," : "", sqlite3_column_name(st, i));
        printf(json ? "[" : "\n");
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
            printf(json ? "%s\n {" : "", n++ ? "," : "");
            for (int i = 0; i < nc; i++) {
                int ty = sqlite3_column_type(st, i);
                char num[64];
                if (json) {
                    printf("%s", i ? ", " : "");
                    json_string(sqlite3_column_name(st, i));
                    printf(": ");
                } else if (i) {
                    putchar(',');
                }
                if (ty == SQLITE_NULL)
                    printf(json ? "null" : "");
                else if (ty == SQLITE_INTEGER)
                    printf("%lld", sqlite3_column_int64(st, i));
                else if (ty == SQLITE_FLOAT) {
                    snprintf(num, sizeof num, "%.17g", sqlite3_column_double(st, i));
                    printf("%s", num);
                } else if (ty == SQLITE_BLOB) {   /* float64 arrays: too big for text */
                    snprintf(num, sizeof num, "<%d bytes>", sqlite3_column_bytes(st, i));
                    json ? json_string(num) : csv_field(num);
                } else {
                    json ? json_string(store_text(st, i)) : csv_field(store_text(st, i));
                }
            }
            printf(json ? "}" : "\n");
        }
        if (json)
            printf("\n]\n");
        rc = step_err(s, r, e);
        sqlite3_finalize(st);
    }
    store_close(s);
    return rc;
}

int cmd_merge(int argc, char **argv, err *e)
{
    if (argc < 2 || argv[0][0] == '-')
        return err_set(e, ERR_USAGE, "merge: usage: basin merge OUT.db IN.db...");
    int rc = store_merge(argv[0], (const char *const *)argv + 1, argc - 1, e);
    if (!rc)
        printf("merged %d database%s into %s\n", argc - 1, argc > 2 ? "s" : "", argv[0]);
    return rc;
}
