// CTR from C++: pCTR for a batch of ad impressions, raw and calibrated, from one shared handle.
//
//   c++ -std=c++17 -Iinclude examples/cpp/ctr.cpp -Ltarget/release -lreckon -o ctr
//   ./ctr weights/demo
#include <cstdint>
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

struct CtrFree {
  void operator()(reckon_ctr *c) const { reckon_ctr_free(c); }
};

class Ctr {
 public:
  explicit Ctr(const std::string &path) {
    reckon_ctr *c = nullptr;
    check(reckon_ctr_open(path.c_str(), nullptr, &c), path);
    handle_.reset(c);
    check(reckon_ctr_fields(c, &fields_), "reckon_ctr_fields");
    check(reckon_ctr_calibration(c, &method_), "reckon_ctr_calibration");
  }
  size_t fields() const { return fields_; }
  const char *calibration() const { return method_; }  // static string

  // `ids`: one row of `fields()` category ids per impression. Returns calibrated pCTR.
  std::vector<float> predict(const std::vector<int64_t> &ids) const {
    const size_t rows = ids.size() / fields_;
    std::vector<float> p(rows);
    check(reckon_ctr_predict(handle_.get(), ids.data(), rows, fields_, nullptr, 0, p.data(),
                             p.size()),
          "reckon_ctr_predict");
    return p;
  }

 private:
  std::unique_ptr<reckon_ctr, CtrFree> handle_;
  size_t fields_ = 0;
  const char *method_ = nullptr;
};

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s WEIGHTS_DIR (e.g. weights/demo)\n", argv[0]);
    return 2;
  }
  try {
    Ctr ctr(std::string(argv[1]) + "/deepfm.safetensors");
    std::printf("deepfm: %zu fields, calibration %s\n", ctr.fields(), ctr.calibration());
    // Two impressions: every field's id 0, then every field's id 1.
    std::vector<int64_t> ids(2 * ctr.fields(), 0);
    for (size_t f = 0; f < ctr.fields(); f++) ids[ctr.fields() + f] = 1;
    std::vector<float> p = ctr.predict(ids);
    for (size_t i = 0; i < p.size(); i++) std::printf("  impression %zu  pCTR %.4f\n", i, p[i]);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
