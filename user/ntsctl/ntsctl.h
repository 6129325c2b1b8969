/* ntsctl: the operator's tool. main.c holds the table of subcommands; each lives in its own file
 * with its own --help. Global options come before the subcommand and are shared here.
 */
#ifndef NTS_NTSCTL_H
#define NTS_NTSCTL_H

#include <stdbool.h>

struct ntsctl {
	/* Defaults: ntsd's, from nts_config_defaults() (util/config.h). */
	const char *ctl_socket;
	const char *pin_dir;
	const char *db;
};

/* Each subcommand: argv[0] is its name. Returns the process exit status (0 ok, 1 failure, 2 usage). */
int cmd_attach(struct ntsctl *c, int argc, char **argv);
int cmd_detach(struct ntsctl *c, int argc, char **argv);
int cmd_status(struct ntsctl *c, int argc, char **argv);
int cmd_stats(struct ntsctl *c, int argc, char **argv);
int cmd_usage(struct ntsctl *c, int argc, char **argv);
int cmd_fastpath(struct ntsctl *c, int argc, char **argv);
int cmd_allocations(struct ntsctl *c, int argc, char **argv);
int cmd_account(struct ntsctl *c, int argc, char **argv);
int cmd_token(struct ntsctl *c, int argc, char **argv);
int cmd_upgrade(struct ntsctl *c, int argc, char **argv);
int cmd_diag_link(struct ntsctl *c, int argc, char **argv);
int cmd_key(struct ntsctl *c, int argc, char **argv);
int cmd_reload(struct ntsctl *c, int argc, char **argv);
int cmd_top(struct ntsctl *c, int argc, char **argv);
int cmd_fleet(struct ntsctl *c, int argc, char **argv);
/* drain and undrain (drain.c). */
int cmd_drain(struct ntsctl *c, int argc, char **argv);
int cmd_secret(struct ntsctl *c, int argc, char **argv);

#endif
