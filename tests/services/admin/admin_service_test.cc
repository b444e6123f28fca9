#include "services/admin/admin_service.h"

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/status/errors.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace crm::services::admin {
namespace {

namespace adminv1 = crm::admin::v1;
using eventlog::AppendValue;

constexpr absl::Duration kTimeout = absl::Seconds(30);

// Counts records under "<name>/"; a value starting with "bad" is undecodable (DATA_LOSS).
class TestFold : public fold::Fold {
 public:
  explicit TestFold(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  int64_t version() const override { return 1; }
  std::vector<std::string> prefixes() const override { return {name_ + "/"}; }
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override {
    if (absl::StartsWith(record.value, "bad")) return absl::DataLossError("cannot decode");
    const std::string key = name_ + "/total";
    auto current = batch.Get(key);
    if (!current.ok()) return current.status();
    int64_t n = 0;
    if (current->has_value() && !absl::SimpleAtoi(**current, &n)) {
      return absl::InternalError("bad counter");
    }
    batch.Put(key, absl::StrCat(n + 1));
    return absl::OkStatus();
  }

 private:
  const std::string name_;
};

std::string Reason(const absl::Status& s) {
  google::rpc::ErrorInfo info;
  return status::GetDetail(s, &info) ? info.reason() : "";
}

// "2026-12-04T10:00:<second>Z" (second < 60).
std::string Time(int second) {
  return absl::StrCat("2026-12-04T10:00:", second < 10 ? "0" : "", second, "Z");
}
int64_t UnixSeconds(int second) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, Time(second), &t, &error)) << error;
  return absl::ToUnixSeconds(t);
}

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("admin_service_test_", info->name(), "_", ::getpid());
    std::filesystem::remove_all(dir_);
    views_store_ = *kv::KvStore::Open((dir_ / "views").string());
    state_store_ = *kv::KvStore::Open((dir_ / "state").string());
  }
  void TearDown() override {
    if (views_) views_->Stop();
    if (state_) state_->Stop();
    std::filesystem::remove_all(dir_);
  }

  // Appends an event of `type` for `key` recorded at second `second`; `bad` values are
  // undecodable by TestFold.
  eventlog::LogPosition Append(const std::string& key, const std::string& type, int second,
                               bool bad = false) {
    auto pos = log_.Append(key,
                           {AppendValue{bad ? "bad" : absl::StrCat("ok", appended_++),
                                        {{"event-type", type}, {"ce_time", Time(second)}}}},
                           absl::Now() + kTimeout);
    EXPECT_TRUE(pos.ok()) << pos.status();
    return *pos;
  }

  void StartRunners() {
    views_ = std::make_unique<fold::FoldRunner>(
        &log_, views_store_.get(), std::vector<fold::Fold*>{&customer_views_, &analytics_},
        fold::FoldRunner::Options{.name = "views", .online_rebuild = true});
    state_ = std::make_unique<fold::FoldRunner>(&log_, state_store_.get(), &command_state_,
                                                fold::FoldRunner::Options{.name = "state"});
    ASSERT_TRUE(views_->Start().ok());
    ASSERT_TRUE(state_->Start().ok());
  }

  void AwaitEnd() {
    eventlog::PositionMap end;
    for (int32_t p = 0; p < log_.PartitionCount(); ++p) end[p] = *log_.EndOffset(p) - 1;
    ASSERT_TRUE(views_->WaitFor(end, absl::Now() + kTimeout).ok());
    ASSERT_TRUE(state_->WaitFor(end, absl::Now() + kTimeout).ok());
  }

  Admin MakeAdmin(Admin::Limits limits = {}) {
    return Admin(ProcessInfo{.binary = "crm-test",
                             .engine = "embedded",
                             .log_name = "embedded",
                             .log = &log_,
                             .writer = true,
                             .replica_index = 1,
                             .replica_count = 2,
                             .stores = {{"views", views_.get()}, {"command-state", state_.get()}},
                             .health =
                                 [] {
                                   return std::map<std::string, std::string>{{"", "SERVING"}};
                                 }},
                 limits);
  }

  // Every event ListEvents returns for `request`, page by page; the number of pages in `pages`.
  std::vector<adminv1::LogEvent> AllEvents(Admin& admin, adminv1::ListEventsRequest request,
                                           int* pages = nullptr) {
    std::vector<adminv1::LogEvent> out;
    int n = 0;
    while (true) {
      auto page = admin.ListEvents(request, {});
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      ++n;
      for (const auto& e : page->events()) out.push_back(e);
      EXPECT_FALSE(page->resume_page_token().empty());
      if (page->next_page_token().empty()) break;
      request.set_page_token(page->next_page_token());
      EXPECT_LT(n, 1000) << "no end";
      if (n >= 1000) break;
    }
    if (pages != nullptr) *pages = n;
    return out;
  }

  std::filesystem::path dir_;
  eventlog::InMemoryEventLog log_{3};
  int appended_ = 0;
  std::unique_ptr<kv::KvStore> views_store_;
  std::unique_ptr<kv::KvStore> state_store_;
  TestFold customer_views_{"customer-views"};
  TestFold analytics_{"analytics"};
  TestFold command_state_{"command-state"};
  std::unique_ptr<fold::FoldRunner> views_;
  std::unique_ptr<fold::FoldRunner> state_;
};

TEST_F(AdminTest, ListEventsFiltersAndPagesOverEveryPartition) {
  for (int i = 0; i < 30; ++i) {
    Append(absl::StrCat("c", i % 5),
           i % 3 == 0 ? "crm.events.v1.CustomerTagged" : "crm.events.v1.CustomerRegistered", i);
  }
  StartRunners();
  Admin admin = MakeAdmin();

  adminv1::ListEventsRequest all;
  all.set_page_size(7);
  int pages = 0;
  std::vector<adminv1::LogEvent> events = AllEvents(admin, all, &pages);
  EXPECT_EQ(events.size(), 30u);
  EXPECT_GE(pages, 5);
  std::set<std::pair<int32_t, int64_t>> positions;
  for (const auto& e : events) positions.insert({e.partition(), e.offset()});
  EXPECT_EQ(positions.size(), 30u);  // each once

  adminv1::ListEventsRequest one = all;
  one.set_customer_id("c2");
  events = AllEvents(admin, one);
  ASSERT_EQ(events.size(), 6u);
  for (const auto& e : events) {
    EXPECT_EQ(e.key(), "c2");
    EXPECT_TRUE(absl::StartsWith(e.value(), "ok"));
  }

  adminv1::ListEventsRequest typed = all;
  typed.add_event_types("crm.events.v1.CustomerTagged");
  typed.mutable_start_time()->set_seconds(UnixSeconds(10));
  typed.mutable_end_time()->set_seconds(typed.start_time().seconds() + 10);  // [10 s, 20 s)
  events = AllEvents(admin, typed);
  std::set<std::string> seconds;
  for (const auto& e : events) {
    EXPECT_EQ(e.event_type(), "crm.events.v1.CustomerTagged");
    seconds.insert(absl::StrCat(e.record_time().seconds() - typed.start_time().seconds()));
  }
  EXPECT_EQ(seconds, (std::set<std::string>{"2", "5", "8"}));  // i = 12, 15, 18

  // A token is tied to its filters.
  auto first = admin.ListEvents(one, {});
  ASSERT_TRUE(first.ok());
  adminv1::ListEventsRequest other = all;
  other.set_page_token(first->resume_page_token());
  auto refused = admin.ListEvents(other, {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  other.set_page_token("not a token");
  EXPECT_EQ(admin.ListEvents(other, {}).status().code(), absl::StatusCode::kInvalidArgument);
  adminv1::ListEventsRequest bad_window = all;
  bad_window.mutable_start_time()->set_seconds(100);
  bad_window.mutable_end_time()->set_seconds(50);
  EXPECT_EQ(admin.ListEvents(bad_window, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

// Following: the resume token of a page that reached the end returns what is appended later;
// start_at_end skips what is there.
TEST_F(AdminTest, ListEventsResumesAfterTheEndAndCanStartThere) {
  for (int i = 0; i < 4; ++i) Append("a", "crm.events.v1.CustomerTagged", i);
  StartRunners();
  Admin admin = MakeAdmin();
  adminv1::ListEventsRequest request;
  auto page = admin.ListEvents(request, {});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->events_size(), 4);
  EXPECT_TRUE(page->next_page_token().empty());

  adminv1::ListEventsRequest tail;
  tail.set_start_at_end(true);
  auto at_end = admin.ListEvents(tail, {});
  ASSERT_TRUE(at_end.ok());
  EXPECT_EQ(at_end->events_size(), 0);

  Append("b", "crm.events.v1.CustomerTagged", 5);
  Append("a", "crm.events.v1.CustomerTagged", 6);
  request.set_page_token(page->resume_page_token());
  auto later = admin.ListEvents(request, {});
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->events_size(), 2);
  tail.set_page_token(at_end->resume_page_token());
  auto followed = admin.ListEvents(tail, {});
  ASSERT_TRUE(followed.ok());
  EXPECT_EQ(followed->events_size(), 2);
  request.set_page_token(later->resume_page_token());
  auto nothing = admin.ListEvents(request, {});
  ASSERT_TRUE(nothing.ok());
  EXPECT_EQ(nothing->events_size(), 0);
  EXPECT_TRUE(nothing->next_page_token().empty());
}

// A filter that matches little over a long log answers in bounded reads: pages may be empty
// while more follow, and together they hold every match once.
TEST_F(AdminTest, ListEventsReadsABoundedPartOfTheLogPerCall) {
  for (int i = 0; i < 200; ++i) {
    Append(absl::StrCat("c", i % 10), i % 50 == 0 ? "crm.events.v1.Rare" : "crm.events.v1.Common",
           i % 60);
  }
  StartRunners();
  Admin admin = MakeAdmin({.max_scanned = 16, .max_read_time = absl::Seconds(10)});
  adminv1::ListEventsRequest request;
  request.add_event_types("crm.events.v1.Rare");
  int pages = 0;
  std::vector<adminv1::LogEvent> events = AllEvents(admin, request, &pages);
  EXPECT_EQ(events.size(), 4u);
  EXPECT_GE(pages, 200 / 16);
}

TEST_F(AdminTest, StatusReportsRolesPartitionsFoldsAndLag) {
  Append("a", "crm.events.v1.CustomerTagged", 1);
  Append("b", "crm.events.v1.CustomerTagged", 2, /*bad=*/true);
  StartRunners();
  AwaitEnd();
  Admin admin = MakeAdmin();
  auto status = admin.GetStatus({}, {});
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->binary(), "crm-test");
  EXPECT_EQ(std::vector<std::string>(status->roles().begin(), status->roles().end()),
            (std::vector<std::string>{"command", "query"}));
  EXPECT_EQ(status->partition_count(), 3);
  // Replica 1 of 2 writes the partitions whose writer is odd.
  EXPECT_EQ(std::vector<int32_t>(status->written_partitions().begin(),
                                 status->written_partitions().end()),
            std::vector<int32_t>{1});
  EXPECT_EQ(status->read_partitions_size(), 3);
  ASSERT_EQ(status->stores_size(), 2);
  const adminv1::StoreStatus& views = status->stores(0);
  EXPECT_EQ(views.name(), "views");
  ASSERT_EQ(views.folds_size(), 2);
  EXPECT_EQ(views.folds(0).name(), "customer-views");
  EXPECT_EQ(views.folds(0).dead_letters(), 1);
  EXPECT_FALSE(views.folds(0).refolding());
  ASSERT_EQ(views.partitions_size(), 3);
  for (const auto& p : views.partitions()) {
    EXPECT_EQ(p.lag_offsets(), 0) << p.partition();
    EXPECT_EQ(p.end_offset(), p.applied_offset() + 1) << p.partition();
  }
  EXPECT_TRUE(views.has_measure_time());
  ASSERT_EQ(status->health_size(), 1);
  EXPECT_EQ(status->health(0).status(), "SERVING");
}

TEST_F(AdminTest, RebuildFoldsOnlyViewsAndSaysWhatItStarted) {
  Append("a", "crm.events.v1.CustomerTagged", 1);
  StartRunners();
  AwaitEnd();
  Admin admin = MakeAdmin();
  adminv1::RebuildFoldsRequest request;
  auto empty = admin.RebuildFolds(request, {});
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);

  request.set_fold("nope");
  EXPECT_EQ(Reason(admin.RebuildFolds(request, {}).status()), "FOLD_NOT_FOUND");
  request.set_fold("command-state");
  auto state = admin.RebuildFolds(request, {});
  EXPECT_EQ(state.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(state.status()), "ONLINE_REBUILD_NOT_SUPPORTED");
  request.set_fold("");
  request.set_store("nope");
  EXPECT_EQ(Reason(admin.RebuildFolds(request, {}).status()), "STORE_NOT_FOUND");

  request.set_store("views");
  auto all = admin.RebuildFolds(request, {});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->folds_size(), 2);
  EXPECT_EQ(all->folds(0).name(), "customer-views");
  EXPECT_TRUE(all->folds(0).started());
  EXPECT_TRUE(all->folds(1).started());
  const absl::Time deadline = absl::Now() + kTimeout;
  while ((!views_->Serving("customer-views").ok() || !views_->Serving("analytics").ok()) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_TRUE(views_->Serving("customer-views").ok());
  auto total = views_store_->Get("customer-views/total");
  ASSERT_TRUE(total.ok() && total->has_value());
  EXPECT_EQ(**total, "1");
}

TEST_F(AdminTest, DeadLettersAreListedShownAndRetriedByName) {
  Append("a", "crm.events.v1.CustomerTagged", 1);
  const eventlog::LogPosition bad1 = Append("b", "crm.events.v1.Broken", 2, /*bad=*/true);
  Append("c", "crm.events.v1.Broken", 3, /*bad=*/true);
  StartRunners();
  AwaitEnd();
  Admin admin = MakeAdmin();

  adminv1::ListDeadLettersRequest list;
  list.set_page_size(2);
  std::vector<adminv1::DeadLetter> letters;
  while (true) {
    auto page = admin.ListDeadLetters(list, {});
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& d : page->dead_letters()) letters.push_back(d);
    if (page->next_page_token().empty()) break;
    list.set_page_token(page->next_page_token());
  }
  // Two per fold, three folds, in fold name order.
  ASSERT_EQ(letters.size(), 6u);
  EXPECT_EQ(letters[0].fold(), "analytics");
  EXPECT_EQ(letters[2].fold(), "command-state");
  EXPECT_EQ(letters[4].fold(), "customer-views");
  for (const auto& d : letters) {
    EXPECT_EQ(d.event_type(), "crm.events.v1.Broken");
    EXPECT_EQ(d.error(), "cannot decode");
    EXPECT_TRUE(d.value().empty());  // listed without values
    EXPECT_EQ(d.name(),
              absl::StrCat("folds/", d.fold(), "/deadLetters/", d.partition(), "-", d.offset()));
  }
  adminv1::ListDeadLettersRequest one;
  one.set_parent("folds/customer-views");
  auto only = admin.ListDeadLetters(one, {});
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(only->dead_letters_size(), 2);
  one.set_parent("folds/nope");
  EXPECT_EQ(Reason(admin.ListDeadLetters(one, {}).status()), "FOLD_NOT_FOUND");
  one.set_parent("nope");
  EXPECT_EQ(admin.ListDeadLetters(one, {}).status().code(), absl::StatusCode::kInvalidArgument);

  adminv1::GetDeadLetterRequest get;
  get.set_name(absl::StrCat("folds/customer-views/deadLetters/", bad1.partition, "-", bad1.offset));
  auto shown = admin.GetDeadLetter(get, {});
  ASSERT_TRUE(shown.ok()) << shown.status();
  EXPECT_EQ(shown->value(), "bad");
  EXPECT_EQ(shown->key(), "b");
  ASSERT_EQ(shown->headers_size(), 2);
  EXPECT_EQ(shown->headers(1).name(), "ce_time");
  get.set_name("folds/customer-views/deadLetters/0-999");
  EXPECT_EQ(Reason(admin.GetDeadLetter(get, {}).status()), "DEAD_LETTER_NOT_FOUND");
  get.set_name("folds/customer-views/deadLetters/zero");
  EXPECT_EQ(admin.GetDeadLetter(get, {}).status().code(), absl::StatusCode::kInvalidArgument);

  adminv1::RetryDeadLetterRequest retry;
  retry.set_name(shown->name());
  auto still = admin.RetryDeadLetter(retry, {});
  EXPECT_EQ(still.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(still.status()), "DEAD_LETTER_STILL_FAILS");
  retry.set_name("folds/customer-views/deadLetters/0-999");
  EXPECT_EQ(Reason(admin.RetryDeadLetter(retry, {}).status()), "DEAD_LETTER_NOT_FOUND");
}

}  // namespace
}  // namespace crm::services::admin
