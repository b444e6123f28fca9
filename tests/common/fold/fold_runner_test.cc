#include "common/fold/fold_runner.h"

#include <atomic>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/eventlog/embedded_event_log.h"
#include "common/eventlog/in_memory_event_log.h"
#include "gtest/gtest.h"

namespace crm::fold {
namespace {

using eventlog::AppendValue;
using eventlog::LogRecord;
using eventlog::PositionMap;

constexpr absl::Duration kTimeout = absl::Seconds(30);

// Counts records per key ("count/<key>") and in total ("total") with
// read-modify-writes through the batch, so that applying a record twice would
// show. A value "bad" is undecodable (DATA_LOSS). Records whose numeric value
// is >= fail_from fail with UNAVAILABLE, as do the first fail_times attempts.
class CountingFold : public Fold {
 public:
  std::string name() const override { return "counting"; }
  int64_t version() const override { return 1; }
  std::vector<std::string> prefixes() const override { return {""}; }
  absl::Status Apply(const LogRecord& record, kv::KvBatch& batch) override {
    ++attempts;
    int value = -1;
    if (!absl::SimpleAtoi(record.value, &value)) value = -1;
    if (value >= fail_from.load() || fail_times.load() > 0) {
      if (fail_times.load() > 0) --fail_times;
      absl::MutexLock lock(&mu_);
      ++failures_;
      return absl::UnavailableError("injected failure");
    }
    if (record.value == "bad") return absl::DataLossError("cannot decode");
    for (const std::string& key : {absl::StrCat("count/", record.key), std::string("total")}) {
      auto current = batch.Get(key);
      if (!current.ok()) return current.status();
      int64_t n = 0;
      if (current->has_value() && !absl::SimpleAtoi(**current, &n)) {
        return absl::InternalError("bad counter");
      }
      batch.Put(key, absl::StrCat(n + 1));
    }
    return absl::OkStatus();
  }

  int64_t failures() const {
    absl::MutexLock lock(&mu_);
    return failures_;
  }
  // True once at least `n` failures happened, false at the deadline.
  bool AwaitFailures(int64_t n, absl::Time deadline) const {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() { return failures_ >= n; };
    return mu_.AwaitWithDeadline(absl::Condition(&reached), deadline);
  }

  std::atomic<int> fail_from{std::numeric_limits<int>::max()};
  std::atomic<int> fail_times{0};
  std::atomic<int64_t> attempts{0};

 private:
  mutable absl::Mutex mu_;
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
};

// Counts records under its own prefix ("<prefix>count/<key>", "<prefix>total"), like
// CountingFold, as fold `name` at `version`. While `hold` is set it fails with UNAVAILABLE (a
// fold that cannot advance); records >= fail_from fail too.
class PrefixFold : public Fold {
 public:
  PrefixFold(std::string name, std::string prefix, int64_t version)
      : name_(std::move(name)), prefix_(std::move(prefix)), version_(version) {}
  std::string name() const override { return name_; }
  int64_t version() const override { return version_; }
  std::vector<std::string> prefixes() const override { return {prefix_}; }
  absl::Status Apply(const LogRecord& record, kv::KvBatch& batch) override {
    ++attempts;
    int value = -1;
    if (!absl::SimpleAtoi(record.value, &value)) value = -1;
    if (hold.load() || value >= fail_from.load()) return absl::UnavailableError("held");
    for (const std::string& key :
         {absl::StrCat(prefix_, "count/", record.key), absl::StrCat(prefix_, "total")}) {
      auto current = batch.Get(key);
      if (!current.ok()) return current.status();
      int64_t n = 0;
      if (current->has_value() && !absl::SimpleAtoi(**current, &n)) {
        return absl::InternalError("bad counter");
      }
      batch.Put(key, absl::StrCat(n + 1));
    }
    return absl::OkStatus();
  }

  std::atomic<bool> hold{false};
  std::atomic<int> fail_from{std::numeric_limits<int>::max()};
  std::atomic<int64_t> attempts{0};

 private:
  const std::string name_;
  const std::string prefix_;
  const int64_t version_;
};

class FoldRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("fold_runner_test_", info->name(), "_", ::getpid());
    std::filesystem::remove_all(dir_);
    auto store = kv::KvStore::Open((dir_ / "store").string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Appends `n` records round-robin over `keys` keys; returns the expected
  // count per key.
  void AppendRecords(eventlog::EventLog& log, int n, int keys, std::map<std::string, int>& counts,
                     int first = 0) {
    for (int i = first; i < first + n; ++i) {
      const std::string key = absl::StrCat("c", i % keys);
      ASSERT_TRUE(log.Append(key, {AppendValue{absl::StrCat(i), {}}}, absl::Now() + kTimeout).ok());
      ++counts[key];
    }
  }

  int64_t Counter(absl::string_view key) {
    auto v = store_->Get(key);
    EXPECT_TRUE(v.ok()) << v.status();
    int64_t n = 0;
    if (v.ok() && v->has_value()) {
      EXPECT_TRUE(absl::SimpleAtoi(**v, &n));
    }
    return n;
  }

  // partition -> last offset, for the log's current end.
  static PositionMap EndPositions(eventlog::EventLog& log) {
    PositionMap out;
    for (int32_t p = 0; p < log.PartitionCount(); ++p) out[p] = *log.EndOffset(p) - 1;
    return out;
  }

  static int64_t AppliedTotal(const FoldRunner& runner) {
    int64_t total = 0;
    for (const auto& [p, offset] : runner.Applied()) total += offset + 1;
    return total;
  }

  // Every key and value under `prefix` in `store`.
  static std::map<std::string, std::string> Dump(const kv::KvStore& store,
                                                 absl::string_view prefix) {
    std::map<std::string, std::string> out;
    EXPECT_TRUE(store
                    .ScanPrefix(prefix, "", 0,
                                [&](absl::string_view k, absl::string_view v) {
                                  out.emplace(k, v);
                                  return true;
                                })
                    .ok());
    return out;
  }

  // What `fold` alone writes over `log` into a fresh store.
  std::map<std::string, std::string> FreshFold(eventlog::EventLog& log, Fold& fold,
                                               absl::string_view prefix) {
    auto fresh = kv::KvStore::Open((dir_ / absl::StrCat("fresh-", fold.name())).string());
    EXPECT_TRUE(fresh.ok()) << fresh.status();
    FoldRunner runner(&log, fresh->get(), &fold, {.name = "fresh"});
    EXPECT_TRUE(runner.CatchUp().ok());
    return Dump(**fresh, prefix);
  }

  // Polls (no fixed sleep) until `fold` serves, or fails the test at the deadline.
  static void AwaitServing(const FoldRunner& runner, absl::string_view fold) {
    const absl::Time deadline = absl::Now() + kTimeout;
    while (!runner.Serving(fold).ok() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_TRUE(runner.Serving(fold).ok()) << runner.Serving(fold);
  }

  std::filesystem::path dir_;
  std::unique_ptr<kv::KvStore> store_;
};

TEST_F(FoldRunnerTest, AppliesEveryRecordAndStoresPositions) {
  eventlog::InMemoryEventLog log(3);
  CountingFold fold;
  FoldRunner runner(&log, store_.get(), &fold, {.name = "test", .max_batch = 4});
  ASSERT_TRUE(runner.Start().ok());
  std::map<std::string, int> counts;
  AppendRecords(log, 50, 7, counts);
  ASSERT_TRUE(runner.WaitFor(EndPositions(log), absl::Now() + kTimeout).ok());
  EXPECT_EQ(runner.Applied(), EndPositions(log));
  for (const auto& [key, n] : counts) EXPECT_EQ(Counter(absl::StrCat("count/", key)), n) << key;
  EXPECT_EQ(Counter("total"), 50);
  for (int32_t p = 0; p < 3; ++p) {
    auto stored = store_->Get(absl::StrCat(FoldRunner::kReservedPrefix, "counting/pos/", p));
    ASSERT_TRUE(stored.ok());
    ASSERT_TRUE(stored->has_value());
    EXPECT_EQ(**stored, absl::StrCat(*log.EndOffset(p) - 1));
  }
  runner.Stop();
  runner.Stop();  // Idempotent.
}

// A writer's committed records, offered before the reader reaches them, are applied at once
// when the folds have everything up to the writer's previous commit; the reader then skips them.
// Offered past a gap, they are refused and nothing changes.
TEST_F(FoldRunnerTest, OfferedCommittedRecordsApplyOnceAndOnlyWithoutAGap) {
  eventlog::InMemoryEventLog log(1);
  CountingFold fold;
  FoldRunner runner(&log, store_.get(), &fold, {.name = "test"});
  auto record = [](int64_t offset) {
    LogRecord r;
    r.position = {0, offset};
    r.key = "c0";
    r.value = absl::StrCat(offset);
    return r;
  };
  EXPECT_FALSE(runner.OfferCommitted({record(0)}, {{0, -1}}));  // not started
  ASSERT_TRUE(runner.Start().ok());
  std::map<std::string, int> counts;
  AppendRecords(log, 3, 1, counts);
  ASSERT_TRUE(runner.WaitFor({{0, 2}}, absl::Now() + kTimeout).ok());

  // A gap (the folds have offset 2, the writer's previous commit was at 5): refused.
  EXPECT_FALSE(runner.OfferCommitted({record(6)}, {{0, 5}}));
  EXPECT_EQ(runner.Applied(), (PositionMap{{0, 2}}));
  EXPECT_EQ(Counter("total"), 3);

  // No gap: applied before the log even has them.
  ASSERT_TRUE(runner.OfferCommitted({record(3), record(4)}, {{0, 2}}));
  EXPECT_EQ(runner.Applied(), (PositionMap{{0, 4}}));
  EXPECT_EQ(Counter("total"), 5);
  EXPECT_TRUE(runner.WhenApplied({{0, 4}}, absl::Now()).Get().ok());  // no waiting

  // The reader meets them (and one more) later: each is applied once.
  AppendRecords(log, 3, 1, counts, /*first=*/3);
  ASSERT_TRUE(runner.WaitFor({{0, 5}}, absl::Now() + kTimeout).ok());
  EXPECT_EQ(Counter("total"), 6);
  EXPECT_EQ(Counter("count/c0"), 6);
  runner.Stop();
  EXPECT_FALSE(runner.OfferCommitted({record(6)}, {{0, 5}}));  // stopped
}

// A wait whose caller cancelled ends (CANCELLED) at the runner's next poll, not at its deadline:
// a query call waiting for a token stays in flight until its wait ends, and a shutdown drains it.
TEST_F(FoldRunnerTest, ACancelledWaitEndsAtTheNextPollNotAtItsDeadline) {
  eventlog::InMemoryEventLog log(1);
  CountingFold fold;
  FoldRunner runner(&log, store_.get(), &fold, {.name = "test"});
  ASSERT_TRUE(runner.Start().ok());
  std::atomic<bool> cancelled{false};
  absl::Notification ended;
  absl::Status result;
  runner.WhenApplied({{0, 1000}}, absl::Now() + absl::Hours(1), [&] { return cancelled.load(); })
      .OnReady([&](absl::StatusOr<base::Done> done) {
        result = done.status();
        ended.Notify();
      });
  EXPECT_FALSE(ended.WaitForNotificationWithTimeout(absl::Milliseconds(300)));  // still waiting
  cancelled = true;
  ASSERT_TRUE(ended.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_EQ(result.code(), absl::StatusCode::kCancelled) << result;
  runner.Stop();
}

// A store ahead of its log (the log lost events it had) is refused, not served as a new normal.
TEST_F(FoldRunnerTest, AStoreAheadOfItsLogIsRefused) {
  std::map<std::string, int> counts;
  {
    eventlog::InMemoryEventLog log(1);
    AppendRecords(log, 5, 1, counts);
    CountingFold fold;
    FoldRunner runner(&log, store_.get(), &fold, {.name = "first"});
    ASSERT_TRUE(runner.CatchUp().ok());
  }
  eventlog::InMemoryEventLog shorter(1);
  AppendRecords(shorter, 2, 1, counts);
  CountingFold fold;
  FoldRunner runner(&shorter, store_.get(), &fold, {.name = "second"});
  absl::Status caught_up = runner.CatchUp();
  EXPECT_TRUE(absl::IsDataLoss(caught_up)) << caught_up;
  EXPECT_NE(caught_up.message().find("up to offset 4 but the log ends at offset 1"),
            absl::string_view::npos)
      << caught_up;
  EXPECT_TRUE(absl::IsDataLoss(runner.Start()));
}

// A "crash": the first runner is destroyed while a batch keeps failing (so it
// is mid-way, with some batches committed and one discarded). A new runner on
// the same store must apply each record exactly once.
TEST_F(FoldRunnerTest, ExactlyOnceAcrossCrash) {
  eventlog::InMemoryEventLog log(2);
  std::map<std::string, int> counts;
  AppendRecords(log, 40, 5, counts);
  {
    CountingFold fold;
    fold.fail_from = 20;  // The runner gets stuck on the batch holding record 20, retrying.
    FoldRunner runner(&log, store_.get(), &fold, {.name = "first", .max_batch = 3});
    ASSERT_TRUE(runner.Start().ok());
    ASSERT_TRUE(fold.AwaitFailures(2, absl::Now() + kTimeout));
    EXPECT_LT(AppliedTotal(runner), 40);
  }  // Destroyed mid-way, with a batch discarded.
  const int64_t first_total = Counter("total");
  EXPECT_GT(first_total, 0);
  EXPECT_LT(first_total, 40);

  AppendRecords(log, 20, 5, counts, /*first=*/40);
  CountingFold fold;
  FoldRunner runner(&log, store_.get(), &fold, {.name = "second", .max_batch = 3});
  ASSERT_TRUE(runner.Start().ok());
  ASSERT_TRUE(runner.WaitFor(EndPositions(log), absl::Now() + kTimeout).ok());
  for (const auto& [key, n] : counts) EXPECT_EQ(Counter(absl::StrCat("count/", key)), n) << key;
  EXPECT_EQ(Counter("total"), 60);
}

TEST_F(FoldRunnerTest, ExactlyOnceAcrossRestartWithEmbeddedLog) {
  auto log = eventlog::EmbeddedEventLog::Open((dir_ / "log").string());
  ASSERT_TRUE(log.ok()) << log.status();
  std::map<std::string, int> counts;
  AppendRecords(**log, 30, 4, counts);
  {
    CountingFold fold;
    FoldRunner runner(log->get(), store_.get(), &fold, {.name = "first", .max_batch = 8});
    ASSERT_TRUE(runner.Start().ok());
    ASSERT_TRUE(runner.WaitFor({{0, 29}}, absl::Now() + kTimeout).ok());
  }
  AppendRecords(**log, 30, 4, counts, /*first=*/30);
  CountingFold fold;
  FoldRunner runner(log->get(), store_.get(), &fold, {.name = "second", .max_batch = 8});
  ASSERT_TRUE(runner.Start().ok());
  ASSERT_TRUE(runner.WaitFor({{0, 59}}, absl::Now() + kTimeout).ok());
  runner.Stop();
  EXPECT_EQ(fold.attempts.load(), 30);  // Only the new records were applied.
  for (const auto& [key, n] : counts) EXPECT_EQ(Counter(absl::StrCat("count/", key)), n) << key;
  EXPECT_EQ(Counter("total"), 60);
}

TEST_F(FoldRunnerTest, DeadLetterIsRecordedAndRunnerContinues) {
  eventlog::InMemoryEventLog log;
  CountingFold fold;
  FoldRunner runner(&log, store_.get(), &fold, {});
  ASSERT_TRUE(runner.Start().ok());
  for (const char* v : {"ok0", "bad", "ok2"}) {
    ASSERT_TRUE(log.Append("k", {AppendValue{v, {}}}, absl::Now() + kTimeout).ok());
  }
  ASSERT_TRUE(runner.WaitFor({{0, 2}}, absl::Now() + kTimeout).ok());
  EXPECT_EQ(runner.dead_letters(), 1);
  EXPECT_EQ(Counter("count/k"), 2);

  std::vector<std::pair<std::string, std::string>> dead;
  ASSERT_TRUE(store_
                  ->ScanPrefix(absl::StrCat(FoldRunner::kReservedPrefix, "counting/dead/"), "", 0,
                               [&](absl::string_view k, absl::string_view v) {
                                 dead.emplace_back(k, v);
                                 return true;
                               })
                  .ok());
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].first, absl::StrCat(FoldRunner::kReservedPrefix,
                                        "counting/dead/0000000000/00000000000000000001"));
  EXPECT_EQ(dead[0].second, std::string("cannot decode\0bad", 17));

  // The runner keeps going after the dead letter.
  ASSERT_TRUE(log.Append("k", {AppendValue{"ok3", {}}}, absl::Now() + kTimeout).ok());
  ASSERT_TRUE(runner.WaitFor({{0, 3}}, absl::Now() + kTimeout).ok());
  EXPECT_EQ(Counter("count/k"), 3);
}

TEST_F(FoldRunnerTest, RetriesTransientErrorsWithoutDoubleApplying) {
  eventlog::InMemoryEventLog log;
  CountingFold fold;
  fold.fail_times = 3;
  FoldRunner runner(&log, store_.get(), &fold, {.name = "retry", .max_batch = 2});
  std::map<std::string, int> counts;
  AppendRecords(log, 10, 2, counts);
  ASSERT_TRUE(runner.Start().ok());
  ASSERT_TRUE(runner.WaitFor({{0, 9}}, absl::Now() + kTimeout).ok());
  EXPECT_EQ(fold.failures(), 3);
  EXPECT_EQ(Counter("total"), 10);
  EXPECT_EQ(runner.dead_letters(), 0);
}

TEST_F(FoldRunnerTest, CatchUpAppliesToCurrentEndSynchronously) {
  eventlog::InMemoryEventLog log(2);
  std::map<std::string, int> counts;
  AppendRecords(log, 25, 3, counts);
  CountingFold fold;
  FoldRunner runner(&log, store_.get(), &fold, {.name = "catchup", .max_batch = 4});
  ASSERT_TRUE(runner.CatchUp().ok());
  EXPECT_EQ(runner.Applied(), EndPositions(log));
  EXPECT_EQ(Counter("total"), 25);
  // Nothing new: CatchUp is a no-op; then the runner takes over.
  ASSERT_TRUE(runner.CatchUp().ok());
  ASSERT_TRUE(runner.Start().ok());
  EXPECT_EQ(runner.CatchUp().code(), absl::StatusCode::kFailedPrecondition);
  AppendRecords(log, 5, 3, counts, /*first=*/25);
  ASSERT_TRUE(runner.WaitFor(EndPositions(log), absl::Now() + kTimeout).ok());
  EXPECT_EQ(Counter("total"), 30);
  for (const auto& [key, n] : counts) EXPECT_EQ(Counter(absl::StrCat("count/", key)), n) << key;
}

TEST_F(FoldRunnerTest, CatchUpGivesUpOnPersistentErrors) {
  eventlog::InMemoryEventLog log;
  std::map<std::string, int> counts;
  AppendRecords(log, 3, 1, counts);
  CountingFold fold;
  fold.fail_from = 0;
  FoldRunner runner(&log, store_.get(), &fold, {});
  EXPECT_EQ(runner.CatchUp().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Counter("total"), 0);
}

TEST_F(FoldRunnerTest, WaitForHonoursDeadlineAndStop) {
  eventlog::InMemoryEventLog log(2);
  CountingFold fold;
  FoldRunner runner(&log, store_.get(), &fold, {});
  ASSERT_TRUE(runner.Start().ok());
  EXPECT_EQ(runner.Applied(), (PositionMap{{0, -1}, {1, -1}}));
  // Nothing to wait for.
  EXPECT_TRUE(runner.WaitFor({}, absl::Now()).ok());
  EXPECT_TRUE(runner.WaitFor({{0, -1}}, absl::Now()).ok());
  EXPECT_EQ(runner.WaitFor({{0, 0}}, absl::Now() + absl::Milliseconds(20)).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(runner.WaitFor({{2, 0}}, absl::Now() + kTimeout).code(),
            absl::StatusCode::kInvalidArgument);

  auto pos = log.Append("k", {AppendValue{"v", {}}}, absl::Now() + kTimeout);
  ASSERT_TRUE(pos.ok());
  EXPECT_TRUE(runner.WaitFor({{pos->partition, pos->offset}}, absl::Now() + kTimeout).ok());

  runner.Stop();
  EXPECT_EQ(runner.WaitFor({{pos->partition, pos->offset + 1}}, absl::Now() + kTimeout).code(),
            absl::StatusCode::kUnavailable);
  // Already applied positions are still reported as reached after Stop.
  EXPECT_TRUE(runner.WaitFor({{pos->partition, pos->offset}}, absl::Now() + kTimeout).ok());
}

TEST_F(FoldRunnerTest, StartTwiceFails) {
  eventlog::InMemoryEventLog log;
  CountingFold fold;
  FoldRunner runner(&log, store_.get(), &fold, {});
  ASSERT_TRUE(runner.Start().ok());
  EXPECT_EQ(runner.Start().code(), absl::StatusCode::kFailedPrecondition);
}

// A fold whose version changed is cleared and refolds from the start by itself, while the other
// fold keeps serving and advancing (and is not refolded); it ends as a fresh fold would.
TEST_F(FoldRunnerTest, ChangedVersionRefoldsOnlyThatFoldWhileTheOtherServes) {
  eventlog::InMemoryEventLog log(2);
  std::map<std::string, int> counts;
  AppendRecords(log, 40, 5, counts);
  {
    PrefixFold a("a", "a/", 1), b("b", "b/", 1);
    FoldRunner runner(&log, store_.get(), std::vector<Fold*>{&a, &b}, {.max_batch = 64});
    ASSERT_TRUE(runner.CatchUp().ok());
    EXPECT_EQ(b.attempts.load(), 40);
  }
  PrefixFold a("a", "a/", 1), b("b", "b/", 2);
  b.hold = true;  // b cannot advance until released
  FoldRunner runner(&log, store_.get(), std::vector<Fold*>{&a, &b}, {.max_batch = 64});
  ASSERT_TRUE(runner.CatchUp().ok());
  EXPECT_EQ(a.attempts.load(), 0);           // a was caught up already
  EXPECT_TRUE(Dump(*store_, "b/").empty());  // b's old keys are gone
  EXPECT_EQ(Counter("a/total"), 40);
  ASSERT_TRUE(runner.Start().ok());
  EXPECT_TRUE(runner.Serving("a").ok());
  EXPECT_EQ(runner.Serving("b").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(runner.Serving("nope").code(), absl::StatusCode::kInvalidArgument);

  AppendRecords(log, 10, 5, counts, /*first=*/40);
  ASSERT_TRUE(runner.WaitFor(EndPositions(log), absl::Now() + kTimeout).ok());
  EXPECT_EQ(Counter("a/total"), 50);
  EXPECT_EQ(a.attempts.load(), 10);
  EXPECT_EQ(runner.Serving("b").code(), absl::StatusCode::kUnavailable);
  std::vector<FoldRunner::FoldStats> stats = runner.Stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[1].name, "b");
  EXPECT_EQ(stats[1].version, 2);
  EXPECT_TRUE(stats[1].refolding);
  EXPECT_FALSE(stats[0].refolding);

  b.hold = false;
  AwaitServing(runner, "b");
  AppendRecords(log, 5, 5, counts, /*first=*/50);
  ASSERT_TRUE(runner.WaitFor(EndPositions(log), absl::Now() + kTimeout).ok());
  runner.Stop();
  EXPECT_EQ(Counter("a/total"), 55);
  EXPECT_EQ(Counter("b/total"), 55);
  for (const auto& [key, n] : counts) EXPECT_EQ(Counter(absl::StrCat("b/count/", key)), n) << key;
  PrefixFold fresh("b", "b/", 2);
  EXPECT_EQ(Dump(*store_, "b/"), FreshFold(log, fresh, "b/"));
  auto meta = store_->Get(absl::StrCat(FoldRunner::kReservedPrefix, "b/meta"));
  ASSERT_TRUE(meta.ok() && meta->has_value());
  EXPECT_EQ(**meta, "version=2");
}

// Each fold's position is written in the batch of its own keys: after a crash mid-way, every
// fold's counters match its stored position; a restart (with a new fold added on the existing
// store, which refolds by itself) applies each record exactly once per fold.
TEST_F(FoldRunnerTest, PositionsArePerFoldAndInTheBatchOfTheirKeys) {
  eventlog::InMemoryEventLog log(2);
  std::map<std::string, int> counts;
  AppendRecords(log, 40, 5, counts);
  {
    PrefixFold a("a", "a/", 1), b("b", "b/", 1);
    a.fail_from = 20;  // stuck on the batch holding record 20
    FoldRunner runner(&log, store_.get(), std::vector<Fold*>{&a, &b}, {.max_batch = 3});
    ASSERT_TRUE(runner.Start().ok());
    const absl::Time deadline = absl::Now() + kTimeout;
    while (a.attempts.load() < 25 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  }  // destroyed mid-way, with a batch discarded
  for (const std::string fold : {"a", "b"}) {
    int64_t positions = 0;
    for (int32_t p = 0; p < 2; ++p) {
      auto stored = store_->Get(absl::StrCat(FoldRunner::kReservedPrefix, fold, "/pos/", p));
      ASSERT_TRUE(stored.ok());
      int64_t offset = -1;
      if (stored->has_value()) ASSERT_TRUE(absl::SimpleAtoi(**stored, &offset));
      positions += offset + 1;
    }
    EXPECT_EQ(positions, Counter(absl::StrCat(fold, "/total"))) << fold;
    EXPECT_LT(positions, 40) << fold;
  }

  AppendRecords(log, 20, 5, counts, /*first=*/40);
  PrefixFold a("a", "a/", 1), b("b", "b/", 1), c("c", "c/", 1);
  FoldRunner runner(&log, store_.get(), std::vector<Fold*>{&a, &b, &c}, {.max_batch = 3});
  ASSERT_TRUE(runner.CatchUp().ok());
  ASSERT_TRUE(runner.Start().ok());
  AwaitServing(runner, "c");
  ASSERT_TRUE(runner.WaitFor(EndPositions(log), absl::Now() + kTimeout).ok());
  for (const std::string fold : {"a", "b", "c"}) {
    EXPECT_EQ(Counter(absl::StrCat(fold, "/total")), 60) << fold;
    for (const auto& [key, n] : counts) {
      EXPECT_EQ(Counter(absl::StrCat(fold, "/count/", key)), n) << fold << " " << key;
    }
  }
}

// A store of the layout before folds had their own positions: one shared position. The folds at
// version 1 take it over (no refold); a fold at another version refolds.
TEST_F(FoldRunnerTest, MigratesTheSharedPositionOfTheOldLayout) {
  eventlog::InMemoryEventLog log(1);
  std::map<std::string, int> counts;
  AppendRecords(log, 30, 3, counts);
  {
    PrefixFold a("a", "a/", 1), b("b", "b/", 1);
    FoldRunner runner(&log, store_.get(), std::vector<Fold*>{&a, &b}, {});
    ASSERT_TRUE(runner.CatchUp().ok());
  }
  // Rewrite the runner's keys as the old runner kept them.
  kv::KvBatch batch = store_->NewBatch();
  for (const auto& [key, value] : Dump(*store_, FoldRunner::kReservedPrefix)) batch.Delete(key);
  batch.Put(absl::StrCat(FoldRunner::kReservedPrefix, "pos/0"), "29");
  ASSERT_TRUE(store_->Write(batch).ok());

  AppendRecords(log, 10, 3, counts, /*first=*/30);
  PrefixFold a("a", "a/", 1), b("b", "b/", 2);
  FoldRunner runner(&log, store_.get(), std::vector<Fold*>{&a, &b}, {});
  ASSERT_TRUE(runner.CatchUp().ok());
  ASSERT_TRUE(runner.Start().ok());
  AwaitServing(runner, "b");
  ASSERT_TRUE(runner.WaitFor(EndPositions(log), absl::Now() + kTimeout).ok());
  runner.Stop();
  EXPECT_EQ(a.attempts.load(), 10);  // only the new records
  EXPECT_EQ(Counter("a/total"), 40);
  EXPECT_EQ(b.attempts.load(), 40);  // refolded from the start
  EXPECT_EQ(Counter("b/total"), 40);
  auto legacy = store_->Get(absl::StrCat(FoldRunner::kReservedPrefix, "pos/0"));
  ASSERT_TRUE(legacy.ok());
  EXPECT_FALSE(legacy->has_value());
  EXPECT_EQ(**store_->Get(absl::StrCat(FoldRunner::kReservedPrefix, "a/pos/0")), "39");
}

TEST_F(FoldRunnerTest, RefusesFoldsThatShareKeys) {
  eventlog::InMemoryEventLog log;
  PrefixFold a("a", "a/", 1), b("b", "a/b/", 1), c("a", "c/", 1);
  FoldRunner overlapping(&log, store_.get(), std::vector<Fold*>{&a, &b}, {});
  EXPECT_EQ(overlapping.Start().code(), absl::StatusCode::kInvalidArgument);
  FoldRunner same_name(&log, store_.get(), std::vector<Fold*>{&a, &c}, {});
  EXPECT_EQ(same_name.CatchUp().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crm::fold
