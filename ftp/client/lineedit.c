/* ftp/client/lineedit.c - see lineedit.h. */
#include "lineedit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#ifdef FTPC_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

bool ftpc_read_line(const char *prompt, char *buf, size_t cap)
{
    bool tty = isatty(STDIN_FILENO);
#ifdef FTPC_HAVE_LIBEDIT
    if (tty) {
        char *line = readline(prompt);
        if (!line)
            return false;
        if (line[strspn(line, " \t")])
            add_history(line);
        snprintf(buf, cap, "%s", line);
        free(line);
        return true;
    }
#endif
    if (tty) {
        fputs(prompt, stdout);
        fflush(stdout);
    }
    if (!fgets(buf, (int)cap, stdin))
        return false;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (n + 1 == cap) { /* drop the rest of an overlong line */
        int c;
        while ((c = getchar()) != EOF && c != '\n')
            ;
    }
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return true;
}

bool ftpc_read_password(const char *prompt, char *buf, size_t cap)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return false;
    struct termios old, quiet;
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        /* nothing to do: the read below still works */
    }
    size_t n = 0;
    char c;
    bool ok = false;
    while (read(fd, &c, 1) == 1) {
        if (c == '\n' || c == '\r') {
            ok = true;
            break;
        }
        if (n + 1 < cap)
            buf[n++] = c;
    }
    buf[n] = '\0';
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
        /* the password was read; a lost newline is harmless */
    }
    close(fd);
    return ok;
}

void ftpc_lineedit_end(void)
{
#ifdef FTPC_HAVE_LIBEDIT
    clear_history();
#endif
}
