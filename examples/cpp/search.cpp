// Search from C++: one ranker shared by the service; each request parses the query and orders
// the caller's candidate documents by the LTR model's score.
//
//   c++ -std=c++17 -Iinclude examples/cpp/search.cpp -Ltarget/release -lreckon -o search
//   ./search weights/demo
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "reckon.h"

namespace {

void check(reckon_status s, const std::string &what) {
  if (s != RECKON_OK)
    throw std::runtime_error(what + ": " + reckon_status_str(s) + ": " + reckon_last_error());
}

struct Free {
  void operator()(reckon_model *m) const { reckon_model_free(m); }
  void operator()(reckon_search_ranker *r) const { reckon_search_ranker_free(r); }
  void operator()(reckon_parsed_query *q) const { reckon_parsed_query_free(q); }
};
template <class T>
using Handle = std::unique_ptr<T, Free>;

class Search {
 public:
  explicit Search(const std::string &ltr_path) {
    reckon_model *m = nullptr;
    check(reckon_model_open(ltr_path.c_str(), nullptr, &m), ltr_path);
    Handle<reckon_model> ltr(m);
    reckon_search_ranker *r = nullptr;
    // NULL parser: the built-in lexicons. The ranker keeps its own reference to the model.
    check(reckon_search_ranker_create(ltr.get(), nullptr, &r), "reckon_search_ranker_create");
    ranker_.reset(r);
    check(reckon_search_ranker_features(r, &cols_), "reckon_search_ranker_features");
  }
  size_t features() const { return cols_; }

  // `rows` holds one feature row of `features()` values per candidate, row-major.
  std::vector<reckon_search_hit> rank(const std::string &query,
                                      const std::vector<float> &rows) const {
    const size_t n = rows.size() / cols_;
    std::vector<reckon_search_hit> hits(n);
    check(reckon_search_rank(ranker_.get(), query.c_str(), rows.data(), n, cols_, hits.data(),
                             hits.size()),
          "reckon_search_rank");
    return hits;
  }

 private:
  Handle<reckon_search_ranker> ranker_;
  size_t cols_ = 0;
};

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s WEIGHTS_DIR (e.g. weights/demo)\n", argv[0]);
    return 2;
  }
  try {
    Search search(std::string(argv[1]) + "/ltr.safetensors");

    // What the query parser makes of a query (its strings live as long as the parsed query).
    reckon_query_parser *p = nullptr;
    check(reckon_query_parser_open(nullptr, &p), "reckon_query_parser_open");
    reckon_parsed_query *q = nullptr;
    check(reckon_query_parse(p, "cheap apple iphone", &q), "reckon_query_parse");
    Handle<reckon_parsed_query> parsed(q);
    reckon_query_parser_free(p);
    const char *intent = nullptr;
    size_t entities = 0;
    check(reckon_parsed_query_intent(q, nullptr, &intent), "intent");
    check(reckon_parsed_query_entity_count(q, &entities), "entities");
    std::printf("\"cheap apple iphone\": intent %s, %zu entities\n", intent, entities);

    // Three made-up candidates; a service fills these rows from its document features.
    std::vector<float> rows(3 * search.features());
    for (size_t i = 0; i < rows.size(); i++) rows[i] = static_cast<float>(i % 13) / 6.0f - 1.0f;
    for (const reckon_search_hit &h : search.rank("cheap apple iphone", rows))
      std::printf("  document %zu  score %.3f\n", h.index, h.score);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
