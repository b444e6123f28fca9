#include "common/eventlog/in_memory_event_log.h"

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace crm::eventlog {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);

std::vector<AppendValue> Values(std::initializer_list<std::string> values) {
  std::vector<AppendValue> out;
  for (const std::string& v : values) out.push_back(AppendValue{v, {}});
  return out;
}

TEST(InMemoryEventLogTest, PartitionIsFnv1aOfKey) {
  // FNV-1a 64 of "" is the offset basis; of "a" it is 0xaf63dc4c8601ec8c.
  EXPECT_EQ(PartitionForKey("", 1000), static_cast<int32_t>(14695981039346656037ull % 1000));
  EXPECT_EQ(PartitionForKey("a", 1000), static_cast<int32_t>(0xaf63dc4c8601ec8cull % 1000));
  EXPECT_EQ(PartitionForKey("anything", 1), 0);
}

TEST(InMemoryEventLogTest, KeysLandInTheirPartitionInOrder) {
  InMemoryEventLog log(4);
  EXPECT_EQ(log.PartitionCount(), 4);
  std::map<int32_t, int64_t> expected_end;
  for (int i = 0; i < 20; ++i) {
    const std::string key = absl::StrCat("customer-", i % 5);
    auto pos = log.Append(key, Values({absl::StrCat(i)}), absl::Now() + kTimeout);
    ASSERT_TRUE(pos.ok());
    EXPECT_EQ(pos->partition, PartitionForKey(key, 4));
    EXPECT_EQ(pos->offset, expected_end[pos->partition]++);
  }
  std::map<int32_t, int64_t> start;
  for (int32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(*log.EndOffset(p), expected_end[p]);
    start[p] = 0;
  }
  auto reader = log.NewReader(start);
  ASSERT_TRUE(reader.ok());
  std::vector<LogRecord> all;
  while (all.size() < 20) {
    auto batch = (*reader)->Poll(3, absl::Now() + kTimeout);
    ASSERT_TRUE(batch.ok());
    ASSERT_FALSE(batch->empty());
    EXPECT_LE(batch->size(), 3u);
    all.insert(all.end(), batch->begin(), batch->end());
  }
  std::map<std::string, int> last_value;
  std::map<int32_t, int64_t> next_offset;
  for (const LogRecord& r : all) {
    EXPECT_EQ(r.position.offset, next_offset[r.position.partition]++);
    const int value = std::stoi(r.value);
    auto it = last_value.find(r.key);
    if (it != last_value.end()) {
      EXPECT_LT(it->second, value);
    }
    last_value[r.key] = value;
  }
}

TEST(InMemoryEventLogTest, MultiValueAppendIsContiguous) {
  InMemoryEventLog log;
  auto pos = log.Append("k", Values({"a", "b", "c"}), absl::Now() + kTimeout);
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(*pos, (LogPosition{0, 2}));
}

TEST(InMemoryEventLogTest, RejectsBadInput) {
  InMemoryEventLog log(2);
  EXPECT_EQ(log.Append("k", {}, absl::Now() + kTimeout).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<AppendValue> big(1);
  big[0].value.assign(InMemoryEventLog::kMaxValueBytes + 1, 'x');
  EXPECT_EQ(log.Append("k", std::move(big), absl::Now() + kTimeout).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log.NewReader({{2, 0}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log.NewReader({{0, -1}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log.EndOffset(-1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(InMemoryEventLogTest, ReaderWakesOnAppend) {
  InMemoryEventLog log;
  auto reader = log.NewReader({{0, 0}});
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<std::vector<LogRecord>> polled;
  std::thread poller([&] { polled = (*reader)->Poll(10, absl::Now() + kTimeout); });
  ASSERT_TRUE(log.Append("k", Values({"x"}), absl::Now() + kTimeout).ok());
  poller.join();
  ASSERT_TRUE(polled.ok());
  ASSERT_EQ(polled->size(), 1u);
  EXPECT_EQ((*polled)[0].value, "x");
}

TEST(InMemoryEventLogTest, CloseWakesBlockedPoll) {
  InMemoryEventLog log;
  auto reader = log.NewReader({{0, 0}});
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<std::vector<LogRecord>> polled;
  std::thread poller([&] { polled = (*reader)->Poll(10, absl::Now() + kTimeout); });
  (*reader)->Close();
  poller.join();
  EXPECT_EQ(polled.status().code(), absl::StatusCode::kCancelled);
}

TEST(InMemoryEventLogTest, PollReturnsEmptyAtDeadline) {
  InMemoryEventLog log;
  auto reader = log.NewReader({{0, 0}});
  ASSERT_TRUE(reader.ok());
  auto polled = (*reader)->Poll(10, absl::Now() + absl::Milliseconds(10));
  ASSERT_TRUE(polled.ok());
  EXPECT_TRUE(polled->empty());
}

TEST(InMemoryEventLogTest, KeepsHeaders) {
  InMemoryEventLog log;
  AppendValue v{"value", {{"h", "1"}}};
  ASSERT_TRUE(log.Append("k", {v}, absl::Now() + kTimeout).ok());
  auto reader = log.NewReader({{0, 0}});
  auto polled = (*reader)->Poll(10, absl::Now() + kTimeout);
  ASSERT_TRUE(polled.ok());
  ASSERT_EQ(polled->size(), 1u);
  EXPECT_EQ((*polled)[0].headers, v.headers);
}

}  // namespace
}  // namespace crm::eventlog
