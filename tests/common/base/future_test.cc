#include "common/base/future.h"

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace crm::base {
namespace {

Future<int> Parse(const std::string& s) {
  if (s.empty()) return absl::InvalidArgumentError("empty");
  return static_cast<int>(s.size());
}

TEST(FutureTest, ReadyValuesAndErrors) {
  EXPECT_EQ(*Parse("abc").Get(), 3);
  EXPECT_TRUE(absl::IsInvalidArgument(Parse("").Get().status()));
  Future<int> from_status_or = absl::StatusOr<int>(7);
  EXPECT_EQ(*std::move(from_status_or).Get(), 7);
}

TEST(FutureTest, ContinuationRunsOnTheSettersThread) {
  Promise<int> promise;
  Future<std::string> chained = promise.future().Then([](int v) { return std::to_string(v * 2); });
  std::thread::id ran_on;
  std::string got;
  std::move(chained).OnReady([&](absl::StatusOr<std::string> r) {
    ran_on = std::this_thread::get_id();
    got = *r;
  });
  EXPECT_TRUE(got.empty());  // not yet set
  std::thread setter([&] { promise.Set(21); });
  const std::thread::id setter_id = setter.get_id();
  setter.join();
  EXPECT_EQ(got, "42");
  EXPECT_EQ(ran_on, setter_id);
}

TEST(FutureTest, ThenFlattensFuturesAndSkipsOnError) {
  Promise<int> inner;
  Future<int> inner_future = inner.future();
  bool called = false;
  Future<int> flat = Future<int>(1).Then([&](int) {
    called = true;
    return std::move(inner_future);
  });
  inner.Set(absl::StatusOr<int>(5));
  EXPECT_TRUE(called);
  EXPECT_EQ(*std::move(flat).Get(), 5);

  bool skipped = true;
  Future<int> failed = Future<int>(absl::NotFoundError("x")).Then([&](int v) {
    skipped = false;
    return absl::StatusOr<int>(v);
  });
  EXPECT_TRUE(absl::IsNotFound(std::move(failed).Get().status()));
  EXPECT_TRUE(skipped);
}

TEST(FutureTest, AbandonedPromiseDeliversAnError) {
  Future<int> orphan = [] {
    Promise<int> promise;
    return promise.future();
  }();
  EXPECT_TRUE(absl::IsInternal(std::move(orphan).Get().status()));
}

TEST(FutureTest, FirstSetWins) {
  Promise<int> promise;
  Future<int> f = promise.future();
  promise.Set(1);
  promise.Set(2);
  EXPECT_EQ(*std::move(f).Get(), 1);
}

}  // namespace
}  // namespace crm::base
