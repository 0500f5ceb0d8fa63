/* procstat: the CPU time and memory of another process (the server under test), read from
 * /proc/PID/stat and /proc/PID/status, so the bench can report what a run cost the server. */
#ifndef TCPCHAT_BENCH_PROCSTAT_H
#define TCPCHAT_BENCH_PROCSTAT_H

#include <sys/types.h>

struct procstat {
    double cpu_s; /* user + system CPU seconds since the process started, all threads */
    long rss_kib; /* VmRSS: resident memory now */
    long hwm_kib; /* VmHWM: peak resident memory */
};

/* Fills st for pid. Returns 0, or -1 when the process is gone or /proc cannot be read. */
int procstat_read(pid_t pid, struct procstat *st);
/* This process's own user + system CPU seconds (getrusage). */
double procstat_self_cpu(void);

#endif
