/* report: prints a run's figures: a readable summary on stderr and one machine-readable
 * record on stdout, either "RESULT key=value ..." or a JSON object (--json). */
#ifndef TCPCHAT_BENCH_REPORT_H
#define TCPCHAT_BENCH_REPORT_H

#include "opts.h"
#include "run.h"

void report_print(const struct bench_opts *o, const struct bench_result *r);

#endif
