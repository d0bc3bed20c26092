// Recommendation from C++: RAII handles (unique_ptr frees them, a failed status becomes an
// exception), one recommender shared by the whole service, one request per call.
//
//   c++ -std=c++17 -Iinclude examples/cpp/recommend.cpp -Ltarget/release -lreckon -o recommend
//   ./recommend weights/demo
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "reckon.h"

namespace {

void check(reckon_status s, const char *what) {
  if (s != RECKON_OK)
    throw std::runtime_error(std::string(what) + ": " + reckon_status_str(s) + ": " +
                             reckon_last_error());
}

struct Free {
  void operator()(reckon_model *m) const { reckon_model_free(m); }
  void operator()(reckon_index *i) const { reckon_index_free(i); }
  void operator()(reckon_recommender *r) const { reckon_recommender_free(r); }
};
template <class T>
using Handle = std::unique_ptr<T, Free>;

Handle<reckon_model> open_model(const std::string &path) {
  reckon_model *m = nullptr;
  check(reckon_model_open(path.c_str(), nullptr, &m), path.c_str());
  return Handle<reckon_model>(m);
}

// The pipeline; thread-safe to share (requests take a const handle).
class Recommender {
 public:
  Recommender(const std::string &dir, const reckon_recommend_config &config) {
    Handle<reckon_model> towers = open_model(dir + "/two_tower.safetensors");
    Handle<reckon_model> ranker = open_model(dir + "/ranker.safetensors");
    reckon_index *index = nullptr;
    check(reckon_index_build(towers.get(), nullptr, &index), "reckon_index_build");
    Handle<reckon_index> index_handle(index);
    reckon_recommender *rec = nullptr;
    check(reckon_recommender_create(towers.get(), index, ranker.get(), &config, &rec),
          "reckon_recommender_create");
    handle_.reset(rec);
    // towers, ranker and index are freed on return: the recommender keeps what it needs.
    check(reckon_recommender_dims(rec, nullptr, &context_cols_, &top_n_),
          "reckon_recommender_dims");
  }

  size_t context_cols() const { return context_cols_; }

  std::vector<reckon_recommendation> recommend(int64_t user, const std::vector<float> &context,
                                               const std::vector<int64_t> &seen = {}) const {
    std::vector<reckon_recommendation> out(top_n_);
    size_t n = 0;
    check(reckon_recommender_recommend(handle_.get(), user, context.data(), context.size(),
                                       seen.data(), seen.size(), out.data(), out.size(), &n),
          "reckon_recommender_recommend");
    out.resize(n);
    return out;
  }

 private:
  Handle<reckon_recommender> handle_;
  size_t context_cols_ = 0, top_n_ = 0;
};

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s WEIGHTS_DIR (e.g. weights/demo)\n", argv[0]);
    return 2;
  }
  try {
    reckon_recommend_config config = reckon_recommend_config_default();
    config.top_n = 10;
    Recommender rec(argv[1], config);
    // hour_sin, hour_cos, is_mobile, position: 18:00 on a desktop, third slot.
    const std::vector<float> context = {-1.0f, 0.0f, 0.0f, 0.2f};
    if (rec.context_cols() != context.size()) throw std::runtime_error("unexpected ranker");
    for (int64_t user : {7, 1999}) {
      std::vector<reckon_recommendation> recs = rec.recommend(user, context);
      // In MMR order: relevance traded against similarity to the items already picked.
      std::printf("user %lld: %zu items\n", static_cast<long long>(user), recs.size());
      for (size_t i = 0; i < recs.size() && i < 3; i++)
        std::printf("  item %5lld  score %.3f  (click %.3f, engage %.3f, share %.3f)\n",
                    static_cast<long long>(recs[i].item_id), recs[i].score, recs[i].p_click,
                    recs[i].p_engage, recs[i].p_share);
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
