// Retrieval from C++: build an item index once, save it, and serve searches from the saved file
// (memory-mapped, so opening is instant and the pages are shared between processes).
//
//   c++ -std=c++17 -Iinclude examples/cpp/retrieval.cpp -Ltarget/release -lreckon -o retrieval
//   ./retrieval weights/demo
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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
  void operator()(reckon_index *i) const { reckon_index_free(i); }
};
template <class T>
using Handle = std::unique_ptr<T, Free>;

// Offline step: every item through the item tower, written to `path`.
void build_index(const std::string &towers_path, const std::string &path) {
  reckon_model *m = nullptr;
  check(reckon_model_open(towers_path.c_str(), nullptr, &m), towers_path);
  Handle<reckon_model> towers(m);
  reckon_index *i = nullptr;
  check(reckon_index_build(towers.get(), nullptr, &i), "reckon_index_build");
  Handle<reckon_index> index(i);
  check(reckon_index_save(index.get(), path.c_str()), path);
}

// Online: a read-only index shared by every request thread.
class ItemIndex {
 public:
  explicit ItemIndex(const std::string &path) {
    reckon_index *i = nullptr;
    check(reckon_index_open(path.c_str(), nullptr, &i), path);
    handle_.reset(i);
    check(reckon_index_describe(i, &info_), "reckon_index_describe");
  }
  size_t dim() const { return info_.dim; }
  size_t size() const { return info_.len; }

  std::vector<reckon_hit> nearest(const std::vector<float> &query, size_t k,
                                  const std::vector<int64_t> &skip = {}) const {
    std::vector<reckon_hit> hits(k);
    size_t n = 0;
    check(reckon_index_search(handle_.get(), query.data(), query.size(), k, skip.data(),
                              skip.size(), hits.data(), hits.size(), &n),
          "reckon_index_search");
    hits.resize(n);
    return hits;
  }

 private:
  Handle<reckon_index> handle_;
  reckon_index_info info_{};
};

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s WEIGHTS_DIR (e.g. weights/demo)\n", argv[0]);
    return 2;
  }
  // A private file name, so concurrent runs of this example do not share one.
  char path[] = "/tmp/reckon-example-index-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  try {
    const std::string towers = std::string(argv[1]) + "/two_tower.safetensors";
    build_index(towers, path);
    ItemIndex index(path);
    std::printf("index %s: %zu items of width %zu\n", path, index.size(), index.dim());

    // A query vector from the user tower; a service may also bring its own.
    reckon_model *m = nullptr;
    check(reckon_model_open(towers.c_str(), nullptr, &m), towers);
    Handle<reckon_model> model(m);
    std::vector<float> user(index.dim());
    const int64_t user_id = 42;
    check(reckon_model_predict_ids(model.get(), &user_id, 1, 1, user.data(), user.size()),
          "reckon_model_predict_ids");

    for (const reckon_hit &h : index.nearest(user, 5))
      std::printf("  item %5lld  score %.3f\n", static_cast<long long>(h.id), h.score);
    // Wrong width: a typed error, nothing written.
    std::vector<float> wrong(index.dim() + 1, 0.0f);
    try {
      index.nearest(wrong, 5);
    } catch (const std::runtime_error &e) {
      std::printf("  wrong width: %s\n", e.what());
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::remove(path);
    return 1;
  }
  std::remove(path);
  return 0;
}
