// FoldHarness: generated events on an in-memory log, folded by real folds into real stores; what
// the brute-force tests of the folds share (tests/projections/analytics, tests/projections/survey).
//
// Why: each brute-force test checks the same three things of its folds besides the figures: that
// redelivered events change nothing, that a rebuild from zero gives the same bytes, and that
// applying every record again writes nothing. One harness keeps those checks alike.
// Thread-safety: a test helper; used from the test's thread.
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/base/uuid.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "crm/events/v1/envelope.pb.h"
#include "gtest/gtest.h"

namespace crm::projections::testing {

class FoldHarness {
 public:
  static constexpr int kPartitions = 4;

  // Stores go under a new directory of the test's temporary directory named after `name`.
  explicit FoldHarness(absl::string_view name)
      : root_(std::filesystem::path(::testing::TempDir()) /
              (std::string(name) + "-" + base::NewUuid())) {}
  ~FoldHarness() { std::filesystem::remove_all(root_); }

  // Appends `events` in order, each under its stream key (the customer id, or "org" for the org
  // stream), and redelivers about `fraction` of them a second time, 1 to `max_later` events
  // later, in their own stream, as an at-least-once transport may: the folds must skip them.
  // The redeliveries are drawn from a generator seeded with `seed`.
  void AppendWithRedeliveries(const std::vector<crm::events::v1::EventEnvelope>& events,
                              double fraction, size_t max_later, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::pair<size_t, const crm::events::v1::EventEnvelope*>> again;
    for (size_t i = 0; i < events.size(); ++i) {
      if (std::bernoulli_distribution(fraction)(rng)) {
        again.push_back({i + std::uniform_int_distribution<size_t>(1, max_later)(rng), &events[i]});
      }
    }
    std::sort(again.begin(), again.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    size_t next = 0;
    for (size_t i = 0; i < events.size(); ++i) {
      Append(events[i]);
      while (next < again.size() && again[next].first <= i) Append(*again[next++].second);
    }
    while (next < again.size()) Append(*again[next++].second);
    redelivered_ = again.size();
  }

  // A new store `name` with `folds` caught up over the whole log in batches of at most
  // `max_batch` records; expects no dead letters.
  std::unique_ptr<kv::KvStore> Fold(const std::string& name, std::vector<fold::Fold*> folds,
                                    size_t max_batch) {
    auto store = *kv::KvStore::Open((root_ / name).string());
    fold::FoldRunner runner(&log_, store.get(), std::move(folds),
                            {.name = name, .max_batch = max_batch});
    EXPECT_TRUE(runner.CatchUp().ok());
    EXPECT_EQ(runner.dead_letters(), 0);
    return store;
  }

  // Applies every record of the log again to `store` through `folds` (which folded it): expects
  // that no batch writes anything and the keys under `prefixes` stay as they were.
  void ExpectReapplyWritesNothing(kv::KvStore& store, const std::vector<fold::Fold*>& folds,
                                  const std::vector<absl::string_view>& prefixes) {
    const auto before = Dump(store, prefixes);
    eventlog::PositionMap from;
    for (int p = 0; p < kPartitions; ++p) from[p] = 0;
    auto reader = log_.NewReader(from);
    ASSERT_TRUE(reader.ok());
    size_t seen = 0;
    while (seen < appended_) {
      auto records = (*reader)->Poll(1000, absl::Now() + absl::Seconds(5));
      ASSERT_TRUE(records.ok());
      ASSERT_FALSE(records->empty());
      kv::KvBatch batch = store.NewBatch();
      for (const auto& record : *records) {
        for (fold::Fold* f : folds) ASSERT_TRUE(f->Apply(record, batch).ok());
      }
      EXPECT_EQ(batch.Count(), 0u);
      seen += records->size();
    }
    EXPECT_EQ(Dump(store, prefixes), before);
  }

  // Every key and value under `prefixes`.
  static std::map<std::string, std::string> Dump(const kv::KvStore& store,
                                                 const std::vector<absl::string_view>& prefixes) {
    std::map<std::string, std::string> out;
    for (absl::string_view prefix : prefixes) {
      EXPECT_TRUE(store
                      .ScanPrefix(prefix, "", 0,
                                  [&](absl::string_view k, absl::string_view v) {
                                    out.emplace(std::string(k), std::string(v));
                                    return true;
                                  })
                      .ok());
    }
    return out;
  }

  size_t redelivered() const { return redelivered_; }

 private:
  void Append(const crm::events::v1::EventEnvelope& e) {
    const std::string key = e.customer_id().empty() ? "org" : e.customer_id();
    ASSERT_TRUE(
        log_.Append(key, {{e.SerializeAsString(), {}}}, absl::Now() + absl::Seconds(5)).ok());
    ++appended_;
  }

  std::filesystem::path root_;
  eventlog::InMemoryEventLog log_{kPartitions};
  size_t appended_ = 0;
  size_t redelivered_ = 0;
};

}  // namespace crm::projections::testing
