// The Kafka engine's ceiling for a sequential command: bare transactions (begin, one record,
// commit) with the same librdkafka and producer settings as crm-command's writers, one after
// another. Prints the latency percentiles of a transaction and the client's CPU per transaction.
// Usage: txn_ceiling BROKERS TOPIC COUNT [RECORDS_PER_TXN]   (the topic must exist)
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
static int by_value(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}
static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
  (void)rk, (void)opaque;
  if (m->err) fprintf(stderr, "delivery: %s\n", rd_kafka_err2str(m->err));
}
static void set(rd_kafka_conf_t* c, const char* k, const char* v) {
  char err[512];
  if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "%s: %s\n", k, err);
    exit(2);
  }
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s BROKERS TOPIC COUNT [RECORDS_PER_TXN]\n", argv[0]);
    return 2;
  }
  const int n = atoi(argv[3]);
  const int per = argc > 4 ? atoi(argv[4]) : 1;
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  set(c, "bootstrap.servers", argv[1]);
  set(c, "transactional.id", "txn-ceiling");
  set(c, "enable.idempotence", "true");
  set(c, "acks", "all");
  set(c, "linger.ms", "0");  // as crm-command's writers
  set(c, "retry.backoff.ms", "5");
  set(c, "compression.type", "lz4");
  rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  if (rk == NULL) return fprintf(stderr, "%s\n", err), 1;
  rd_kafka_error_t* e = rd_kafka_init_transactions(rk, 30000);
  if (e) return fprintf(stderr, "init: %s\n", rd_kafka_error_string(e)), 1;
  char value[300];
  memset(value, 'x', sizeof value);
  double* lat = malloc(sizeof(double) * n);
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  const double start = now_ms();
  for (int i = 0; i < n; i++) {
    const double t = now_ms();
    if ((e = rd_kafka_begin_transaction(rk))) return fprintf(stderr, "begin: %s\n", rd_kafka_error_string(e)), 1;
    for (int j = 0; j < per; j++) {
      rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[2]), RD_KAFKA_V_PARTITION(0),
                        RD_KAFKA_V_VALUE(value, sizeof value), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_END);
    }
    if ((e = rd_kafka_commit_transaction(rk, 30000))) return fprintf(stderr, "commit: %s\n", rd_kafka_error_string(e)), 1;
    lat[i] = now_ms() - t;
  }
  const double wall = now_ms() - start;
  getrusage(RUSAGE_SELF, &r1);
  const double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e3 +
                     (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e3;
  qsort(lat, n, sizeof(double), by_value);
  printf("librdkafka %s: %d transactions of %d record(s): %.0f/s, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, client CPU %.2f ms per transaction\n",
         rd_kafka_version_str(), n, per, n / (wall / 1e3), lat[n / 2], lat[n * 9 / 10], lat[n * 99 / 100], cpu / n);
  rd_kafka_destroy(rk);
  return 0;
}
