/* report: turns a bench_result into figures. Every derived number (latency quantiles, server
 * CPU per million deliveries, memory per connection) is computed here, once, for both the
 * summary and the machine-readable record, so they cannot disagree. */
#include "report.h"

#include <stdio.h>
#include <string.h>

#define NS_PER_MS 1e6
#define KIB       1024.0
#define MILLION   1e6

/* One record being written: RESULT line or JSON object. */
struct kv {
    FILE *f;
    int json;
    int first;
};

static void kv_key(struct kv *kv, const char *key)
{
    if (kv->json)
        fprintf(kv->f, "%s\"%s\":", kv->first ? "{" : ",", key);
    else
        fprintf(kv->f, "%s%s=", kv->first ? "RESULT " : " ", key);
    kv->first = 0;
}

static void kv_num(struct kv *kv, const char *key, double v, int decimals)
{
    kv_key(kv, key);
    fprintf(kv->f, "%.*f", decimals, v);
}

static void kv_u64(struct kv *kv, const char *key, unsigned long long v)
{
    kv_key(kv, key);
    fprintf(kv->f, "%llu", v);
}

/* Strings are quoted in both forms; quotes and backslashes inside become '\''. */
static void kv_str(struct kv *kv, const char *key, const char *v)
{
    kv_key(kv, key);
    fputc('"', kv->f);
    for (const char *p = v; *p; p++)
        fputc(*p == '"' || *p == '\\' || (unsigned char)*p < ' ' ? '\'' : *p, kv->f);
    fputc('"', kv->f);
}

static void kv_end(struct kv *kv)
{
    fputs(kv->json ? "}\n" : "\n", kv->f);
    fflush(kv->f);
}

/* The figures derived from the raw result. */
struct figures {
    double p50, p99, p999, pmax, mean; /* ms */
    int srv;                           /* server figures available */
    double srv_cpu, srv_cpu_join, srv_cpu_send, srv_cpu_per_m;
    long rss_start, rss_reg, rss_last_join, rss_joined, rss_end, hwm;
    /* Bytes of server RSS per connection: registered, at the last JOIN notice, settled. */
    double per_conn_reg, per_conn_last_join, per_conn_joined;
    double bench_us_per_deliv;
};

static void report_figures(const struct bench_result *r, struct figures *f)
{
    memset(f, 0, sizeof *f);
    const struct hist *h = &r->latency;
    f->p50 = (double)hist_quantile(h, 0.50) / NS_PER_MS;
    f->p99 = (double)hist_quantile(h, 0.99) / NS_PER_MS;
    f->p999 = (double)hist_quantile(h, 0.999) / NS_PER_MS;
    f->pmax = (double)h->max / NS_PER_MS;
    f->mean = h->count ? (double)h->sum / (double)h->count / NS_PER_MS : 0;
    if (r->delivered)
        f->bench_us_per_deliv = r->bench_cpu_send_s * MILLION / (double)r->delivered;
    f->srv = r->srv_start.ok && r->srv_end.ok;
    if (!f->srv)
        return;
    f->rss_start = r->srv_start.st.rss_kib;
    f->rss_end = r->srv_end.st.rss_kib;
    f->hwm = r->srv_end.st.hwm_kib;
    f->srv_cpu = r->srv_end.st.cpu_s - r->srv_start.st.cpu_s;
    if (r->srv_registered.ok) {
        f->rss_reg = r->srv_registered.st.rss_kib;
        if (r->registered)
            f->per_conn_reg = (double)(f->rss_reg - f->rss_start) * KIB / r->registered;
    }
    if (r->srv_last_join.ok) {
        f->rss_last_join = r->srv_last_join.st.rss_kib;
        if (r->joined)
            f->per_conn_last_join = (double)(f->rss_last_join - f->rss_start) * KIB / r->joined;
    }
    if (r->srv_joined.ok) {
        f->rss_joined = r->srv_joined.st.rss_kib;
        if (r->joined)
            f->per_conn_joined = (double)(f->rss_joined - f->rss_start) * KIB / r->joined;
        if (r->srv_registered.ok)
            f->srv_cpu_join = r->srv_joined.st.cpu_s - r->srv_registered.st.cpu_s;
        f->srv_cpu_send = r->srv_end.st.cpu_s - r->srv_joined.st.cpu_s;
        if (r->delivered)
            f->srv_cpu_per_m = f->srv_cpu_send / ((double)r->delivered / MILLION);
    }
}

static const char *report_status(const struct bench_result *r)
{
    return r->status == RUN_OK ? "ok" : r->status == RUN_TIMEOUT ? "timeout" : "failed";
}

static void report_summary(const struct bench_opts *o, const struct bench_result *r,
                           const struct figures *f)
{
    FILE *e = stderr;
    fprintf(e,
            "--- tcpchat-bench: scenario %s%s%s, %d clients, %d channels, %d senders x %d "
            "messages of %d B, %s%s%s\n",
            o->scenario, o->label[0] ? " against " : "", o->label, o->clients, o->channels,
            o->senders, o->messages, r->size, o->rate > 0 ? "fixed rate" : "full speed",
            o->tls ? ", over TLS" : "", o->websocket ? ", over WebSocket" : "");
    if (o->rate > 0)
        fprintf(e, "rate            %.1f msg/s per sender (schedule lag max %.1f ms)\n", o->rate,
                r->sched_lag_max_ms);
    fprintf(e, "status          %s%s%s (phase %s, %.2f s)\n", report_status(r),
            r->why[0] ? ": " : "", r->why, r->phase, r->elapsed_s);
    fprintf(e,
            "connect         %u connected in %.2f s, %u registered in %.2f s (%u nick retries, "
            "%u reconnects)\n",
            r->connected, r->connect_s, r->registered, r->register_s, r->nick_retries,
            r->reconnects);
    if (o->channels)
        fprintf(e, "join            %u joined in %.2f s; JOIN notices %llu/%llu seen in %.2f s\n",
                r->joined, r->join_s, (unsigned long long)r->join_notices,
                (unsigned long long)r->join_notices_expected, r->join_seen_s);
    if (r->expected) {
        fprintf(e,
                "messages        %llu sent in %.2f s; %llu/%llu delivered in %.2f s = %.0f "
                "deliveries/s\n",
                (unsigned long long)r->sent, r->send_s, (unsigned long long)r->delivered,
                (unsigned long long)r->expected, r->deliver_s, r->deliveries_per_s);
        fprintf(e,
                "check           lost %llu, reordered %llu, gaps %llu, foreign %llu, "
                "refused %llu\n",
                (unsigned long long)r->lost, (unsigned long long)r->reordered,
                (unsigned long long)r->gaps, (unsigned long long)r->foreign,
                (unsigned long long)r->send_refused);
        fprintf(e, "latency ms      p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n", f->p50,
                f->p99, f->p999, f->pmax, f->mean);
    }
    fprintf(e, "disconnects     %u\n", r->disconnects);
    for (int i = 0; i < RUN_REASONS_MAX && r->reasons[i].count; i++)
        fprintf(e, "    %6u  %s\n", r->reasons[i].count, r->reasons[i].text);
    if (r->reasons_other)
        fprintf(e, "    %6u  (other reasons)\n", r->reasons_other);
    if (f->srv)
        fprintf(e,
                "server          CPU %.2f s (join %.2f, send %.2f = %.2f s per million "
                "deliveries); RSS KiB start %ld registered %ld last JOIN %ld joined %ld end %ld "
                "peak %ld; per connection %.0f B registered, %.0f B joined\n",
                f->srv_cpu, f->srv_cpu_join, f->srv_cpu_send, f->srv_cpu_per_m, f->rss_start,
                f->rss_reg, f->rss_last_join, f->rss_joined, f->rss_end, f->hwm, f->per_conn_reg,
                f->per_conn_joined);
    fprintf(e, "bench           CPU %.2f s (%.2f us per delivery while sending)\n", r->bench_cpu_s,
            f->bench_us_per_deliv);
}

static void report_record(const struct bench_opts *o, const struct bench_result *r,
                          const struct figures *f)
{
    struct kv kv = {.f = stdout, .json = o->json, .first = 1};
    kv_str(&kv, "scenario", o->scenario);
    kv_str(&kv, "label", o->label);
    kv_str(&kv, "status", report_status(r));
    kv_str(&kv, "why", r->why);
    kv_str(&kv, "phase", r->phase);
    kv_u64(&kv, "clients", (unsigned long long)o->clients);
    kv_u64(&kv, "channels", (unsigned long long)o->channels);
    kv_u64(&kv, "senders", (unsigned long long)o->senders);
    kv_u64(&kv, "messages", (unsigned long long)o->messages);
    kv_u64(&kv, "size", (unsigned long long)r->size);
    kv_num(&kv, "rate", o->rate, 2);
    kv_u64(&kv, "tls", (unsigned long long)o->tls);
    kv_u64(&kv, "websocket", (unsigned long long)o->websocket);
    kv_u64(&kv, "connected", r->connected);
    kv_u64(&kv, "registered", r->registered);
    kv_u64(&kv, "joined", r->joined);
    kv_u64(&kv, "failed_connect", r->failed_connect);
    kv_u64(&kv, "failed_join", r->failed_join);
    kv_u64(&kv, "reconnects", r->reconnects);
    kv_u64(&kv, "nick_retries", r->nick_retries);
    kv_num(&kv, "connect_s", r->connect_s, 3);
    kv_num(&kv, "register_s", r->register_s, 3);
    kv_num(&kv, "join_s", r->join_s, 3);
    kv_num(&kv, "join_seen_s", r->join_seen_s, 3);
    kv_u64(&kv, "join_notices", r->join_notices);
    kv_u64(&kv, "join_notices_expected", r->join_notices_expected);
    kv_u64(&kv, "sent", r->sent);
    kv_u64(&kv, "expected", r->expected);
    kv_u64(&kv, "delivered", r->delivered);
    kv_u64(&kv, "lost", r->lost);
    kv_u64(&kv, "reordered", r->reordered);
    kv_u64(&kv, "gaps", r->gaps);
    kv_u64(&kv, "foreign", r->foreign);
    kv_u64(&kv, "refused", r->send_refused);
    kv_num(&kv, "send_s", r->send_s, 3);
    kv_num(&kv, "deliver_s", r->deliver_s, 3);
    kv_num(&kv, "deliveries_per_s", r->deliveries_per_s, 0);
    kv_num(&kv, "lat_p50_ms", f->p50, 3);
    kv_num(&kv, "lat_p99_ms", f->p99, 3);
    kv_num(&kv, "lat_p999_ms", f->p999, 3);
    kv_num(&kv, "lat_max_ms", f->pmax, 3);
    kv_num(&kv, "lat_mean_ms", f->mean, 3);
    kv_num(&kv, "sched_lag_max_ms", r->sched_lag_max_ms, 3);
    kv_u64(&kv, "disconnects", r->disconnects);
    char reasons[RUN_REASONS_MAX * (RUN_REASON_LEN + 16)] = "";
    size_t used = 0;
    for (int i = 0; i < RUN_REASONS_MAX && r->reasons[i].count && used < sizeof reasons; i++)
        used += (size_t)snprintf(reasons + used, sizeof reasons - used, "%s%s:%u", i ? "; " : "",
                                 r->reasons[i].text, r->reasons[i].count);
    kv_str(&kv, "disconnect_reasons", reasons);
    if (f->srv) {
        kv_num(&kv, "server_cpu_s", f->srv_cpu, 2);
        kv_num(&kv, "server_cpu_join_s", f->srv_cpu_join, 2);
        kv_num(&kv, "server_cpu_send_s", f->srv_cpu_send, 2);
        kv_num(&kv, "server_cpu_s_per_mdeliv", f->srv_cpu_per_m, 3);
        kv_u64(&kv, "server_rss_start_kib", (unsigned long long)f->rss_start);
        kv_u64(&kv, "server_rss_registered_kib", (unsigned long long)f->rss_reg);
        kv_u64(&kv, "server_rss_last_join_kib", (unsigned long long)f->rss_last_join);
        kv_u64(&kv, "server_rss_joined_kib", (unsigned long long)f->rss_joined);
        kv_u64(&kv, "server_rss_end_kib", (unsigned long long)f->rss_end);
        kv_u64(&kv, "server_hwm_kib", (unsigned long long)f->hwm);
        kv_num(&kv, "server_bytes_per_conn_registered", f->per_conn_reg, 0);
        kv_num(&kv, "server_bytes_per_conn_last_join", f->per_conn_last_join, 0);
        kv_num(&kv, "server_bytes_per_conn_joined", f->per_conn_joined, 0);
    }
    kv_num(&kv, "bench_cpu_s", r->bench_cpu_s, 2);
    kv_num(&kv, "bench_us_per_delivery", f->bench_us_per_deliv, 3);
    kv_num(&kv, "elapsed_s", r->elapsed_s, 2);
    kv_end(&kv);
}

void report_print(const struct bench_opts *o, const struct bench_result *r)
{
    struct figures f;
    report_figures(r, &f);
    report_summary(o, r, &f);
    report_record(o, r, &f);
}
