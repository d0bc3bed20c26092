/* Retrieval from C: build an item index from the two-tower model's item tower, then find the
 * items nearest a user exactly, with IVF, and for a batch of users.
 *
 *   cc -std=c11 -Iinclude examples/c/retrieval.c -Ltarget/release -lreckon -o retrieval
 *   ./retrieval weights/demo
 *
 * A service would build the index once (`reckon index build`, or reckon_index_build then
 * reckon_index_save) and reckon_index_open it at start-up. */
#include <stdio.h>
#include <stdlib.h>

#include "reckon.h"

#define K 5
#define MAX_DIM 256

static void check(reckon_status s, const char *what) {
  if (s != RECKON_OK) {
    fprintf(stderr, "%s: %s: %s\n", what, reckon_status_str(s), reckon_last_error());
    exit(1);
  }
}

static void print_hits(const char *label, const reckon_hit *hits, size_t n) {
  printf("  %-22s", label);
  for (size_t i = 0; i < n; i++) printf(" %5lld (%.3f)", (long long)hits[i].id, hits[i].score);
  printf("\n");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s WEIGHTS_DIR (e.g. weights/demo)\n", argv[0]);
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/two_tower.safetensors", argv[1]);
  reckon_model *towers = NULL;
  check(reckon_model_open(path, NULL, &towers), path);

  /* Every item through the item tower, plus IVF lists for approximate search. */
  reckon_index_build_options opts = reckon_index_build_options_default();
  opts.ivf = true;
  opts.nlist = 100;
  reckon_index *index = NULL;
  check(reckon_index_build(towers, &opts, &index), "reckon_index_build");
  reckon_index_info info;
  check(reckon_index_describe(index, &info), "reckon_index_describe");
  printf("index: %zu items, %zu-d %s vectors, IVF %s (%zu lists)\n", info.len, info.dim,
         info.dtype, info.has_ivf ? "yes" : "no", info.nlist);
  if (info.dim > MAX_DIM) {
    fprintf(stderr, "vectors wider than %d\n", MAX_DIM);
    return 1;
  }

  /* Two users' vectors from the user tower (row-major, users x dim). */
  const int64_t users[2] = {42, 7};
  float queries[2 * MAX_DIM];
  check(reckon_model_predict_ids(towers, users, 2, 1, queries, 2 * info.dim),
        "reckon_model_predict_ids");
  reckon_model_free(towers); /* the index does not need the model */

  reckon_hit hits[K];
  size_t n = 0;
  check(reckon_index_search(index, queries, info.dim, K, NULL, 0, hits, K, &n),
        "reckon_index_search");
  printf("user %lld, top %d (item id, score):\n", (long long)users[0], K);
  print_hits("exact", hits, n);

  /* Skip items the user has already seen. */
  const int64_t seen[2] = {hits[0].id, hits[1].id};
  check(reckon_index_search(index, queries, info.dim, K, seen, 2, hits, K, &n),
        "reckon_index_search");
  print_hits("exact, 2 seen skipped", hits, n);

  check(reckon_index_search_ivf(index, queries, info.dim, K, 10, NULL, 0, hits, K, &n),
        "reckon_index_search_ivf");
  print_hits("IVF, 10 of 100 lists", hits, n);

  /* Both users at once: row q of `batch` holds user q's results. */
  reckon_hit batch[2 * K];
  size_t counts[2];
  check(reckon_index_search_batch(index, queries, 2, info.dim, K, NULL, NULL, batch, 2 * K,
                                  counts),
        "reckon_index_search_batch");
  for (int q = 0; q < 2; q++) {
    char label[32];
    snprintf(label, sizeof label, "batch, user %lld", (long long)users[q]);
    print_hits(label, &batch[q * K], counts[q]);
  }

  /* k larger than the index is refused rather than clamped. */
  reckon_status s =
      reckon_index_search(index, queries, info.dim, info.len + 1, NULL, 0, hits, K, &n);
  printf("k = %zu: %s (%s)\n", info.len + 1, reckon_status_str(s), reckon_last_error());

  reckon_index_free(index);
  return 0;
}
