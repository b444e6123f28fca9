#include "common/rpc/executor.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "common/base/clock.h"
#include "gtest/gtest.h"

namespace crm::rpc {
namespace {

// One worker held busy until `release` is notified, so tasks stay queued.
struct BusyExecutor {
  explicit BusyExecutor(size_t max_queued, absl::Duration max_queue_delay)
      : executor(1, max_queued, max_queue_delay, &clock) {
    EXPECT_TRUE(executor.TrySubmit([this] {
      started.Notify();
      release.WaitForNotification();
    }));
    started.WaitForNotification();
  }
  ~BusyExecutor() {
    if (!release.HasBeenNotified()) release.Notify();
    executor.Stop();
  }
  base::FakeClock clock;
  absl::Notification started;
  absl::Notification release;
  Executor executor;
};

TEST(ExecutorTest, AFullQueueRefusesNewWork) {
  BusyExecutor busy(2, absl::InfiniteDuration());
  std::atomic<int> ran{0};
  EXPECT_TRUE(busy.executor.TrySubmit([&] { ++ran; }));
  EXPECT_TRUE(busy.executor.TrySubmit([&] { ++ran; }));
  EXPECT_FALSE(busy.executor.TrySubmit([&] { ++ran; }));
  busy.release.Notify();
  busy.executor.Stop();
  EXPECT_EQ(ran.load(), 2);
}

TEST(ExecutorTest, WorkIsRefusedWhileTheOldestQueuedTaskHasWaitedTooLong) {
  BusyExecutor busy(100, absl::Milliseconds(500));
  std::atomic<int> ran{0};
  EXPECT_TRUE(busy.executor.TrySubmit([&] { ++ran; }));
  busy.clock.Advance(absl::Milliseconds(400));
  EXPECT_TRUE(busy.executor.TrySubmit([&] { ++ran; })) << "the oldest has waited 400 ms";
  busy.clock.Advance(absl::Milliseconds(200));
  EXPECT_FALSE(busy.executor.TrySubmit([&] { ++ran; })) << "the oldest has waited 600 ms";
  // Continuations of admitted work are never refused.
  busy.executor.Submit([&] { ++ran; });
  busy.release.Notify();
  busy.executor.Stop();
  EXPECT_EQ(ran.load(), 3);
}

TEST(ExecutorTest, OldestWaitIsTheAgeOfTheOldestQueuedTask) {
  BusyExecutor busy(100, absl::InfiniteDuration());
  EXPECT_EQ(busy.executor.OldestWait(), absl::ZeroDuration());
  EXPECT_TRUE(busy.executor.TrySubmit([] {}));
  busy.clock.Advance(absl::Seconds(3));
  EXPECT_TRUE(busy.executor.TrySubmit([] {}));
  busy.clock.Advance(absl::Seconds(2));
  EXPECT_EQ(busy.executor.OldestWait(), absl::Seconds(5));
}

TEST(ExecutorTest, AnEmptyQueueAdmitsWhateverTheLastWaitWas) {
  BusyExecutor busy(100, absl::Milliseconds(500));
  busy.clock.Advance(absl::Seconds(10));  // the running task's age does not count
  std::atomic<int> ran{0};
  EXPECT_TRUE(busy.executor.TrySubmit([&] { ++ran; }));
  busy.release.Notify();
  busy.executor.Stop();
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace crm::rpc
