/* The C ABI's promises, checked from C: every error case of the core functions returns its
 * status with a message, leaves outputs untouched and crashes nothing; successes clear the
 * message. Built with -fsanitize=address,undefined by tests/c_abi.rs.
 *
 *   contract WEIGHTS_DIR OUT_DIR
 *
 * Writes each model's outputs on fixed inputs to OUT_DIR/<name>.f32 (raw little-endian floats);
 * tests/c_abi.rs compares them bit for bit with the Rust API's. Exits 1 if any check failed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reckon.h"

static int failures;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "contract.c:%d: check failed: %s\n", __LINE__, #cond); \
      failures++;                                                            \
    }                                                                        \
  } while (0)

/* The status must be `want`; the message must be "" after a success and non-empty after a
 * failure. */
static void expect(int line, const char *call, reckon_status got, reckon_status want) {
  const char *msg = reckon_last_error();
  if (got != want) {
    fprintf(stderr, "contract.c:%d: %s\n  returned %d (%s), want %d (%s); last error: %s\n",
            line, call, got, reckon_status_str(got), want, reckon_status_str(want),
            msg ? msg : "(NULL)");
    failures++;
  }
  if (msg == NULL) {
    fprintf(stderr, "contract.c:%d: %s: reckon_last_error() is NULL\n", line, call);
    failures++;
  } else if (want == RECKON_OK && msg[0] != '\0') {
    fprintf(stderr, "contract.c:%d: %s: message after success: %s\n", line, call, msg);
    failures++;
  } else if (want != RECKON_OK && msg[0] == '\0') {
    fprintf(stderr, "contract.c:%d: %s: failed without a message\n", line, call);
    failures++;
  }
}
#define EXPECT(call, want) expect(__LINE__, #call, (call), (want))

/* A value no model produces, written into output buffers before calls that must fail. */
#define SENTINEL (-12345.0f)

static void fill(float *buf, size_t n) {
  for (size_t i = 0; i < n; i++) buf[i] = SENTINEL;
}

static int untouched(const float *buf, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (buf[i] != SENTINEL) return 0;
  return 1;
}

/* The inputs tests/c_abi.rs regenerates in Rust: integer arithmetic, then one exact float
 * division, so both languages get the same bits. */
static float feature(size_t i) { return (float)((i * 7919u) % 1000u) / 250.0f - 2.0f; }

static void write_f32(const char *dir, const char *name, const float *data, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.f32", dir, name);
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (f == NULL) return;
  CHECK(fwrite(data, sizeof(float), n, f) == n);
  CHECK(fclose(f) == 0);
}

static reckon_model *open_demo(const char *dir, const char *name, const reckon_options *opts) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
  reckon_model *m = NULL;
  EXPECT(reckon_model_open(path, opts, &m), RECKON_OK);
  if (m == NULL) {
    fprintf(stderr, "cannot open %s; stopping\n", path);
    exit(1);
  }
  return m;
}

#define ROWS 37 /* odd, so no kernel sees only whole SIMD blocks */

static void statuses(void) {
  const reckon_status named[] = {
      RECKON_OK,          RECKON_INVALID_ARGUMENT, RECKON_IO,           RECKON_FORMAT,
      RECKON_SHAPE,       RECKON_BUFFER_TOO_SMALL, RECKON_OUT_OF_RANGE, RECKON_NON_FINITE,
      RECKON_UNSUPPORTED, RECKON_DEVICE,           RECKON_LATE,         RECKON_PANIC};
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
    const char *s = reckon_status_str(named[i]);
    CHECK(s != NULL && s[0] != '\0' && strcmp(s, "unknown status") != 0);
    for (size_t j = 0; j < i; j++) CHECK(strcmp(s, reckon_status_str(named[j])) != 0);
  }
  const reckon_status unknown[] = {-1, RECKON_PANIC + 1, 1000, INT32_MIN, INT32_MAX};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
    CHECK(strcmp(reckon_status_str(unknown[i]), "unknown status") == 0);
  const char *v = reckon_version();
  CHECK(v != NULL && v[0] != '\0');
  CHECK(reckon_last_error() != NULL);
}

static void options(void) {
  reckon_options *o = NULL;
  EXPECT(reckon_options_create(NULL), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_options_create(&o), RECKON_OK);
  EXPECT(reckon_options_set_isa(NULL, "portable"), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_options_set_isa(o, "sse9"), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_options_set_isa(o, "\xff\xfe"), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_options_set_isa(o, "portable"), RECKON_OK);
  EXPECT(reckon_options_set_isa(o, NULL), RECKON_OK);
  EXPECT(reckon_options_set_isa(o, "auto"), RECKON_OK);
  EXPECT(reckon_options_set_allow_non_finite(NULL, true), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_options_set_allow_non_finite(o, true), RECKON_OK);
  EXPECT(reckon_options_set_oov_fallback(NULL, 0), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_options_set_oov_fallback(o, -1), RECKON_OK);
  EXPECT(reckon_options_set_device(NULL, "cpu"), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_options_set_device(o, NULL), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_options_set_device(o, "cuda"), RECKON_DEVICE);
  EXPECT(reckon_options_set_device(o, "cpu"), RECKON_OK);
  EXPECT(reckon_options_set_threads(NULL, 2), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_options_set_threads(o, 0), RECKON_OK);
  EXPECT(reckon_options_set_threads(o, 2), RECKON_OK);
  reckon_options_free(o);
  reckon_options_free(NULL);
}

static void opening(const char *dir, const char *tmp) {
  char path[4096];
  snprintf(path, sizeof path, "%s/ranker.safetensors", dir);
  /* A failed open leaves *out as it was. */
  reckon_model *keep = (reckon_model *)&failures, *m = keep;
  EXPECT(reckon_model_open(NULL, NULL, &m), RECKON_INVALID_ARGUMENT);
  CHECK(m == keep);
  EXPECT(reckon_model_open(path, NULL, NULL), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_model_open("\xff\xfe.safetensors", NULL, &m), RECKON_INVALID_ARGUMENT);
  CHECK(m == keep);
  EXPECT(reckon_model_open("/nonexistent/reckon/model.safetensors", NULL, &m), RECKON_IO);
  CHECK(m == keep);

  /* Malformed files: garbage bytes, an empty file, a header length past the end. */
  static const unsigned char garbage[] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03};
  static const unsigned char huge_header[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{', '}'};
  struct {
    const char *name;
    const unsigned char *bytes;
    size_t len;
  } bad[] = {{"garbage", garbage, sizeof garbage},
             {"empty", garbage, 0},
             {"huge_header", huge_header, sizeof huge_header}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(path, sizeof path, "%s/%s.safetensors", tmp, bad[i].name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f == NULL) continue;
    CHECK(fwrite(bad[i].bytes, 1, bad[i].len, f) == bad[i].len);
    CHECK(fclose(f) == 0);
    EXPECT(reckon_model_open(path, NULL, &m), RECKON_FORMAT);
    CHECK(m == keep);
  }
  /* A valid safetensors file that is not a model (the demo's request data). */
  snprintf(path, sizeof path, "%s/requests/deepfm.safetensors", dir);
  reckon_status s = reckon_model_open(path, NULL, &m);
  CHECK(s != RECKON_OK && reckon_last_error()[0] != '\0');
  CHECK(m == keep);

  /* Options the CPU cannot honour are reported when the model is opened. */
  reckon_options *o = NULL;
  EXPECT(reckon_options_create(&o), RECKON_OK);
  EXPECT(reckon_options_set_oov_fallback(o, 1000000), RECKON_OK);
  snprintf(path, sizeof path, "%s/deepfm.safetensors", dir);
  EXPECT(reckon_model_open(path, o, &m), RECKON_OUT_OF_RANGE);
  CHECK(m == keep);
  reckon_options_free(o);
}

static void metadata(reckon_model *const models[5], const char *const names[5]) {
  const size_t in[5] = {1, 100, 136, 11, 10}, out[5] = {32, 4, 1, 1, 1};
  for (int i = 0; i < 5; i++) {
    const char *arch = NULL;
    EXPECT(reckon_model_arch(models[i], &arch), RECKON_OK);
    CHECK(arch != NULL && strcmp(arch, names[i]) == 0);
    size_t a = 0, b = 0;
    EXPECT(reckon_model_dims(models[i], &a, &b), RECKON_OK);
    CHECK(a == in[i] && b == out[i]);
    EXPECT(reckon_model_dims(models[i], NULL, NULL), RECKON_OK);
  }
  const char *arch = "kept";
  EXPECT(reckon_model_arch(NULL, &arch), RECKON_INVALID_ARGUMENT);
  CHECK(strcmp(arch, "kept") == 0);
  EXPECT(reckon_model_arch(models[0], NULL), RECKON_INVALID_ARGUMENT);
  size_t a = 99;
  EXPECT(reckon_model_dims(NULL, &a, NULL), RECKON_INVALID_ARGUMENT);
  CHECK(a == 99);
}

/* Every error case of reckon_model_predict on a dense model (`cols` in, `oc` out per row). */
static void predict_errors(reckon_model *m, size_t cols, size_t oc, reckon_model *id_model) {
  float x[2 * 136 + 1], out[2 * 4 + 1];
  for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = feature(i);
  const size_t n = 2 * oc;
  fill(out, n + 1);
  EXPECT(reckon_model_predict(NULL, x, 2, cols, out, n), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_model_predict(m, NULL, 2, cols, out, n), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_model_predict(m, x, 2, cols, NULL, n), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_model_predict(m, x, 0, cols, out, n), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_model_predict(m, x, 2, cols + 1, out, n), RECKON_SHAPE);
  EXPECT(reckon_model_predict(m, x, 2, cols - 1, out, n), RECKON_SHAPE);
  EXPECT(reckon_model_predict(m, x, 2, cols, out, n - 1), RECKON_BUFFER_TOO_SMALL);
  EXPECT(reckon_model_predict(m, x, 2, cols, out, 0), RECKON_BUFFER_TOO_SMALL);
  EXPECT(reckon_model_predict(m, x, SIZE_MAX / 2, cols, out, n), RECKON_INVALID_ARGUMENT);
  /* Misaligned input and output. */
  EXPECT(reckon_model_predict(m, (const float *)((const char *)x + 1), 2, cols, out, n),
         RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_model_predict(m, x, 2, cols, (float *)((char *)out + 2), n),
         RECKON_INVALID_ARGUMENT);
  /* Non-finite features are rejected by default. */
  float saved = x[cols + 3];
  x[cols + 3] = 0.0f / 0.0f;
  EXPECT(reckon_model_predict(m, x, 2, cols, out, n), RECKON_NON_FINITE);
  x[cols + 3] = 1.0f / 0.0f;
  EXPECT(reckon_model_predict(m, x, 2, cols, out, n), RECKON_NON_FINITE);
  x[cols + 3] = saved;
  /* The id API on a dense model and the dense API on an id model. */
  const int64_t ids[2 * 10] = {0};
  EXPECT(reckon_model_predict_ids(m, ids, 2, cols, out, n), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_model_predict(id_model, x, 2, 10, out, n), RECKON_INVALID_ARGUMENT);
  CHECK(untouched(out, n + 1));
  EXPECT(reckon_model_predict(m, x, 2, cols, out, n), RECKON_OK);
  CHECK(out[n] == SENTINEL); /* nothing written past what the call needs */
}

static void predict_ids_errors(reckon_model *deepfm, reckon_model *towers, reckon_model *ranker) {
  int64_t ids[2 * 10];
  for (int i = 0; i < 20; i++) ids[i] = i % 20;
  float out[2 * 32 + 1];
  fill(out, 65);
  EXPECT(reckon_model_predict_ids(NULL, ids, 2, 10, out, 2), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_model_predict_ids(deepfm, NULL, 2, 10, out, 2), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_model_predict_ids(deepfm, ids, 2, 10, NULL, 2), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_model_predict_ids(deepfm, ids, 0, 10, out, 2), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_model_predict_ids(deepfm, ids, 2, 9, out, 2), RECKON_SHAPE);
  EXPECT(reckon_model_predict_ids(deepfm, ids, 2, 10, out, 1), RECKON_BUFFER_TOO_SMALL);
  EXPECT(reckon_model_predict_ids(deepfm, (const int64_t *)((const char *)ids + 4), 2, 10, out, 2),
         RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_model_predict_ids(towers, ids, 2, 2, out, 64), RECKON_SHAPE);
  EXPECT(reckon_model_predict_ids(towers, ids, 2, 1, out, 63), RECKON_BUFFER_TOO_SMALL);
  EXPECT(reckon_model_predict_ids(ranker, ids, 2, 100, out, 8), RECKON_INVALID_ARGUMENT);
  /* Ids outside a table: past the end of deepfm's hour field (24 values), negative, huge. */
  ids[10 + 4] = 24;
  EXPECT(reckon_model_predict_ids(deepfm, ids, 2, 10, out, 2), RECKON_OUT_OF_RANGE);
  ids[10 + 4] = -1;
  EXPECT(reckon_model_predict_ids(deepfm, ids, 2, 10, out, 2), RECKON_OUT_OF_RANGE);
  ids[10 + 4] = 4;
  int64_t users[2] = {1, 2000};
  EXPECT(reckon_model_predict_ids(towers, users, 2, 1, out, 64), RECKON_OUT_OF_RANGE);
  users[1] = INT64_MIN;
  EXPECT(reckon_model_predict_ids(towers, users, 2, 1, out, 64), RECKON_OUT_OF_RANGE);
  CHECK(untouched(out, 65));
  EXPECT(reckon_model_predict_ids(deepfm, ids, 2, 10, out, 2), RECKON_OK);
  CHECK(out[2] == SENTINEL);
}

static void tower_errors(reckon_model *towers, reckon_model *ranker) {
  int64_t ids[2] = {5, 9999};
  float out[2 * 32 + 1];
  fill(out, 65);
  EXPECT(reckon_tower_embed(NULL, RECKON_TOWER_ITEM, ids, 2, out, 64), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_tower_embed(towers, RECKON_TOWER_ITEM, NULL, 2, out, 64),
         RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_tower_embed(towers, RECKON_TOWER_ITEM, ids, 2, NULL, 64),
         RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_tower_embed(towers, RECKON_TOWER_ITEM, ids, 0, out, 64), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_tower_embed(towers, RECKON_TOWER_ITEM, ids, 2, out, 63), RECKON_BUFFER_TOO_SMALL);
  EXPECT(reckon_tower_embed(towers, 2, ids, 2, out, 64), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_tower_embed(towers, -1, ids, 2, out, 64), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_tower_embed(ranker, RECKON_TOWER_ITEM, ids, 2, out, 64), RECKON_INVALID_ARGUMENT);
  /* 9999 is an item but not a user. */
  EXPECT(reckon_tower_embed(towers, RECKON_TOWER_USER, ids, 2, out, 64), RECKON_OUT_OF_RANGE);
  ids[1] = 10000;
  EXPECT(reckon_tower_embed(towers, RECKON_TOWER_ITEM, ids, 2, out, 64), RECKON_OUT_OF_RANGE);
  CHECK(untouched(out, 65));
  ids[1] = 9999;
  EXPECT(reckon_tower_embed(towers, RECKON_TOWER_ITEM, ids, 2, out, 64), RECKON_OK);
  CHECK(out[64] == SENTINEL);
}

/* Options change results as documented: non-finite inputs pass, unknown ids use a fallback. */
static void options_apply(const char *dir) {
  reckon_options *o = NULL;
  EXPECT(reckon_options_create(&o), RECKON_OK);
  EXPECT(reckon_options_set_allow_non_finite(o, true), RECKON_OK);
  EXPECT(reckon_options_set_oov_fallback(o, 0), RECKON_OK);
  reckon_model *fraud = open_demo(dir, "fraud", o);
  reckon_model *deepfm = open_demo(dir, "deepfm", o);
  reckon_options_free(o); /* models copy their options */
  float x[11] = {1.0f / 0.0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, p = SENTINEL;
  EXPECT(reckon_model_predict(fraud, x, 1, 11, &p, 1), RECKON_OK);
  CHECK(p != SENTINEL);
  int64_t ids[10] = {999999, 0, 0, 0, -5, 0, 0, 0, 0, 0};
  p = SENTINEL;
  EXPECT(reckon_model_predict_ids(deepfm, ids, 1, 10, &p, 1), RECKON_OK);
  CHECK(p >= 0.0f && p <= 1.0f);
  reckon_model_free(fraud);
  reckon_model_free(deepfm);
}

/* The fraud engine's error cases: settings, handles, values, lateness. */
static void fraud_errors(const char *dir) {
  reckon_fraud_config d = reckon_fraud_config_default();
  CHECK(d.ttl_seconds == 30.0 * 86400.0 && d.max_lateness_seconds == 3600.0);
  CHECK(d.max_device_users == 64 && d.shards == 64 && d.threshold == 0.5f);

  char path[4096], ranker[4096];
  snprintf(path, sizeof path, "%s/fraud.safetensors", dir);
  snprintf(ranker, sizeof ranker, "%s/ranker.safetensors", dir);
  reckon_fraud *keep = (reckon_fraud *)&failures, *f = keep;
  EXPECT(reckon_fraud_open(NULL, NULL, NULL, &f), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_fraud_open(path, NULL, NULL, NULL), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_fraud_open("/nonexistent/fraud.safetensors", NULL, NULL, &f), RECKON_IO);
  EXPECT(reckon_fraud_open(ranker, NULL, NULL, &f), RECKON_INVALID_ARGUMENT);
  reckon_fraud_config bad = d;
  bad.shards = 3;
  EXPECT(reckon_fraud_open(path, &bad, NULL, &f), RECKON_INVALID_ARGUMENT);
  bad = d;
  bad.threshold = 1.5f;
  EXPECT(reckon_fraud_open(path, &bad, NULL, &f), RECKON_INVALID_ARGUMENT);
  bad = d;
  bad.ttl_seconds = 3600.0; /* shorter than 24 h + lateness */
  EXPECT(reckon_fraud_open(path, &bad, NULL, &f), RECKON_INVALID_ARGUMENT);
  CHECK(f == keep);
  f = NULL;
  EXPECT(reckon_fraud_open(path, NULL, NULL, &f), RECKON_OK);
  if (f == NULL) return;

  reckon_transaction txn = {.user_id = 1, .device_id = 10, .timestamp = 1767225600.0 + 7200.0,
                            .amount = 25.0, .is_international = false};
  reckon_fraud_decision out, before;
  memset(&out, 0xA5, sizeof out);
  memcpy(&before, &out, sizeof out); /* padding included */
  EXPECT(reckon_fraud_score(NULL, &txn, &out), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_fraud_score(f, NULL, &out), RECKON_INVALID_ARGUMENT);
  EXPECT(reckon_fraud_score(f, &txn, NULL), RECKON_INVALID_ARGUMENT);
  reckon_transaction odd = txn;
  odd.amount = 0.0 / 0.0;
  EXPECT(reckon_fraud_score(f, &odd, &out), RECKON_INVALID_ARGUMENT);
  odd.amount = -1.0;
  EXPECT(reckon_fraud_score(f, &odd, &out), RECKON_INVALID_ARGUMENT);
  odd = txn;
  odd.timestamp = 1.0 / 0.0;
  EXPECT(reckon_fraud_score(f, &odd, &out), RECKON_INVALID_ARGUMENT);
  CHECK(memcmp(&out, &before, sizeof out) == 0);

  EXPECT(reckon_fraud_score(f, &txn, &out), RECKON_OK);
  CHECK(out.score >= 0.0f && out.score <= 1.0f && out.flagged == (out.score >= d.threshold));
  CHECK(out.features[0] == 25.0f); /* amount */
  /* Two hours older than the newest transaction: past the default 1 h allowance. */
  odd = txn;
  odd.timestamp -= 7200.0;
  memcpy(&before, &out, sizeof out); /* padding included */
  EXPECT(reckon_fraud_score(f, &odd, &out), RECKON_LATE);
  CHECK(memcmp(&out, &before, sizeof out) == 0);

  size_t users = 99, devices = 99;
  EXPECT(reckon_fraud_counts(NULL, &users, &devices), RECKON_INVALID_ARGUMENT);
  CHECK(users == 99 && devices == 99);
  EXPECT(reckon_fraud_counts(f, NULL, NULL), RECKON_OK);
  EXPECT(reckon_fraud_counts(f, &users, &devices), RECKON_OK);
  CHECK(users == 1 && devices == 1); /* the late one was not recorded */
  reckon_fraud_free(f);
}

/* Each model's outputs on fixed inputs, for tests/c_abi.rs to compare with the Rust API. */
static void outputs(reckon_model *const models[5], const char *const names[5], const char *tmp) {
  static float x[ROWS * 136], out[ROWS * 32];
  static int64_t ids[ROWS * 10];
  for (size_t i = 0; i < ROWS * 136; i++) x[i] = feature(i);
  for (int i = 0; i < 5; i++) {
    size_t in = 0, oc = 0;
    EXPECT(reckon_model_dims(models[i], &in, &oc), RECKON_OK);
    if (strcmp(names[i], "deepfm") == 0) {
      for (size_t j = 0; j < ROWS * in; j++) ids[j] = (int64_t)((j * 31 + 7) % 24);
      EXPECT(reckon_model_predict_ids(models[i], ids, ROWS, in, out, ROWS * oc), RECKON_OK);
    } else if (strcmp(names[i], "two_tower") == 0) {
      for (size_t j = 0; j < ROWS; j++) ids[j] = (int64_t)((j * 131) % 2000);
      EXPECT(reckon_model_predict_ids(models[i], ids, ROWS, 1, out, ROWS * oc), RECKON_OK);
      write_f32(tmp, "two_tower_user", out, ROWS * oc);
      for (size_t j = 0; j < ROWS; j++) ids[j] = (int64_t)((j * 977) % 10000);
      EXPECT(reckon_tower_embed(models[i], RECKON_TOWER_ITEM, ids, ROWS, out, ROWS * oc),
             RECKON_OK);
      write_f32(tmp, "two_tower_item", out, ROWS * oc);
      continue;
    } else {
      EXPECT(reckon_model_predict(models[i], x, ROWS, in, out, ROWS * oc), RECKON_OK);
    }
    write_f32(tmp, names[i], out, ROWS * oc);
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s WEIGHTS_DIR OUT_DIR\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1], *tmp = argv[2];
  statuses();
  options();
  opening(dir, tmp);

  const char *const names[5] = {"two_tower", "ranker", "ltr", "fraud", "deepfm"};
  reckon_model *models[5];
  for (int i = 0; i < 5; i++) models[i] = open_demo(dir, names[i], NULL);
  metadata(models, names);
  predict_errors(models[1], 100, 4, models[4]);
  predict_errors(models[2], 136, 1, models[0]);
  predict_errors(models[3], 11, 1, models[4]);
  predict_ids_errors(models[4], models[0], models[1]);
  tower_errors(models[0], models[1]);
  options_apply(dir);
  fraud_errors(dir);
  outputs(models, names, tmp);

  /* A handle freed first leaves nothing behind (LeakSanitizer checks at exit). */
  for (int i = 0; i < 5; i++) reckon_model_free(models[i]);
  reckon_model_free(NULL);

  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("contract: all checks passed\n");
  return 0;
}
