/* Eight pthreads share one handle per demo model and must get, bit for bit, what one thread
 * gets; reckon_last_error() must stay per-thread. Then eight pthreads share one fraud engine,
 * each scoring its own users' transactions, and every decision must equal the single-thread
 * run's. Built with -fsanitize=address,undefined by
 * tests/c_abi.rs (LeakSanitizer also checks that each thread's scratch is freed at its exit).
 *
 *   threads WEIGHTS_DIR
 */
#define _POSIX_C_SOURCE 200809L /* pthread_barrier_t under -std=c11 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reckon.h"

#define THREADS 8
#define MODELS 5
#define BATCHES 12
#define ROUNDS 4
#define MAX_ROWS 64
#define MAX_IN 136
#define MAX_OUT 32

static const char *const names[MODELS] = {"two_tower", "ranker", "ltr", "fraud", "deepfm"};
static const size_t batch_rows[4] = {1, 7, MAX_ROWS, 3};

static reckon_model *models[MODELS];
static size_t in_cols[MODELS], out_cols[MODELS];
/* The single-thread run's outputs: model × batch. */
static float expected[MODELS][BATCHES][MAX_ROWS * MAX_OUT];

/* Odd threads wait here holding a failed call's message while even threads run a round. */
static pthread_barrier_t round0_done;

static void die(reckon_status s, const char *what) {
  fprintf(stderr, "%s: %s: %s\n", what, reckon_status_str(s), reckon_last_error());
  exit(1);
}

/* Batch `b` of model `i`: its inputs are a function of (i, b) only. */
static reckon_status run_batch(int i, int b, float *out) {
  size_t rows = batch_rows[b % 4], in = in_cols[i];
  float x[MAX_ROWS * MAX_IN];
  int64_t ids[MAX_ROWS * MAX_IN];
  for (size_t j = 0; j < rows * in; j++) {
    unsigned h = (unsigned)(j * 2654435761u + (unsigned)b * 40503u + (unsigned)i);
    x[j] = (float)(h % 2001u) / 500.0f - 2.0f;
    ids[j] = (int64_t)(h % 24u); /* within every table of both id models */
  }
  size_t n = rows * out_cols[i];
  if (strcmp(names[i], "deepfm") == 0 || strcmp(names[i], "two_tower") == 0)
    return reckon_model_predict_ids(models[i], ids, rows, in, out, n);
  return reckon_model_predict(models[i], x, rows, in, out, n);
}

struct worker {
  int id;
  int mismatches;
  int failures;
};

static void *work(void *arg) {
  struct worker *w = arg;
  float out[MAX_ROWS * MAX_OUT];
  /* This thread's own failure: its message names its own `cols`, and no other thread's calls
   * may change it. */
  float unused[4] = {0};
  size_t bad_cols = 1000 + (size_t)w->id;
  if (reckon_model_predict(models[1], unused, 1, bad_cols, unused, 4) != RECKON_SHAPE)
    w->failures++;
  char want[64];
  snprintf(want, sizeof want, "got %zu", bad_cols);
  const char *mine = reckon_last_error();
  int odd = w->id % 2;
  if (odd) {
    pthread_barrier_wait(&round0_done);
    if (strstr(mine, want) == NULL) {
      fprintf(stderr, "thread %d: last error changed under it: '%s'\n", w->id, mine);
      w->failures++;
    }
  }

  for (int r = 0; r < ROUNDS; r++) {
    /* Each thread walks the work in its own order, so different threads hit the same model
     * with different batch sizes at the same time. */
    for (int k = 0; k < MODELS * BATCHES; k++) {
      int slot = (k + w->id * 7 + r * 3) % (MODELS * BATCHES);
      int i = slot % MODELS, b = slot / MODELS;
      size_t n = batch_rows[b % 4] * out_cols[i];
      if (run_batch(i, b, out) != RECKON_OK) {
        fprintf(stderr, "thread %d: %s: %s\n", w->id, names[i], reckon_last_error());
        w->failures++;
      } else if (memcmp(out, expected[i][b], n * sizeof(float)) != 0) {
        w->mismatches++;
      }
    }
    if (!odd && r == 0) pthread_barrier_wait(&round0_done);
  }
  return NULL;
}

static int models_shared(void) {
  for (int i = 0; i < MODELS; i++)
    for (int b = 0; b < BATCHES; b++) {
      reckon_status s = run_batch(i, b, expected[i][b]);
      if (s != RECKON_OK) die(s, names[i]);
    }

  pthread_t threads[THREADS];
  struct worker workers[THREADS];
  pthread_barrier_init(&round0_done, NULL, THREADS);
  for (int t = 0; t < THREADS; t++) {
    workers[t] = (struct worker){.id = t};
    if (pthread_create(&threads[t], NULL, work, &workers[t]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      exit(1);
    }
  }
  int bad = 0;
  for (int t = 0; t < THREADS; t++) {
    pthread_join(threads[t], NULL);
    if (workers[t].mismatches || workers[t].failures) {
      fprintf(stderr, "thread %d: %d batches differ from the single-thread run, %d failures\n",
              t, workers[t].mismatches, workers[t].failures);
      bad = 1;
    }
  }
  pthread_barrier_destroy(&round0_done);
  printf("models: %d threads x %d batches on %d shared handles, %s\n", THREADS,
         ROUNDS * MODELS * BATCHES, MODELS, bad ? "MISMATCH" : "bit-identical to one thread");
  return bad;
}

/* The fraud stream: users own their devices, so a user's features depend on its own
 * transactions only, whichever thread scores them and however threads interleave. */
#define TXNS 6000
#define USERS 64
#define T0 1767225600.0
#define STEP 10.0 /* seconds between transactions: the stream spans 60 000 s */

static reckon_transaction stream[TXNS];
static reckon_fraud_decision decided[TXNS], reference[TXNS];
static reckon_fraud *engine;

static void make_stream(void) {
  uint64_t s = 0x2545f4914f6cdd1dull;
  for (size_t i = 0; i < TXNS; i++) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    uint64_t user = s % USERS;
    stream[i] = (reckon_transaction){
        .user_id = user,
        .device_id = user * 2 + (s >> 8) % 2,
        .timestamp = T0 + (double)i * STEP,
        .amount = (double)((s >> 16) % 4000) * 0.25,
        .is_international = (s >> 40) % 10 == 0,
    };
  }
}

static int same_decision(const reckon_fraud_decision *a, const reckon_fraud_decision *b) {
  return memcmp(&a->score, &b->score, sizeof a->score) == 0 && a->flagged == b->flagged &&
         memcmp(a->features, b->features, sizeof a->features) == 0;
}

static void *score_users(void *arg) {
  struct worker *w = arg;
  for (size_t i = 0; i < TXNS; i++) {
    if (stream[i].user_id % THREADS != (uint64_t)w->id) continue;
    if (reckon_fraud_score(engine, &stream[i], &decided[i]) != RECKON_OK) {
      fprintf(stderr, "thread %d: transaction %zu: %s\n", w->id, i, reckon_last_error());
      w->failures++;
    }
  }
  return NULL;
}

static reckon_fraud *open_engine(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/fraud.safetensors", dir);
  reckon_fraud_config config = reckon_fraud_config_default();
  /* One thread may run the whole span ahead of another: allow that much lateness. */
  config.max_lateness_seconds = TXNS * STEP;
  config.shards = 16;
  reckon_fraud *f = NULL;
  reckon_status s = reckon_fraud_open(path, &config, NULL, &f);
  if (s != RECKON_OK) die(s, path);
  return f;
}

static int fraud_shared(const char *dir) {
  make_stream();
  reckon_fraud *single = open_engine(dir);
  for (size_t i = 0; i < TXNS; i++) {
    reckon_status s = reckon_fraud_score(single, &stream[i], &reference[i]);
    if (s != RECKON_OK) die(s, "single-thread fraud run");
  }
  size_t want_users = 0, want_devices = 0;
  reckon_status s = reckon_fraud_counts(single, &want_users, &want_devices);
  if (s != RECKON_OK) die(s, "reckon_fraud_counts");
  reckon_fraud_free(single);

  engine = open_engine(dir);
  pthread_t threads[THREADS];
  struct worker workers[THREADS];
  for (int t = 0; t < THREADS; t++) {
    workers[t] = (struct worker){.id = t};
    if (pthread_create(&threads[t], NULL, score_users, &workers[t]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      exit(1);
    }
  }
  int bad = 0;
  for (int t = 0; t < THREADS; t++) {
    pthread_join(threads[t], NULL);
    if (workers[t].failures) bad = 1;
  }
  size_t differ = 0;
  for (size_t i = 0; i < TXNS; i++) differ += !same_decision(&decided[i], &reference[i]);
  size_t users = 0, devices = 0;
  s = reckon_fraud_counts(engine, &users, &devices);
  if (s != RECKON_OK) die(s, "reckon_fraud_counts");
  reckon_fraud_free(engine);

  /* Every user appears in a stream this long; each used one or both of its two devices. */
  int counts_ok = users == USERS && users == want_users && devices == want_devices &&
                  devices >= USERS && devices <= 2 * USERS;
  if (differ || !counts_ok) {
    fprintf(stderr,
            "fraud: %zu of %d decisions differ from the single-thread run; counts %zu users, "
            "%zu devices (single thread: %zu, %zu)\n",
            differ, TXNS, users, devices, want_users, want_devices);
    bad = 1;
  }
  printf("fraud: %d threads x own users on one engine, %d transactions, %zu users, %zu devices, "
         "%s\n",
         THREADS, TXNS, users, devices, bad ? "MISMATCH" : "every decision as one thread's");
  return bad;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s WEIGHTS_DIR\n", argv[0]);
    return 2;
  }
  for (int i = 0; i < MODELS; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.safetensors", argv[1], names[i]);
    reckon_status s = reckon_model_open(path, NULL, &models[i]);
    if (s != RECKON_OK) die(s, path);
    s = reckon_model_dims(models[i], &in_cols[i], &out_cols[i]);
    if (s != RECKON_OK) die(s, "reckon_model_dims");
    if (in_cols[i] > MAX_IN || out_cols[i] > MAX_OUT) {
      fprintf(stderr, "%s: dims %zu/%zu exceed this test's buffers\n", names[i], in_cols[i],
              out_cols[i]);
      return 1;
    }
  }
  int bad = models_shared();
  for (int i = 0; i < MODELS; i++) reckon_model_free(models[i]);
  bad |= fraud_shared(argv[1]);
  return bad;
}
