#include "apps/runtime/monitor.h"

#include <filesystem>
#include <memory>

#include "absl/synchronization/notification.h"
#include "common/base/clock.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/kv/kv_store.h"
#include "gtest/gtest.h"

namespace crm::runtime {
namespace {

using grpc::health::v1::HealthCheckResponse;

// A log whose writer cannot write (as KafkaEventLog says when the brokers are unreachable);
// everything else is an InMemoryEventLog's.
class CutOffLog : public eventlog::EventLog {
 public:
  int32_t PartitionCount() const override { return log_.PartitionCount(); }
  absl::StatusOr<eventlog::LogPosition> Append(absl::string_view key,
                                               std::vector<eventlog::AppendValue> values,
                                               absl::Time deadline) override {
    return log_.Append(key, std::move(values), deadline);
  }
  absl::StatusOr<std::unique_ptr<eventlog::LogReader>> NewReader(
      const std::map<int32_t, int64_t>& start) override {
    return log_.NewReader(start);
  }
  absl::StatusOr<int64_t> EndOffset(int32_t partition) override {
    return log_.EndOffset(partition);
  }
  int32_t PartitionOf(absl::string_view key) const override { return log_.PartitionOf(key); }
  absl::Status WriterStatus() const override {
    return cut_off ? absl::UnavailableError("the Kafka brokers cannot be reached")
                   : absl::OkStatus();
  }
  bool cut_off = false;

 private:
  eventlog::InMemoryEventLog log_;
};

// A fold that never applies anything: its runner falls behind everything appended.
class StuckFold : public fold::Fold {
 public:
  std::string name() const override { return "stuck"; }
  int64_t version() const override { return 1; }
  std::vector<std::string> prefixes() const override { return {""}; }
  absl::Status Apply(const eventlog::LogRecord&, kv::KvBatch&) override {
    return absl::UnavailableError("cannot apply");
  }
};

TEST(MonitorTest, LivenessFailsOnlyWhileACallWaitsLongerThanTheBound) {
  base::FakeClock clock;
  rpc::Executor pool(1, 10, absl::InfiniteDuration(), &clock);
  eventlog::InMemoryEventLog log;
  rpc::HealthService health;
  Monitor monitor(
      &log, /*writer=*/false, {}, &health, {},
      {.interval = absl::Hours(1), .stalled_after = absl::Seconds(60), .executors = {&pool}});
  monitor.Start();
  EXPECT_EQ(health.StatusOf("liveness"), HealthCheckResponse::SERVING);

  absl::Notification release, started, second_ran;
  ASSERT_TRUE(pool.TrySubmit([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  ASSERT_TRUE(pool.TrySubmit([&] { second_ran.Notify(); }));  // queued behind the stuck one
  clock.Advance(absl::Seconds(30));
  monitor.MeasureOnce();
  EXPECT_EQ(health.StatusOf("liveness"), HealthCheckResponse::SERVING);
  clock.Advance(absl::Seconds(31));
  monitor.MeasureOnce();
  EXPECT_EQ(health.StatusOf("liveness"), HealthCheckResponse::NOT_SERVING);
  // Readiness does not follow liveness.
  EXPECT_EQ(health.StatusOf(""), HealthCheckResponse::SERVING);

  release.Notify();
  second_ran.WaitForNotification();
  monitor.MeasureOnce();
  EXPECT_EQ(health.StatusOf("liveness"), HealthCheckResponse::SERVING);
  monitor.Stop();
  pool.Stop();
}

TEST(MonitorTest, AWriterThatCannotWriteIsNotReadyUntilItCan) {
  CutOffLog log;
  rpc::HealthService health;
  Monitor monitor(&log, /*writer=*/true, {}, &health, {"crm.v1.CustomerCommandService"},
                  {.interval = absl::Hours(1)});
  monitor.Start();
  EXPECT_EQ(health.StatusOf(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(monitor.NotReadyReason(), "");

  log.cut_off = true;
  monitor.MeasureOnce();
  EXPECT_EQ(health.StatusOf(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(health.StatusOf("crm.v1.CustomerCommandService"), HealthCheckResponse::NOT_SERVING);
  EXPECT_NE(monitor.NotReadyReason().find("cannot be reached"), std::string::npos);

  log.cut_off = false;
  monitor.MeasureOnce();
  EXPECT_EQ(health.StatusOf(""), HealthCheckResponse::SERVING);
  monitor.Stop();
}

TEST(MonitorTest, AReaderIsNotReadyOnceKnownToBeBehindTheBound) {
  const std::string dir = ::testing::TempDir() + "/monitor_test_lag";
  std::filesystem::remove_all(dir);
  auto store = kv::KvStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  eventlog::InMemoryEventLog log;
  StuckFold fold;
  fold::FoldRunner runner(&log, store->get(), &fold, {.name = "views"});
  ASSERT_TRUE(runner.Start().ok());
  rpc::HealthService health;
  Monitor monitor(&log, /*writer=*/false, {{"views", &runner, dir}}, &health, {},
                  {.interval = absl::Hours(1), .max_lag = absl::Nanoseconds(1)});
  monitor.Start();
  EXPECT_EQ(health.StatusOf(""), HealthCheckResponse::SERVING);  // nothing to apply yet

  ASSERT_TRUE(log.Append("c1", {{"1"}}, absl::InfiniteFuture()).ok());
  monitor.MeasureOnce();  // sees the record; it has been unapplied for no time yet
  monitor.MeasureOnce();  // now for longer than the bound
  EXPECT_EQ(health.StatusOf(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_NE(monitor.NotReadyReason().find("views are 1 offsets"), std::string::npos)
      << monitor.NotReadyReason();
  fold::FoldRunner::Progress progress = runner.LastProgress();
  ASSERT_EQ(progress.partitions.size(), 1u);
  EXPECT_EQ(progress.partitions[0].lag, 1);
  EXPECT_GT(progress.partitions[0].lag_time, absl::ZeroDuration());
  monitor.Stop();
  runner.Stop();
}

}  // namespace
}  // namespace crm::runtime
