/* ftp/client/progress.c - see progress.h. */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "io.h"

char *ftpc_human_bytes(double n, char *buf, size_t cap)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (n >= 1024 && u < 4) {
        n /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%.0f B", n);
    else
        snprintf(buf, cap, "%.1f %s", n, units[u]);
    return buf;
}

int ftpc_term_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col < 300 ? ws.ws_col : 300;
    return 80;
}

void ftpc_progress_start_to(ftpc_progress *p, const char *name, int64_t total,
                            uint64_t start, bool quiet, ftpc_progress_sink *sink)
{
    memset(p, 0, sizeof *p);
    const char *base = strrchr(name, '/');
    snprintf(p->name, sizeof p->name, "%s", base && base[1] ? base + 1 : name);
    p->total = total;
    p->start = p->done = start;
    p->t0 = ftpc_now();
    p->quiet = quiet;
    p->sink = sink;
    p->tty = !quiet && !sink && isatty(STDERR_FILENO);
    if (sink)
        sink->event(sink, p, FTPC_PROGRESS_START, NULL, start);
}

void ftpc_progress_start(ftpc_progress *p, const char *name, int64_t total,
                         uint64_t start, bool quiet)
{
    ftpc_progress_start_to(p, name, total, start, quiet, NULL);
}

void ftpc_progress_format(const ftpc_progress *p, double now, int width,
                          char *buf, size_t cap)
{
    double elapsed = now - p->t0;
    double rate = elapsed > 0 ? (double)(p->done - p->start) / elapsed : 0;
    char done[32], total[32], rt[32], eta[32] = "--:--", pct[8] = " --%";
    ftpc_human_bytes((double)p->done, done, sizeof done);
    ftpc_human_bytes(rate, rt, sizeof rt);
    if (p->total >= 0) {
        ftpc_human_bytes((double)p->total, total, sizeof total);
        double frac = p->total > 0 ? (double)p->done / (double)p->total : 1.0;
        if (frac > 1)
            frac = 1;
        snprintf(pct, sizeof pct, "%3d%%", (int)(frac * 100));
        if (rate > 0 && (uint64_t)p->total >= p->done) {
            long s = (long)((double)((uint64_t)p->total - p->done) / rate);
            if (s < 100 * 3600)
                snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60,
                         s % 60);
        }
    } else {
        snprintf(total, sizeof total, "?");
    }
    char right[160];
    snprintf(right, sizeof right, " %s %s/%s %s/s ETA %s", pct, done, total, rt,
             eta);
    /* The bar gets what the name and the numbers leave, if enough. */
    int name_w = (int)strlen(p->name);
    if (name_w > width / 3)
        name_w = width / 3;
    int bar_w = width - 1 - name_w - (int)strlen(right) - 3;
    char bar[300] = "";
    if (bar_w >= 10 && p->total >= 0) {
        double frac = p->total > 0 ? (double)p->done / (double)p->total : 1.0;
        int fill = (int)(frac * bar_w);
        if (fill > bar_w)
            fill = bar_w;
        bar[0] = ' ';
        bar[1] = '[';
        for (int i = 0; i < bar_w; i++)
            bar[2 + i] = i < fill ? '#' : '-';
        bar[2 + bar_w] = ']';
        bar[3 + bar_w] = '\0';
    }
    snprintf(buf, cap, "%.*s%s%s", name_w, p->name, bar, right);
}

static void draw(ftpc_progress *p, double now)
{
    char line[1024];
    ftpc_progress_format(p, now, ftpc_term_width(), line, sizeof line);
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    p->drawn = true;
    p->last_draw = now;
}

void ftpc_progress_update(ftpc_progress *p, uint64_t done)
{
    if (p->sink) {
        p->sink->event(p->sink, p, FTPC_PROGRESS_UPDATE, NULL, done);
        return;
    }
    p->done = done;
    if (!p->tty)
        return;
    double now = ftpc_now();
    if (!p->drawn || now - p->last_draw >= 0.1)
        draw(p, now);
}

void ftpc_progress_clear(ftpc_progress *p)
{
    if (p->sink) {
        p->sink->event(p->sink, p, FTPC_PROGRESS_CLEAR, NULL, p->done);
        return;
    }
    if (p->tty && p->drawn) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
        p->drawn = false;
    }
}

void ftpc_progress_summary(const ftpc_progress *p, const char *note, double now,
                           char *buf, size_t cap)
{
    double secs = now - p->t0;
    double rate = secs > 0 ? (double)(p->done - p->start) / secs : 0;
    char size[32], rt[32], from[32];
    ftpc_human_bytes((double)p->done, size, sizeof size);
    ftpc_human_bytes(rate, rt, sizeof rt);
    char resumed[64] = "";
    if (p->start > 0)
        snprintf(resumed, sizeof resumed, ", resumed at %s",
                 ftpc_human_bytes((double)p->start, from, sizeof from));
    snprintf(buf, cap, "%s: %s in %.2f s (%s/s)%s%s%s", p->name, size, secs, rt,
             resumed, note ? ", " : "", note ? note : "");
}

void ftpc_progress_finish(ftpc_progress *p, const char *note)
{
    if (p->sink) {
        p->sink->event(p->sink, p, FTPC_PROGRESS_FINISH, note, p->done);
        return;
    }
    if (p->quiet)
        return;
    double now = ftpc_now();
    if (p->tty)
        draw(p, now); /* the last state, 100% when complete */
    char line[1024];
    ftpc_progress_summary(p, note, now, line, sizeof line);
    fprintf(stderr, "%s%s\n", p->tty ? "\r\033[K" : "", line);
    fflush(stderr);
    p->drawn = false;
}
