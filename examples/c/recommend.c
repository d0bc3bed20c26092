/* Recommendation from C: user -> 100 candidates from the item index -> ranker on
 * [user, item, user*item, context] -> MMR re-rank -> top 20, with every score kept.
 *
 *   cc -std=c11 -Iinclude examples/c/recommend.c -Ltarget/release -lreckon -o recommend
 *   ./recommend weights/demo */
#include <stdio.h>
#include <stdlib.h>

#include "reckon.h"

#define SHOW 5

static void check(reckon_status s, const char *what) {
  if (s != RECKON_OK) {
    fprintf(stderr, "%s: %s: %s\n", what, reckon_status_str(s), reckon_last_error());
    exit(1);
  }
}

static reckon_model *open_model(const char *dir, const char *file) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  reckon_model *m = NULL;
  check(reckon_model_open(path, NULL, &m), path);
  return m;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s WEIGHTS_DIR (e.g. weights/demo)\n", argv[0]);
    return 2;
  }
  reckon_model *towers = open_model(argv[1], "two_tower.safetensors");
  reckon_model *ranker = open_model(argv[1], "ranker.safetensors");
  reckon_index *index = NULL;
  check(reckon_index_build(towers, NULL, &index), "reckon_index_build");

  reckon_recommend_config config = reckon_recommend_config_default();
  config.mmr_lambda = 0.8f; /* a little less diversity than the default 0.7 */
  reckon_recommender *rec = NULL;
  check(reckon_recommender_create(towers, index, ranker, &config, &rec),
        "reckon_recommender_create");
  /* The recommender holds what it needs: the pieces can go now. */
  reckon_model_free(towers);
  reckon_model_free(ranker);
  reckon_index_free(index);

  size_t dim = 0, context_cols = 0, top_n = 0;
  check(reckon_recommender_dims(rec, &dim, &context_cols, &top_n), "reckon_recommender_dims");
  printf("recommender: %zu-d users, %zu context features, top %zu\n", dim, context_cols, top_n);
  if (context_cols != 4) {
    fprintf(stderr, "the demo ranker takes 4 context features\n");
    return 1;
  }

  /* The demo ranker's context: hour_sin, hour_cos, is_mobile, position (slot / 10). */
  const float context[4] = {0.0f, -1.0f, 1.0f, 0.0f}; /* midnight, on a phone, first slot */
  const int64_t seen[3] = {10, 11, 12};
  reckon_recommendation *out = malloc(top_n * sizeof *out);
  if (out == NULL) return 1;
  size_t n = 0;
  check(reckon_recommender_recommend(rec, 42, context, 4, seen, 3, out, top_n, &n),
        "reckon_recommender_recommend");
  printf("user 42: %zu items; the first %d:\n", n, SHOW);
  printf("  %6s %8s %8s %8s %8s %8s %8s\n", "item", "score", "click", "engage", "share",
         "mmr", "retr");
  for (size_t i = 0; i < n && i < SHOW; i++)
    printf("  %6lld %8.4f %8.4f %8.4f %8.4f %8.4f %8.4f\n", (long long)out[i].item_id,
           out[i].score, out[i].p_click, out[i].p_engage, out[i].p_share, out[i].mmr_score,
           out[i].retrieval_score);

  /* A user outside the model's user table is refused. */
  reckon_status s = reckon_recommender_recommend(rec, 1000000, context, 4, NULL, 0, out,
                                                 top_n, &n);
  printf("unknown user: %s (%s)\n", reckon_status_str(s), reckon_last_error());

  free(out);
  reckon_recommender_free(rec);
  return 0;
}
