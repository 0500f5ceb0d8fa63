/* procstat: parses /proc/PID/stat (utime, stime) and /proc/PID/status (VmRSS, VmHWM). */
#include "procstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* proc(5): utime and stime are fields 14 and 15 of /proc/PID/stat, counted from 1; the
 * fields after the ')' that closes the command name start at field 3. */
#define STAT_UTIME_FIELD      14
#define STAT_FIRST_AFTER_COMM 3
#define PROC_PATH_MAX         64
#define PROC_LINE_MAX         512

static int procstat_cpu(pid_t pid, double *cpu_s)
{
    char path[PROC_PATH_MAX], buf[PROC_LINE_MAX * 2];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and ')': skip to the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    int field = STAT_FIRST_AFTER_COMM - 1;
    unsigned long long utime = 0, stime = 0;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == STAT_UTIME_FIELD)
            utime = strtoull(tok, NULL, 10);
        else if (field == STAT_UTIME_FIELD + 1) {
            stime = strtoull(tok, NULL, 10);
            break;
        }
    }
    if (field != STAT_UTIME_FIELD + 1)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    *cpu_s = (double)(utime + stime) / (double)(hz > 0 ? hz : 100);
    return 0;
}

static int procstat_mem(pid_t pid, long *rss_kib, long *hwm_kib)
{
    char path[PROC_PATH_MAX], line[PROC_LINE_MAX];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    *rss_kib = *hwm_kib = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss_kib = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm_kib = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return *rss_kib < 0 ? -1 : 0;
}

int procstat_read(pid_t pid, struct procstat *st)
{
    memset(st, 0, sizeof *st);
    if (pid <= 0 || procstat_cpu(pid, &st->cpu_s) < 0)
        return -1;
    return procstat_mem(pid, &st->rss_kib, &st->hwm_kib);
}

double procstat_self_cpu(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}
