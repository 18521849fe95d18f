/* ftp/client/lineedit.h - reading what the user types: shell lines (with
 * libedit's editing and history when the build found libedit and stdin is a
 * terminal, plain stdin otherwise) and a password without echo. */
#ifndef FTPC_LINEEDIT_H
#define FTPC_LINEEDIT_H

#include <stdbool.h>
#include <stddef.h>

/* Reads one line (newline removed) into buf (cap bytes; a longer line is
 * cut).  prompt is shown only on a terminal.  Returns false at end of input. */
bool ftpc_read_line(const char *prompt, char *buf, size_t cap);

/* Asks for a password on /dev/tty with echo off.  Returns false when there
 * is no terminal to ask on. */
bool ftpc_read_password(const char *prompt, char *buf, size_t cap);

/* Frees the history (at exit). */
void ftpc_lineedit_end(void);

#endif
