/* Search from C: understand a query, then rank a few candidate documents with the LTR model.
 *
 *   cc -std=c11 -Iinclude examples/c/search.c -Ltarget/release -lreckon -o search
 *   ./search weights/demo
 *
 * A real service would fill each candidate's feature row from its index; here they are
 * made up, so only the order and the shape of the calls matter. */
#include <stdio.h>
#include <stdlib.h>

#include "reckon.h"

#define CANDIDATES 4

static void check(reckon_status s, const char *what) {
  if (s != RECKON_OK) {
    fprintf(stderr, "%s: %s: %s\n", what, reckon_status_str(s), reckon_last_error());
    exit(1);
  }
}

/* Prints what the parser understood of `query`. */
static void explain(const reckon_query_parser *parser, const char *query) {
  reckon_parsed_query *q = NULL;
  check(reckon_query_parse(parser, query, &q), "reckon_query_parse");
  const char *intent = NULL, *type = NULL, *text = NULL, *filtered = NULL;
  size_t entities = 0;
  check(reckon_parsed_query_intent(q, NULL, &intent), "intent");
  check(reckon_parsed_query_type(q, NULL, &type), "type");
  check(reckon_parsed_query_text(q, &text, &filtered, NULL), "text");
  check(reckon_parsed_query_entity_count(q, &entities), "entity count");
  printf("\"%s\" -> \"%s\" (without stop words \"%s\"): %s, %s", query, text, filtered, intent,
         type);
  for (size_t i = 0; i < entities; i++) {
    reckon_entity e;
    check(reckon_parsed_query_entity(q, i, &e), "entity");
    printf(", %s=%s", e.kind, e.text); /* strings live until q is freed */
  }
  printf("\n");
  reckon_parsed_query_free(q);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s WEIGHTS_DIR (e.g. weights/demo)\n", argv[0]);
    return 2;
  }
  char path[4096];

  /* NULL: the built-in lexicons; pass a JSON file's path for your own. */
  reckon_query_parser *parser = NULL;
  check(reckon_query_parser_open(NULL, &parser), "reckon_query_parser_open");
  explain(parser, "Buy cheap Apple iPhone");
  explain(parser, "how to clean pineapple");

  /* The ranker keeps its own references: the model and parser may be freed right away. */
  snprintf(path, sizeof path, "%s/ltr.safetensors", argv[1]);
  reckon_model *ltr = NULL;
  check(reckon_model_open(path, NULL, &ltr), path);
  reckon_search_ranker *ranker = NULL;
  check(reckon_search_ranker_create(ltr, parser, &ranker), "reckon_search_ranker_create");
  reckon_model_free(ltr);
  reckon_query_parser_free(parser);

  size_t cols = 0;
  check(reckon_search_ranker_features(ranker, &cols), "reckon_search_ranker_features");
  float *rows = calloc(CANDIDATES * cols, sizeof *rows);
  if (rows == NULL) return 1;
  for (size_t d = 0; d < CANDIDATES; d++)
    for (size_t j = 0; j < cols; j++)
      rows[d * cols + j] = (float)((d * 7 + j * 3) % 11) / 5.0f - 1.0f;

  float relevance[CANDIDATES] = {0, 2, 1, 0}; /* judged grades, for offline evaluation */
  reckon_search_hit hits[CANDIDATES];
  double ndcg = 0.0;
  check(reckon_search_rank_eval(ranker, "cheap apple laptop", rows, CANDIDATES, cols, relevance,
                                3, hits, CANDIDATES, &ndcg),
        "reckon_search_rank_eval");
  for (size_t i = 0; i < CANDIDATES; i++)
    printf("  #%zu  document %zu  score %.3f\n", i + 1, hits[i].index, hits[i].score);
  printf("  NDCG@3 %.3f\n", ndcg);

  /* An empty query is refused with a message, not a crash. */
  reckon_status s = reckon_search_rank(ranker, "  ", rows, CANDIDATES, cols, hits, CANDIDATES);
  printf("  empty query: %s (%s)\n", reckon_status_str(s), reckon_last_error());

  free(rows);
  reckon_search_ranker_free(ranker);
  return s == RECKON_INVALID_ARGUMENT ? 0 : 1;
}
