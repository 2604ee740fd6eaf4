/* main.c -- the basin command: the table of subcommands and the dispatch. Only this
 * file exits; every command returns an err.h status, which becomes the documented
 * exit code. A command that works on one model parses the shared option table
 * (cfg.h) and gets a session (session.h); add a row here and a cmd_*.c file. */
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "exp.h"

static const struct command {
    const char *name;
    int cmd;                                /* CMD_* bit: which options apply */
    int (*run)(session *s, err *e);
    const char *usage;
} commands[] = {
    {"init", CMD_INIT, cmd_init, "basin init [model/data options] --seed S --out THETA.npy\n"
                       "  Write the seeded initial parameters (the theta `basin train --seed S` starts from)."},
    {"eval", CMD_EVAL, cmd_eval, "basin eval [model/data options] [--init THETA.npy] [--grad-out G.npy]\n"
                       "           [--jvp-in V.npy] [--hvp-in V.npy --hvp-out HV.npy]\n"
                       "  Print loss=... accuracy=... (17 significant digits) of theta on a split;\n"
                       "  optionally the gradient, a forward-mode JVP and an exact Hessian-vector product."},
    {"train", CMD_TRAIN, cmd_train, "basin train [model/data options] --optim sgd --lr ETA [--momentum MU] --batch B\n"
                         "            (--epochs E | --steps S) [--no-shuffle] [--init THETA.npy] [--save THETA.npy]\n"
                         "  Train with mini-batches, progress on stderr; print final train/test loss and accuracy."},
    {"hessian", CMD_HESSIAN, cmd_hessian, "basin hessian [model/data options] [--init THETA.npy] [--top K] [--bottom K]\n"
                             "              [--method lanczos|power] [--tol T] [--max-iter N] [--trace]\n"
                             "              [--density FILE.csv] [--block NAME] [--seed S]\n"
                             "  Extreme Hessian eigenvalues eig[i]=... with true residuals, Hutchinson trace,\n"
                             "  SLQ spectral density, on the chosen samples (exact HVPs)."},
    {"sharpness", CMD_SHARPNESS, cmd_sharpness, "basin sharpness [model/data options] [--init THETA.npy]\n"
                                 "              --kind sam|worst-l2|worst-linf|average|keskar|flatness --rho R [--adaptive] [--steps N]\n"
                                 "  Print sharpness=... of theta on the chosen samples."},
    {"optimize", CMD_OPTIMIZE, cmd_optimize, "basin optimize --function rosenbrock|beale|himmelblau|rastrigin|quadratic:a,b\n"
                               "               [--start X,Y] --optim NAME [optimizer options] --steps N [--seed S]\n"
                               "  Race an optimizer on a 2-D test function: CSV step,x,y,f from step 0 (the start)."},
    {"collapse", CMD_COLLAPSE, cmd_collapse, "basin collapse [model/data options] [--init THETA.npy|RUN[@STEP] [--db PATH]] [--split train|test]\n"
                               "  Neural collapse of theta: nc1=... nc1_notebook=... nc2_*, nc3, nc4, within_class_trace,\n"
                               "  the split's error and the mean margin, one name=value per line (17 significant digits)."},
    {"landscape", CMD_LANDSCAPE, cmd_landscape, "basin landscape [model/data options] [--init THETA.npy|RUN[@STEP] [--db PATH]] [--dir1 D1.npy [--dir2 D2.npy]\n"
                                 "                | --axes random|hessian|pca] [--norm filter|layer|none] [--ignore biasbn|none]\n"
                                 "                --x A:B:N [--y A:B:N] [--split train|test] [--seed S] [--out GRID.csv]\n"
                                 "  Loss and accuracy on a 1-D or 2-D slice theta + x d1 + y d2: CSV x,y,loss,accuracy, x-major."},
    {"interpolate", CMD_INTERPOLATE, cmd_interpolate, "basin interpolate [model/data options] [--db PATH] --from A.npy|RUN[@STEP] --to B.npy|RUN[@STEP] [--alpha -0.5:1.5:41]\n"
                                     "                  [--match weights [--save B_MATCHED.npy]] [--out LINE.csv]\n"
                                     "  Loss along (1-a) theta_a + a theta_b; barrier_loss=... barrier_error=... over a in [0, 1],\n"
                                     "  and with --match weights the same after Git Re-Basin weight matching (mlp)."},
};

/* Commands over experiment files and stores: they parse their own arguments. */
static const struct argv_command {
    const char *name;
    int (*run)(int argc, char **argv, err *e);
    const char *usage;
} argv_commands[] = {
    {"run", cmd_run, "basin run FILE.ini [--db PATH] [--jobs N] [--shard i/N | auto] [--dry-run] [--force] [--set K=V]\n"
                     "  Run an experiment file's runs into the store (default results/basin.db); resumable."},
    {"runs", cmd_runs, "basin runs [--db PATH] [--experiment NAME] [--status S]\n"
                       "  A table of the runs in the store."},
    {"show", cmd_show, "basin show RUN [--db PATH]\n"
                       "  Config, provenance, final metrics and recorded probes of a run (id prefix)."},
    {"compare", cmd_compare, "basin compare --experiment NAME [--by KEY,...] [--metric KEY] [--db PATH]\n"
                             "  Final metric, mean +- std over seeds, per group of parameters."},
    {"export", cmd_export, "basin export (--run RUN | --experiment NAME) [--table metrics] [--format csv|json] [--db PATH]\n"
                           "  A table's rows to stdout."},
    {"merge", cmd_merge, "basin merge OUT.db IN.db...\n"
                         "  Merge stores (e.g. Slurm shards) into OUT.db; idempotent."},
    {"plot", cmd_plot, "basin plot curves|sharpness|spectrum|collapse|landscape|interp|race|compare\n"
                       "           [--db PATH] [--run ID... | --experiment NAME] [--out FILE.png|.svg|.pdf]\n"
                       "  Draw the store through gnuplot (basin plot --help for each kind's options)."},
};

static void usage(FILE *f)
{
    fprintf(f, "basin %s -- numerical experiments on optimizers and loss landscapes\n\n"
               "usage: basin COMMAND [options]   (basin COMMAND --help for its options)\n\n"
               "commands:\n", BASIN_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s\n", commands[i].usage);
    for (size_t i = 0; i < sizeof argv_commands / sizeof argv_commands[0]; i++)
        fprintf(f, "  %s\n", argv_commands[i].usage);
    fprintf(f, "\nexit codes: 0 ok, 1 bad data or input file, 2 bad usage, 3 system error\n");
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();   /* GSL reports through return codes, never abort() */
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? ERR_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("basin %s\n", BASIN_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof argv_commands / sizeof argv_commands[0]; i++)
        if (strcmp(argv[1], argv_commands[i].name) == 0) {
            err e = {0};
            int rc = argv_commands[i].run(argc - 2, argv + 2, &e);
            if (rc)
                fprintf(stderr, "basin %s: %s\n", argv[1], e.msg);
            return rc;
        }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            cmd = &commands[i];
    if (!cmd) {
        fprintf(stderr, "basin: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return ERR_USAGE;
    }
    session s = {0};
    err e = {0};
    int help = 0;
    cfg_default(&s.c);
    int rc = cfg_parse_args(&s.c, cmd->cmd, argc - 2, argv + 2, &help, &e);
    if (!rc && help) {
        printf("usage: %s\n\noptions:\n", cmd->usage);
        cfg_print_help(cmd->cmd);
        return 0;
    }
    if (!rc)
        rc = cmd->run(&s, &e);
    session_close(&s);
    if (rc)
        fprintf(stderr, "basin %s: %s\n", cmd->name, e.msg);
    return rc;
}
