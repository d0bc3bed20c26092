/* Open each of the five demo models and run it once: the calls a service makes per request.
 *
 *   cc -std=c11 -Iinclude examples/c/model.c -Ltarget/release -lreckon -o model
 *   ./model weights/demo
 *
 * Flow: the two-tower model embeds a user and three items, the ranker scores those three
 * candidates from [u, v, u*v, context] features, and the fraud, learning-to-rank and DeepFM
 * models each score one request. */
#include <stdio.h>
#include <stdlib.h>

#include "reckon.h"

#define DIM 32       /* two_tower vector width (checked against reckon_model_dims below) */
#define CANDIDATES 3

/* Prints what failed and exits; every reckon call's status goes through here. */
static void check(reckon_status s, const char *what) {
  if (s != RECKON_OK) {
    fprintf(stderr, "%s: %s: %s\n", what, reckon_status_str(s), reckon_last_error());
    exit(1);
  }
}

/* Opens `dir`/`name`.safetensors and prints its architecture and shape. */
static reckon_model *open_model(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
  reckon_model *m = NULL;
  check(reckon_model_open(path, NULL, &m), path);
  const char *arch = NULL;
  size_t in_cols = 0, out_cols = 0;
  check(reckon_model_arch(m, &arch), "reckon_model_arch");
  check(reckon_model_dims(m, &in_cols, &out_cols), "reckon_model_dims");
  printf("%-9s in %3zu  out %2zu\n", arch, in_cols, out_cols);
  return m;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s WEIGHTS_DIR (e.g. weights/demo)\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  printf("reckon %s\n", reckon_version());

  /* Retrieval vectors: one user (user tower) and three candidate items (item tower). */
  reckon_model *towers = open_model(dir, "two_tower");
  size_t dim = 0;
  check(reckon_model_dims(towers, NULL, &dim), "reckon_model_dims");
  if (dim != DIM) {
    fprintf(stderr, "two_tower: expected %d-d vectors, got %zu\n", DIM, dim);
    return 1;
  }
  int64_t user = 7, items[CANDIDATES] = {42, 1234, 9876};
  float u[DIM], v[CANDIDATES * DIM];
  check(reckon_model_predict_ids(towers, &user, 1, 1, u, DIM), "user vector");
  check(reckon_tower_embed(towers, RECKON_TOWER_ITEM, items, CANDIDATES, v, CANDIDATES * DIM),
        "item vectors");

  /* Ranker: one row per candidate, [u, v, u*v, hour_sin, hour_cos, is_mobile, position]. */
  reckon_model *ranker = open_model(dir, "ranker");
  float rows[CANDIDATES][3 * DIM + 4], scores[CANDIDATES][4];
  for (int c = 0; c < CANDIDATES; c++) {
    for (int j = 0; j < DIM; j++) {
      rows[c][j] = u[j];
      rows[c][DIM + j] = v[c * DIM + j];
      rows[c][2 * DIM + j] = u[j] * v[c * DIM + j];
    }
    float context[4] = {0.0f, -1.0f, 1.0f, 0.1f * (float)c}; /* midnight, mobile, slot c */
    for (int j = 0; j < 4; j++) rows[c][3 * DIM + j] = context[j];
  }
  check(reckon_model_predict(ranker, &rows[0][0], CANDIDATES, 3 * DIM + 4, &scores[0][0],
                             CANDIDATES * 4),
        "ranker");
  for (int c = 0; c < CANDIDATES; c++)
    printf("  item %5lld  p_click %.3f  p_engage %.3f  p_share %.3f  score %.3f\n",
           (long long)items[c], scores[c][0], scores[c][1], scores[c][2], scores[c][3]);

  /* Fraud: the 11 features of one transaction, in reckon.feature_names order. */
  reckon_model *fraud = open_model(dir, "fraud");
  float txn[11] = {
      950.0f, 6.857f, 3.0f, 1.0f, 1.0f, /* amount, log1p(amount), 03:00, at night, abroad */
      4.0f,   6.0f,   2400.0f,          /* txns in the last 1 h / 24 h, amount over 24 h */
      5.2f,   3.0f,   1.0f};            /* deviation from usual, users on device, new device */
  float p_fraud = 0.0f;
  check(reckon_model_predict(fraud, txn, 1, 11, &p_fraud, 1), "fraud");
  printf("  p_fraud %.3f\n", p_fraud);

  /* Learning to rank: one document's 136 features (all zero here). */
  reckon_model *ltr = open_model(dir, "ltr");
  float doc[136] = {0}, relevance = 0.0f;
  check(reckon_model_predict(ltr, doc, 1, 136, &relevance, 1), "ltr");
  printf("  relevance %.3f\n", relevance);

  /* DeepFM: one impression, one id per field (ad_id, advertiser, site, ..., os). */
  reckon_model *deepfm = open_model(dir, "deepfm");
  int64_t impression[10] = {12, 3, 40, 7, 20, 1, 150, 9, 30, 2};
  float p_ctr = 0.0f;
  check(reckon_model_predict_ids(deepfm, impression, 1, 10, &p_ctr, 1), "deepfm");
  printf("  p_ctr %.4f (uncalibrated)\n", p_ctr);

  reckon_model_free(deepfm);
  reckon_model_free(ltr);
  reckon_model_free(fraud);
  reckon_model_free(ranker);
  reckon_model_free(towers);
  return 0;
}
