// Fraud scoring from C++: one engine shared by four threads, each scoring its own users.
//
//   c++ -std=c++17 -Iinclude examples/cpp/fraud.cpp -Ltarget/release -lreckon -lpthread -o fraud
//   ./fraud weights/demo
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "reckon.h"

namespace {

void check(reckon_status s, const char *what) {
  if (s != RECKON_OK)
    throw std::runtime_error(std::string(what) + ": " + reckon_status_str(s) + ": " +
                             reckon_last_error());
}

struct FraudFree {
  void operator()(reckon_fraud *f) const { reckon_fraud_free(f); }
};
using Fraud = std::unique_ptr<reckon_fraud, FraudFree>;

Fraud open_fraud(const std::string &path) {
  reckon_fraud_config config = reckon_fraud_config_default();
  reckon_fraud *f = nullptr;
  check(reckon_fraud_open(path.c_str(), &config, nullptr, &f), path.c_str());
  return Fraud(f);
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s WEIGHTS_DIR (e.g. weights/demo)\n", argv[0]);
    return 2;
  }
  try {
    Fraud fraud = open_fraud(std::string(argv[1]) + "/fraud.safetensors");
    const double start = 1767225600.0;  // 2026-01-01 UTC
    const int threads = 4, per_thread = 50;
    std::vector<int> flagged(threads, 0);
    std::vector<std::string> errors(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; t++) {
      pool.emplace_back([&, t] {
        // reckon_last_error() is per thread, so each thread reads its own message.
        for (int i = 0; i < per_thread; i++) {
          reckon_transaction txn{};
          txn.user_id = static_cast<uint64_t>(t * 1000 + i);  // a new user each time
          txn.device_id = txn.user_id + 7;
          txn.timestamp = start + 9 * 3600.0 + i * 60.0;
          txn.amount = 20.0 + (i % 7) * 15.0;
          txn.is_international = (i % 13 == 0);
          reckon_fraud_decision d{};
          reckon_status s = reckon_fraud_score(fraud.get(), &txn, &d);
          if (s != RECKON_OK) {
            errors[t] = reckon_last_error();
            return;
          }
          flagged[t] += d.flagged;
        }
      });
    }
    for (auto &th : pool) th.join();
    for (int t = 0; t < threads; t++) {
      if (!errors[t].empty()) throw std::runtime_error("thread: " + errors[t]);
      std::printf("thread %d: %d transactions, %d flagged\n", t, per_thread, flagged[t]);
    }
    size_t users = 0, devices = 0;
    check(reckon_fraud_counts(fraud.get(), &users, &devices), "reckon_fraud_counts");
    std::printf("engine holds %zu users and %zu devices\n", users, devices);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
