/* ftp/server/usercli.c - stub; the user subcommands are being written. */
#include "usercli.h"

#include <stdio.h>

int ftpd_usercli_main(int argc, char **argv, const char *data_dir) { (void)argc; (void)argv; (void)data_dir; fputs("user: not implemented yet\n", stderr); return 1; }
int ftpd_usercli_main_file(int argc, char **argv, const char *users_path) { (void)argc; (void)argv; (void)users_path; fputs("user: not implemented yet\n", stderr); return 1; }
