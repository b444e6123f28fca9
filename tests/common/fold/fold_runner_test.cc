#include "common/fold/fold_runner.h"

#include <atomic>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
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

// Counts records under its own prefix like PrefixFold; a value starting with "bad" is
// undecodable (DATA_LOSS) until `accept_bad` is set (a fold fixed by an upgrade). While `hold` is
// set it fails with UNAVAILABLE.
class PickyFold : public Fold {
 public:
  PickyFold(std::string name, std::string prefix) : name_(std::move(name)), prefix_(prefix) {}
  std::string name() const override { return name_; }
  int64_t version() const override { return 1; }
  std::vector<std::string> prefixes() const override { return {prefix_}; }
  absl::Status Apply(const LogRecord& record, kv::KvBatch& batch) override {
    if (hold.load()) return absl::UnavailableError("held");
    if (absl::StartsWith(record.value, "bad") && !accept_bad.load()) {
      return absl::DataLossError(absl::StrCat("cannot decode ", record.value));
    }
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
  std::atomic<bool> accept_bad{false};

 private:
  const std::string name_;
  const std::string prefix_;
};

// An InMemoryEventLog whose readers can be held once inside a Poll: when armed, the first Poll
// that returns records past offset 0 but before `below` (a refold pass beyond its first batch)
// reports `held` and returns only after `release`.
class GatedLog final : public eventlog::EventLog {
 public:
  explicit GatedLog(int32_t partitions) : inner_(partitions) {}
  int32_t PartitionCount() const override { return inner_.PartitionCount(); }
  int32_t PartitionOf(absl::string_view key) const override { return inner_.PartitionOf(key); }
  absl::StatusOr<eventlog::LogPosition> Append(absl::string_view key,
                                               std::vector<AppendValue> values,
                                               absl::Time deadline) override {
    return inner_.Append(key, std::move(values), deadline);
  }
  absl::StatusOr<int64_t> EndOffset(int32_t partition) override {
    return inner_.EndOffset(partition);
  }
  absl::StatusOr<std::unique_ptr<eventlog::LogReader>> NewReader(
      const std::map<int32_t, int64_t>& start) override {
    auto reader = inner_.NewReader(start);
    if (!reader.ok()) return reader.status();
    return std::unique_ptr<eventlog::LogReader>(new Reader(this, *std::move(reader)));
  }

  void Arm(int64_t below) {
    below_ = below;
    armed_ = true;
  }
  absl::Notification held;
  absl::Notification release;

 private:
  class Reader final : public eventlog::LogReader {
   public:
    Reader(GatedLog* log, std::unique_ptr<eventlog::LogReader> inner)
        : log_(log), inner_(std::move(inner)) {}
    absl::StatusOr<std::vector<LogRecord>> Poll(size_t max_records, absl::Time deadline) override {
      auto records = inner_->Poll(max_records, deadline);
      if (records.ok() && !records->empty() && records->front().position.offset > 0 &&
          records->front().position.offset < log_->below_ && log_->armed_.exchange(false)) {
        log_->held.Notify();
        log_->release.WaitForNotification();
      }
      return records;
    }
    void Close() override { inner_->Close(); }

   private:
    GatedLog* const log_;
    std::unique_ptr<eventlog::LogReader> inner_;
  };

  eventlog::InMemoryEventLog inner_;
  std::atomic<bool> armed_{false};
  std::atomic<int64_t> below_{0};
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

// An online rebuild clears one fold and refolds it in the background while the other serves
// and advances; the rebuilt fold ends as a fresh fold would, each record applied once.
TEST_F(FoldRunnerTest, RebuildRefoldsOneFoldWhileTheOtherServes) {
  eventlog::InMemoryEventLog log(2);
  std::map<std::string, int> counts;
  AppendRecords(log, 40, 5, counts);
  PrefixFold a("a", "a/", 1), b("b", "b/", 1);
  FoldRunner runner(&log, store_.get(), std::vector<Fold*>{&a, &b},
                    {.max_batch = 8, .online_rebuild = true});
  ASSERT_TRUE(runner.CatchUp().ok());
  ASSERT_TRUE(runner.Start().ok());
  EXPECT_EQ(Counter("a/total"), 40);

  a.hold = true;  // the refold cannot advance until released
  absl::StatusOr<bool> started = runner.Rebuild("a");
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_TRUE(*started);
  EXPECT_TRUE(Dump(*store_, "a/").empty());  // cleared before Rebuild returns
  EXPECT_EQ(runner.Serving("a").code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(runner.Serving("b").ok());
  started = runner.Rebuild("a");  // already refolding: nothing done
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_FALSE(*started);
  std::vector<FoldRunner::FoldStats> stats = runner.Stats();
  EXPECT_TRUE(stats[0].refolding);
  EXPECT_FALSE(stats[1].refolding);

  AppendRecords(log, 10, 5, counts, /*first=*/40);
  ASSERT_TRUE(runner.WaitFor(EndPositions(log), absl::Now() + kTimeout).ok());
  EXPECT_EQ(Counter("b/total"), 50);
  EXPECT_EQ(runner.Serving("a").code(), absl::StatusCode::kUnavailable);

  a.hold = false;
  AwaitServing(runner, "a");
  AppendRecords(log, 5, 5, counts, /*first=*/50);
  ASSERT_TRUE(runner.WaitFor(EndPositions(log), absl::Now() + kTimeout).ok());
  runner.Stop();
  EXPECT_EQ(Counter("a/total"), 55);
  EXPECT_EQ(Counter("b/total"), 55);
  EXPECT_EQ(b.attempts.load(), 55);  // b was never refolded
  PrefixFold fresh("a", "a/", 1);
  EXPECT_EQ(Dump(*store_, "a/"), FreshFold(log, fresh, "a/"));
  auto meta = store_->Get(absl::StrCat(FoldRunner::kReservedPrefix, "a/meta"));
  ASSERT_TRUE(meta.ok() && meta->has_value());
  EXPECT_EQ(**meta, "version=1");
}

TEST_F(FoldRunnerTest, RebuildIsRefusedWhereReadersDoNotWaitForIt) {
  eventlog::InMemoryEventLog log(1);
  PrefixFold a("a", "a/", 1);
  FoldRunner fixed(&log, store_.get(), &a, {});  // online_rebuild off (the command state)
  ASSERT_TRUE(fixed.Start().ok());
  EXPECT_EQ(fixed.Rebuild("a").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fixed.Rebuild("nope").status().code(), absl::StatusCode::kNotFound);
  fixed.Stop();

  FoldRunner online(&log, store_.get(), &a, {.online_rebuild = true});
  EXPECT_EQ(online.Rebuild("a").status().code(), absl::StatusCode::kUnavailable);  // not started
}

// A rebuild interrupted by a crash (after the fold left the serving pass, before or after its
// keys were cleared) is finished at the next start: the fold is cleared and refolds.
TEST_F(FoldRunnerTest, AnInterruptedRebuildRefoldsAtTheNextStart) {
  eventlog::InMemoryEventLog log(2);
  std::map<std::string, int> counts;
  AppendRecords(log, 30, 3, counts);
  {
    PrefixFold a("a", "a/", 1), b("b", "b/", 1);
    FoldRunner runner(&log, store_.get(), std::vector<Fold*>{&a, &b}, {.online_rebuild = true});
    ASSERT_TRUE(runner.CatchUp().ok());
    ASSERT_TRUE(runner.Start().ok());
    a.hold = true;
    ASSERT_TRUE(runner.Rebuild("a").ok());
  }  // stopped while "a" refolds
  {
    // Stopped before the keys were cleared: the stored version is 0.
    PrefixFold a("a", "a/", 1), b("b", "b/", 1);
    FoldRunner runner(&log, store_.get(), std::vector<Fold*>{&a, &b}, {.online_rebuild = true});
    ASSERT_TRUE(runner.CatchUp().ok());
    ASSERT_TRUE(runner.Start().ok());
    AwaitServing(runner, "a");
    runner.Stop();
    EXPECT_EQ(Counter("a/total"), 30);
    kv::KvBatch batch = store_->NewBatch();
    batch.Put(absl::StrCat(FoldRunner::kReservedPrefix, "b/meta"), "version=0 refolding");
    ASSERT_TRUE(store_->Write(batch).ok());
  }
  AppendRecords(log, 6, 3, counts, /*first=*/30);
  PrefixFold a("a", "a/", 1), b("b", "b/", 1);
  FoldRunner runner(&log, store_.get(), std::vector<Fold*>{&a, &b}, {.online_rebuild = true});
  ASSERT_TRUE(runner.CatchUp().ok());
  ASSERT_TRUE(runner.Start().ok());
  AwaitServing(runner, "b");
  ASSERT_TRUE(runner.WaitFor(EndPositions(log), absl::Now() + kTimeout).ok());
  runner.Stop();
  EXPECT_EQ(b.attempts.load(), 36);  // refolded from the start
  for (const std::string fold : {"a", "b"}) {
    EXPECT_EQ(Counter(absl::StrCat(fold, "/total")), 36) << fold;
    for (const auto& [key, n] : counts) {
      EXPECT_EQ(Counter(absl::StrCat(fold, "/count/", key)), n) << fold << " " << key;
    }
  }
}

// Rebuilds while a single writer appends and offers its committed records (OfferCommitted, on
// the writer's thread) and the runner's thread applies the rest: every record is applied to
// each fold exactly once.
TEST_F(FoldRunnerTest, RebuildsDuringOfferedCommitsApplyEachRecordOnce) {
  eventlog::InMemoryEventLog log(1);
  PrefixFold a("a", "a/", 1), b("b", "b/", 1);
  FoldRunner runner(&log, store_.get(), std::vector<Fold*>{&a, &b},
                    {.max_batch = 64, .online_rebuild = true});
  std::map<std::string, int> counts;
  AppendRecords(log, 2000, 7, counts);  // so that a refold takes many batches
  ASSERT_TRUE(runner.Start().ok());
  std::atomic<bool> done{false};
  std::atomic<int> written{0};
  std::atomic<int> offered{0};
  std::thread writer([&] {
    int64_t previous = 1999;
    while (!done.load() || written.load() < 100) {
      const int i = written.load();
      absl::StatusOr<eventlog::LogPosition> pos = log.Append(
          absl::StrCat("c", i % 7), {AppendValue{absl::StrCat(i), {}}}, absl::Now() + kTimeout);
      ASSERT_TRUE(pos.ok()) << pos.status();
      LogRecord record;
      record.position = *pos;
      record.key = absl::StrCat("c", i % 7);
      record.value = absl::StrCat(i);
      if (runner.OfferCommitted({record}, {{0, previous}})) ++offered;
      previous = pos->offset;
      ++written;
      absl::SleepFor(absl::Milliseconds(1));  // a command rate the refold can overtake
    }
  });
  for (int round = 0; round < 6; ++round) {
    // One at a time, then the second while the first still refolds (it joins the refold pass).
    for (const char* fold : {"a", "b"}) {
      absl::StatusOr<bool> started = runner.Rebuild(fold);
      ASSERT_TRUE(started.ok()) << started.status();
      if (round % 2 == 0) AwaitServing(runner, fold);
    }
    AwaitServing(runner, "a");
    AwaitServing(runner, "b");
  }
  done = true;
  writer.join();
  ASSERT_TRUE(runner.WaitFor(EndPositions(log), absl::Now() + kTimeout).ok());
  runner.Stop();
  EXPECT_GT(offered.load(), 0);
  PrefixFold fresh_a("a", "a/", 1), fresh_b("b", "b/", 1);
  EXPECT_EQ(Counter("a/total"), 2000 + written.load());
  EXPECT_EQ(Counter("b/total"), 2000 + written.load());
  EXPECT_EQ(Dump(*store_, "a/"), FreshFold(log, fresh_a, "a/"));
  EXPECT_EQ(Dump(*store_, "b/"), FreshFold(log, fresh_b, "b/"));
}

// Dead letters are listed (by fold, partition, offset; paged), read with their key and headers,
// and retried: a retry that still fails leaves the dead letter; one that succeeds applies the
// record and removes the dead letter.
TEST_F(FoldRunnerTest, DeadLettersAreListedReadAndRetried) {
  eventlog::InMemoryEventLog log(2);
  PickyFold pa("pa", "pa/"), pb("pb", "pb/");
  auto runner = std::make_unique<FoldRunner>(&log, store_.get(), std::vector<Fold*>{&pa, &pb},
                                             FoldRunner::Options{.online_rebuild = true});
  ASSERT_TRUE(runner->Start().ok());
  std::vector<eventlog::LogPosition> bad;
  for (int i = 0; i < 12; ++i) {
    const bool is_bad = i % 4 == 1;
    absl::StatusOr<eventlog::LogPosition> pos = log.Append(
        absl::StrCat("k", i % 3),
        {AppendValue{is_bad ? absl::StrCat("bad", i) : absl::StrCat(i),
                     {{"event-type", is_bad ? "Broken" : "Fine"}, {"n", absl::StrCat(i)}}}},
        absl::Now() + kTimeout);
    ASSERT_TRUE(pos.ok());
    if (is_bad) bad.push_back(*pos);
  }
  ASSERT_TRUE(runner->WaitFor(EndPositions(log), absl::Now() + kTimeout).ok());
  std::sort(bad.begin(), bad.end(), [](const auto& x, const auto& y) {
    return std::pair(x.partition, x.offset) < std::pair(y.partition, y.offset);
  });
  ASSERT_EQ(bad.size(), 3u);

  absl::StatusOr<std::vector<FoldRunner::DeadLetter>> all = runner->DeadLetters("", {}, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    const FoldRunner::DeadLetter& d = (*all)[i];
    EXPECT_EQ(d.fold, i < 3 ? "pa" : "pb");
    EXPECT_EQ(d.record.position, bad[i % 3]);
    EXPECT_TRUE(absl::StartsWith(d.record.value, "bad"));
    EXPECT_EQ(d.error, absl::StrCat("cannot decode ", d.record.value));
    EXPECT_TRUE(d.has_key_and_headers);
    EXPECT_TRUE(absl::StartsWith(d.record.key, "k"));
    ASSERT_EQ(d.record.headers.size(), 2u);
    EXPECT_EQ(d.record.headers[0], (std::pair<std::string, std::string>("event-type", "Broken")));
  }
  // Paged: two at a time, across the folds.
  std::vector<FoldRunner::DeadLetter> paged;
  std::optional<FoldRunner::DeadLetterId> after;
  while (true) {
    auto page = runner->DeadLetters("", after, 2);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    for (auto& d : *page) paged.push_back(d);
    after = FoldRunner::DeadLetterId{page->back().fold, page->back().record.position};
  }
  ASSERT_EQ(paged.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(paged[i].record.position, (*all)[i].record.position);
  auto only_pb = runner->DeadLetters("pb", {}, 100);
  ASSERT_TRUE(only_pb.ok());
  EXPECT_EQ(only_pb->size(), 3u);
  EXPECT_EQ(runner->DeadLetters("nope", {}, 10).status().code(), absl::StatusCode::kNotFound);

  const FoldRunner::DeadLetterId first{"pa", bad[0]};
  auto got = runner->GetDeadLetter(first);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->record.value, (*all)[0].record.value);
  EXPECT_EQ(runner->GetDeadLetter({"pa", {bad[0].partition, 999}}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(runner->GetDeadLetter({"nope", bad[0]}).status().code(), absl::StatusCode::kNotFound);

  // Still undecodable: refused, and the dead letter stays.
  const int64_t before = Counter("pa/total");
  EXPECT_EQ(runner->RetryDeadLetter(first).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(runner->GetDeadLetter(first).ok());
  EXPECT_EQ(runner->Stats()[0].stored_dead_letters, 3);

  // The fold now reads it (an upgrade fixed it): applied once, the dead letter gone.
  pa.accept_bad = true;
  ASSERT_TRUE(runner->RetryDeadLetter(first).ok());
  EXPECT_EQ(Counter("pa/total"), before + 1);
  EXPECT_EQ(runner->GetDeadLetter(first).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(runner->RetryDeadLetter(first).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Counter("pa/total"), before + 1);
  EXPECT_EQ(runner->Stats()[0].stored_dead_letters, 2);
  EXPECT_EQ(runner->Stats()[0].dead_letters, 3);  // recorded since start
  EXPECT_EQ(runner->Stats()[1].stored_dead_letters, 3);

  // While a fold refolds its dead letters are not retried; the refold records them again.
  pb.hold = true;
  ASSERT_TRUE(runner->Rebuild("pb").ok());
  EXPECT_EQ(runner->RetryDeadLetter({"pb", bad[0]}).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(runner->Stats()[1].stored_dead_letters, 0);
  pb.hold = false;
  AwaitServing(*runner, "pb");
  EXPECT_EQ(runner->Stats()[1].stored_dead_letters, 3);

  // A restart counts what is stored.
  runner->Stop();
  runner = std::make_unique<FoldRunner>(&log, store_.get(), std::vector<Fold*>{&pa, &pb},
                                        FoldRunner::Options{});
  ASSERT_TRUE(runner->Start().ok());
  EXPECT_EQ(runner->Stats()[0].stored_dead_letters, 2);
  EXPECT_EQ(runner->Stats()[1].stored_dead_letters, 3);
  EXPECT_EQ(runner->Stats()[0].dead_letters, 0);
}

// A fold cleared by Rebuild while the refold pass (for another fold) has a batch in hand must
// not take that batch: it would skip the records before it. It joins when the pass reopens.
TEST_F(FoldRunnerTest, AFoldRebuiltDuringAnotherRefoldStartsFromTheBeginning) {
  GatedLog log(1);
  std::map<std::string, int> counts;
  AppendRecords(log, 300, 5, counts);
  PrefixFold a("a", "a/", 1), b("b", "b/", 1);
  FoldRunner runner(&log, store_.get(), std::vector<Fold*>{&a, &b},
                    {.max_batch = 32, .online_rebuild = true});
  ASSERT_TRUE(runner.CatchUp().ok());
  ASSERT_TRUE(runner.Start().ok());
  log.Arm(/*below=*/300);
  ASSERT_TRUE(runner.Rebuild("a").ok());
  // The refold pass has applied its first batch to "a" and holds the second (from offset 32).
  ASSERT_TRUE(log.held.WaitForNotificationWithTimeout(kTimeout));
  ASSERT_TRUE(runner.Rebuild("b").ok());
  log.release.Notify();
  AwaitServing(runner, "a");
  AwaitServing(runner, "b");
  runner.Stop();
  EXPECT_EQ(Counter("a/total"), 300);
  EXPECT_EQ(Counter("b/total"), 300);
  PrefixFold fresh("b", "b/", 1);
  EXPECT_EQ(Dump(*store_, "b/"), FreshFold(log, fresh, "b/"));
}

}  // namespace
}  // namespace crm::fold
