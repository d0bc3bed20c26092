// The five demo models from C++: a small RAII wrapper (unique_ptr frees the handle, a failed
// status becomes an exception) and one call per model.
//
//   c++ -std=c++17 -Iinclude examples/cpp/model.cpp -Ltarget/release -lreckon -o model
//   ./model weights/demo
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

// One loaded model; safe to share between threads (calls take a const handle).
class Model {
 public:
  explicit Model(const std::string &path) {
    reckon_model *m = nullptr;
    check(reckon_model_open(path.c_str(), nullptr, &m), path.c_str());
    handle_.reset(m);
    check(reckon_model_dims(m, &in_cols_, &out_cols_), "reckon_model_dims");
  }

  std::string arch() const {
    const char *name = nullptr;
    check(reckon_model_arch(handle_.get(), &name), "reckon_model_arch");
    return name;
  }
  size_t in_cols() const { return in_cols_; }
  size_t out_cols() const { return out_cols_; }

  // Dense models (ranker, ltr, fraud): rows of in_cols() features -> rows of out_cols().
  std::vector<float> predict(const std::vector<float> &x) const {
    size_t rows = x.size() / in_cols_;
    std::vector<float> out(rows * out_cols_);
    check(reckon_model_predict(handle_.get(), x.data(), rows, in_cols_, out.data(), out.size()),
          "reckon_model_predict");
    return out;
  }

  // Id models (deepfm: one id per field; two_tower: one user id) -> rows of out_cols().
  std::vector<float> predict_ids(const std::vector<int64_t> &ids) const {
    size_t rows = ids.size() / in_cols_;
    std::vector<float> out(rows * out_cols_);
    check(reckon_model_predict_ids(handle_.get(), ids.data(), rows, in_cols_, out.data(),
                                   out.size()),
          "reckon_model_predict_ids");
    return out;
  }

  // two_tower only: item vectors, out_cols() floats per id.
  std::vector<float> embed_items(const std::vector<int64_t> &ids) const {
    std::vector<float> out(ids.size() * out_cols_);
    check(reckon_tower_embed(handle_.get(), RECKON_TOWER_ITEM, ids.data(), ids.size(),
                             out.data(), out.size()),
          "reckon_tower_embed");
    return out;
  }

 private:
  struct Free {
    void operator()(reckon_model *m) const { reckon_model_free(m); }
  };
  std::unique_ptr<reckon_model, Free> handle_;
  size_t in_cols_ = 0, out_cols_ = 0;
};

Model open(const std::string &dir, const char *name) {
  Model m(dir + "/" + name + ".safetensors");
  std::printf("%-9s in %3zu  out %2zu\n", m.arch().c_str(), m.in_cols(), m.out_cols());
  return m;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s WEIGHTS_DIR (e.g. weights/demo)\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  try {
    // User 7 against three items: cosine similarity of the two towers' unit vectors.
    Model towers = open(dir, "two_tower");
    std::vector<float> u = towers.predict_ids({7});
    std::vector<int64_t> items = {42, 1234, 9876};
    std::vector<float> v = towers.embed_items(items);
    const size_t d = towers.out_cols();
    for (size_t c = 0; c < items.size(); c++) {
      float dot = 0;
      for (size_t j = 0; j < d; j++) dot += u[j] * v[c * d + j];
      std::printf("  user 7 . item %5lld = %+.3f\n", static_cast<long long>(items[c]), dot);
    }

    // Ranker: [u, v, u*v, context] for the first item (context: midnight, mobile, slot 0).
    Model ranker = open(dir, "ranker");
    std::vector<float> row;
    for (size_t j = 0; j < d; j++) row.push_back(u[j]);
    for (size_t j = 0; j < d; j++) row.push_back(v[j]);
    for (size_t j = 0; j < d; j++) row.push_back(u[j] * v[j]);
    row.insert(row.end(), {0.0f, -1.0f, 1.0f, 0.0f});
    std::vector<float> heads = ranker.predict(row);
    std::printf("  p_click %.3f  p_engage %.3f  p_share %.3f  score %.3f\n", heads[0], heads[1],
                heads[2], heads[3]);

    // Fraud: one transaction's 11 features (a 950.00 purchase abroad at 03:00 on a new device).
    Model fraud = open(dir, "fraud");
    float p = fraud.predict({950, 6.857f, 3, 1, 1, 4, 6, 2400, 5.2f, 3, 1})[0];
    std::printf("  p_fraud %.3f\n", p);

    // Learning to rank: two documents of one query.
    Model ltr = open(dir, "ltr");
    std::vector<float> docs(2 * ltr.in_cols(), 0.0f);
    docs[ltr.in_cols() + 12] = 2.0f;  // the second document differs in one feature
    std::vector<float> rel = ltr.predict(docs);
    std::printf("  relevance %.3f %.3f\n", rel[0], rel[1]);

    // DeepFM: one impression, one id per field.
    Model deepfm = open(dir, "deepfm");
    float ctr = deepfm.predict_ids({12, 3, 40, 7, 20, 1, 150, 9, 30, 2})[0];
    std::printf("  p_ctr %.4f (uncalibrated)\n", ctr);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
