#include "common/eventlog/embedded_event_log.h"

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace crm::eventlog {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);

std::vector<AppendValue> Values(std::initializer_list<const char*> values) {
  std::vector<AppendValue> out;
  for (const char* v : values) out.push_back(AppendValue{v, {}});
  return out;
}

class EmbeddedEventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("embedded_event_log_test_", info->name(), "_", ::getpid());
    std::filesystem::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    log_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    log_.reset();
    auto log = EmbeddedEventLog::Open(dir_.string());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }
  // Reads records from `from` until `count` have arrived (or the deadline).
  std::vector<LogRecord> ReadN(int64_t from, size_t count) {
    auto reader = log_->NewReader({{0, from}});
    EXPECT_TRUE(reader.ok()) << reader.status();
    std::vector<LogRecord> out;
    const absl::Time deadline = absl::Now() + kTimeout;
    while (out.size() < count && absl::Now() < deadline) {
      auto batch = (*reader)->Poll(count - out.size(), deadline);
      EXPECT_TRUE(batch.ok()) << batch.status();
      if (!batch.ok()) break;
      for (LogRecord& r : *batch) out.push_back(std::move(r));
    }
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<EmbeddedEventLog> log_;
};

TEST_F(EmbeddedEventLogTest, AppendsDenseOffsetsFromZero) {
  EXPECT_EQ(log_->PartitionCount(), 1);
  EXPECT_EQ(*log_->EndOffset(0), 0);
  auto first = log_->Append("c1", Values({"a", "b", "c"}), absl::Now() + kTimeout);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, (LogPosition{0, 2}));
  auto second = log_->Append("c2", Values({"d"}), absl::Now() + kTimeout);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, (LogPosition{0, 3}));
  EXPECT_EQ(*log_->EndOffset(0), 4);

  std::vector<LogRecord> records = ReadN(0, 4);
  ASSERT_EQ(records.size(), 4u);
  const char* values[] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(records[i].position, (LogPosition{0, i}));
    EXPECT_EQ(records[i].value, values[i]);
    EXPECT_EQ(records[i].key, i < 3 ? "c1" : "c2");
  }
}

TEST_F(EmbeddedEventLogTest, KeepsHeadersAndBinaryValues) {
  AppendValue v;
  v.value = std::string("bin\0ary\xff", 8);
  v.headers = {{"type", "crm.events.v1.CustomerRegistered"}, {"empty", ""}};
  ASSERT_TRUE(log_->Append(std::string("k\0ey", 4), {v}, absl::Now() + kTimeout).ok());
  std::vector<LogRecord> records = ReadN(0, 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].key, std::string("k\0ey", 4));
  EXPECT_EQ(records[0].value, v.value);
  EXPECT_EQ(records[0].headers, v.headers);
}

TEST_F(EmbeddedEventLogTest, RejectsEmptyAndOversizedAppends) {
  EXPECT_EQ(log_->Append("k", {}, absl::Now() + kTimeout).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<AppendValue> big(1);
  big[0].value.assign(EmbeddedEventLog::kMaxValueBytes + 1, 'x');
  EXPECT_EQ(log_->Append("k", std::move(big), absl::Now() + kTimeout).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<AppendValue> max(1);
  max[0].value.assign(EmbeddedEventLog::kMaxValueBytes, 'x');
  EXPECT_TRUE(log_->Append("k", std::move(max), absl::Now() + kTimeout).ok());
  EXPECT_EQ(*log_->EndOffset(0), 1);
}

TEST_F(EmbeddedEventLogTest, PastDeadlineAppendsNothing) {
  EXPECT_EQ(log_->Append("k", Values({"a"}), absl::Now() - absl::Seconds(1)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(*log_->EndOffset(0), 0);
}

TEST_F(EmbeddedEventLogTest, RejectsUnknownPartitions) {
  EXPECT_EQ(log_->NewReader({{1, 0}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->NewReader({{0, -1}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->EndOffset(1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(EmbeddedEventLogTest, DurableAcrossReopen) {
  ASSERT_TRUE(log_->Append("k", Values({"a", "b"}), absl::Now() + kTimeout).ok());
  Reopen();
  EXPECT_EQ(*log_->EndOffset(0), 2);
  auto next = log_->Append("k", Values({"c"}), absl::Now() + kTimeout);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->offset, 2);
  Reopen();
  std::vector<LogRecord> records = ReadN(0, 3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].value, "a");
  EXPECT_EQ(records[1].value, "b");
  EXPECT_EQ(records[2].value, "c");
  EXPECT_EQ(records[2].position.offset, 2);
}

TEST_F(EmbeddedEventLogTest, ALogBesideAnotherHasOffsetsAndRecordsOfItsOwn) {
  ASSERT_TRUE(log_->Append("k", Values({"a", "b"}), absl::Now() + kTimeout).ok());
  EXPECT_EQ(EmbeddedEventLog::OpenBeside(*log_, "", false).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EmbeddedEventLog::OpenBeside(*log_, "a/b", false).status().code(),
            absl::StatusCode::kInvalidArgument);
  {
    auto beside = EmbeddedEventLog::OpenBeside(*log_, "audit", false);
    ASSERT_TRUE(beside.ok()) << beside.status();
    auto first = (*beside)->Append("s", Values({"x"}), absl::Now() + kTimeout);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->offset, 0);
    EXPECT_EQ(*(*beside)->EndOffset(0), 1);
  }
  // The first log neither sees the other's records nor lost its own, across a reopen.
  Reopen();
  EXPECT_EQ(*log_->EndOffset(0), 2);
  std::vector<LogRecord> records = ReadN(0, 2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].value, "b");
  auto next = log_->Append("k", Values({"c"}), absl::Now() + kTimeout);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->offset, 2);
  auto beside = EmbeddedEventLog::OpenBeside(*log_, "audit", false);
  ASSERT_TRUE(beside.ok());
  EXPECT_EQ(*(*beside)->EndOffset(0), 1);
  auto reader = (*beside)->NewReader({{0, 0}});
  ASSERT_TRUE(reader.ok());
  auto read = (*reader)->Poll(10, absl::Now() + kTimeout);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].value, "x");
}

TEST_F(EmbeddedEventLogTest, SecondOpenOfSameDirIsUnavailable) {
  EXPECT_EQ(EmbeddedEventLog::Open(dir_.string()).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(EmbeddedEventLogTest, ReaderStartsAtOffsetAndHonoursMaxRecords) {
  ASSERT_TRUE(log_->Append("k", Values({"0", "1", "2", "3", "4"}), absl::Now() + kTimeout).ok());
  auto reader = log_->NewReader({{0, 2}});
  ASSERT_TRUE(reader.ok());
  auto first = (*reader)->Poll(2, absl::Now() + kTimeout);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].value, "2");
  EXPECT_EQ((*first)[1].value, "3");
  auto second = (*reader)->Poll(10, absl::Now() + kTimeout);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].position.offset, 4);
}

TEST_F(EmbeddedEventLogTest, PollReturnsEmptyAtDeadline) {
  auto reader = log_->NewReader({{0, 0}});
  ASSERT_TRUE(reader.ok());
  auto records = (*reader)->Poll(10, absl::Now() + absl::Milliseconds(20));
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty());
}

TEST_F(EmbeddedEventLogTest, ReaderWakesOnAppend) {
  auto reader = log_->NewReader({{0, 0}});
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<std::vector<LogRecord>> polled;
  std::thread poller([&] { polled = (*reader)->Poll(10, absl::Now() + kTimeout); });
  ASSERT_TRUE(log_->Append("k", Values({"hello"}), absl::Now() + kTimeout).ok());
  poller.join();
  ASSERT_TRUE(polled.ok()) << polled.status();
  ASSERT_EQ(polled->size(), 1u);
  EXPECT_EQ((*polled)[0].value, "hello");
}

TEST_F(EmbeddedEventLogTest, CloseWakesBlockedPollWithCancelled) {
  auto reader = log_->NewReader({{0, 0}});
  ASSERT_TRUE(reader.ok());
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<LogRecord>> polled;
  std::thread poller([&] { polled = (*reader)->Poll(10, absl::Now() + kTimeout); });
  (*reader)->Close();
  poller.join();
  EXPECT_EQ(polled.status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(absl::Now() - start, kTimeout);
}

// 8 threads x 200 appends: offsets are dense and unique, each key's records
// keep their append order, a concurrent reader sees only a contiguous prefix,
// and appends share fsyncs.
TEST_F(EmbeddedEventLogTest, GroupCommitKeepsOrderAndSharesSyncs) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  constexpr int kTotal = kThreads * kPerThread;

  std::vector<LogRecord> seen;
  absl::Status reader_status;
  std::thread reader_thread([&] {
    auto reader = log_->NewReader({{0, 0}});
    if (!reader.ok()) {
      reader_status = reader.status();
      return;
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    while (seen.size() < kTotal && absl::Now() < deadline) {
      auto batch = (*reader)->Poll(64, deadline);
      if (!batch.ok()) {
        reader_status = batch.status();
        return;
      }
      for (LogRecord& r : *batch) seen.push_back(std::move(r));
    }
  });

  std::vector<std::vector<int64_t>> offsets(kThreads);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto pos = log_->Append(absl::StrCat("key", t), Values({absl::StrCat(t, ":", i).c_str()}),
                                absl::Now() + absl::Seconds(120));
        ASSERT_TRUE(pos.ok()) << pos.status();
        offsets[t].push_back(pos->offset);
      }
    });
  }
  for (std::thread& w : writers) w.join();
  reader_thread.join();
  ASSERT_TRUE(reader_status.ok()) << reader_status;

  std::set<int64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(offsets[t].size(), static_cast<size_t>(kPerThread));
    for (int i = 1; i < kPerThread; ++i) EXPECT_LT(offsets[t][i - 1], offsets[t][i]);
    all.insert(offsets[t].begin(), offsets[t].end());
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(kTotal));  // Unique...
  EXPECT_EQ(*all.begin(), 0);                          // ...and dense.
  EXPECT_EQ(*all.rbegin(), kTotal - 1);
  EXPECT_EQ(*log_->EndOffset(0), kTotal);

  // The reader saw every offset exactly once, in order, and per key in append
  // order.
  ASSERT_EQ(seen.size(), static_cast<size_t>(kTotal));
  std::map<std::string, int> next_index;
  for (int64_t i = 0; i < kTotal; ++i) {
    ASSERT_EQ(seen[i].position.offset, i);
    std::vector<std::string> parts = absl::StrSplit(seen[i].value, ':');
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(seen[i].key, absl::StrCat("key", parts[0]));
    int index;
    ASSERT_TRUE(absl::SimpleAtoi(parts[1], &index));
    EXPECT_EQ(index, next_index[seen[i].key]++);
  }

  RecordProperty("sync_count", static_cast<int>(log_->sync_count()));
  EXPECT_GT(log_->sync_count(), 0);
  EXPECT_LT(log_->sync_count(), kTotal);
}

TEST_F(EmbeddedEventLogTest, EveryGroupIsOneSync) {
  ASSERT_TRUE(log_->Append("k", Values({"a", "b", "c"}), absl::Now() + kTimeout).ok());
  EXPECT_EQ(log_->sync_count(), 1);
  ASSERT_TRUE(log_->Append("k", Values({"d"}), absl::Now() + kTimeout).ok());
  EXPECT_EQ(log_->sync_count(), 2);
}

}  // namespace
}  // namespace crm::eventlog
