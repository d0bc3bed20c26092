/* Fraud scoring from C: stream transactions through the feature engine and the fraud model,
 * snapshot the state, and restore it into a second engine.
 *
 *   cc -std=c11 -Iinclude examples/c/fraud.c -Ltarget/release -lreckon -o fraud
 *   ./fraud weights/demo
 *
 * One reckon_fraud handle may be shared by every thread of a service: calls take a const
 * handle and each transaction is applied atomically. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, for a private snapshot file name */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "reckon.h"

#define N 6

static void check(reckon_status s, const char *what) {
  if (s != RECKON_OK) {
    fprintf(stderr, "%s: %s: %s\n", what, reckon_status_str(s), reckon_last_error());
    exit(1);
  }
}

static void print_decision(const reckon_transaction *t, const reckon_fraud_decision *d) {
  printf("  user %llu  %8.2f  score %.3f%s  (txn_count_1h %.0f, new_device %.0f)\n",
         (unsigned long long)t->user_id, t->amount, d->score, d->flagged ? "  FLAGGED" : "",
         d->features[5], d->features[10]);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s WEIGHTS_DIR (e.g. weights/demo)\n", argv[0]);
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/fraud.safetensors", argv[1]);
  char snapshot[] = "/tmp/reckon_fraud_XXXXXX";
  int fd = mkstemp(snapshot);
  if (fd < 0) {
    perror("mkstemp");
    return 1;
  }
  close(fd);

  reckon_fraud_config config = reckon_fraud_config_default();
  config.threshold = 0.5f;
  reckon_fraud *fraud = NULL;
  check(reckon_fraud_open(path, &config, NULL, &fraud), path);

  /* 2026-01-01: a user's ordinary afternoon, then a night burst abroad on a new device. */
  const double day = 1767225600.0;
  reckon_transaction txns[N] = {
      {1, 100, day + 14 * 3600.0, 25.00, false},
      {1, 100, day + 17 * 3600.0, 40.00, false},
      {2, 200, day + 18 * 3600.0, 12.50, false},
      {1, 666, day + 23.5 * 3600.0, 480.00, true},
      {1, 666, day + 23.6 * 3600.0, 520.00, true},
      {1, 666, day + 23.7 * 3600.0, 610.00, true},
  };
  reckon_fraud_decision decisions[N];
  check(reckon_fraud_score_batch(fraud, txns, N, decisions, N), "reckon_fraud_score_batch");
  for (int i = 0; i < N; i++) print_decision(&txns[i], &decisions[i]);

  /* A transaction over an hour older than the newest one is refused; nothing is recorded. */
  reckon_transaction late = {3, 300, day, 10.0, false};
  reckon_fraud_decision d;
  reckon_status s = reckon_fraud_score(fraud, &late, &d);
  printf("  late transaction: %s (%s)\n", reckon_status_str(s), reckon_last_error());

  /* Snapshot, restore into a fresh engine, and both score the next transaction the same. */
  check(reckon_fraud_snapshot(fraud, snapshot), "reckon_fraud_snapshot");
  reckon_fraud *restored = NULL;
  check(reckon_fraud_open(path, &config, NULL, &restored), path);
  check(reckon_fraud_restore(restored, snapshot), "reckon_fraud_restore");
  size_t users = 0, devices = 0;
  check(reckon_fraud_counts(restored, &users, &devices), "reckon_fraud_counts");
  printf("restored %zu users, %zu devices from %s\n", users, devices, snapshot);
  reckon_transaction next = {1, 666, day + 23.8 * 3600.0, 700.00, true};
  reckon_fraud_decision a, b;
  check(reckon_fraud_score(fraud, &next, &a), "reckon_fraud_score");
  check(reckon_fraud_score(restored, &next, &b), "reckon_fraud_score");
  print_decision(&next, &b);
  remove(snapshot);

  const char *name = NULL;
  check(reckon_fraud_feature_name(5, &name), "reckon_fraud_feature_name");
  printf("features[5] is %s\n", name);

  reckon_fraud_free(restored);
  reckon_fraud_free(fraud);
  return (s == RECKON_LATE && a.score == b.score) ? 0 : 1;
}
