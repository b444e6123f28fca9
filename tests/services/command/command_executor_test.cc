#include "services/command/command_executor.h"

#include <deque>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/uuid.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/kv/kv_store.h"
#include "crm/v1/org.pb.h"
#include "gtest/gtest.h"
#include "services/command/aggregate_state.h"
#include "tests/common/eventlog/forwarding_event_log.h"

namespace crm::services::command {
namespace {

using crm::v1::Department;

// A toy kind: departments, with an index of display names under "dn/".
const TypedKind<Department>& TestKind() {
  static const auto* kind = new TypedKind<Department>(
      [](const Event& e) { return e.has_department_created() || e.has_department_updated(); },
      [](Department& d, const Event& e) -> absl::Status {
        if (e.aggregate_version() != d.version() + 1) {
          return absl::FailedPreconditionError("version gap");
        }
        if (e.has_department_created()) {
          d.set_display_name(e.department_created().department().display_name());
        }
        if (e.has_department_updated()) {
          d.set_display_name(e.department_updated().department().display_name());
        }
        d.set_name(e.aggregate());
        d.set_version(e.aggregate_version());
        return absl::OkStatus();
      },
      [](absl::string_view aggregate, const Department* before, const Department& after,
         const command::Event& event, kv::KvBatch& batch) -> absl::Status {
        if (before != nullptr) batch.Delete(absl::StrCat("dn/", before->display_name()));
        batch.Put(absl::StrCat("dn/", after.display_name()), std::string(aggregate));
        return absl::OkStatus();
      });
  return *kind;
}

Event Created(const std::string& display_name) {
  Event e;
  e.mutable_department_created()->mutable_department()->set_display_name(display_name);
  return e;
}

Event Renamed(const std::string& display_name) {
  Event e;
  e.mutable_department_updated()->add_changed_paths("display_name");
  e.mutable_department_updated()->mutable_department()->set_display_name(display_name);
  return e;
}

// The in-memory log, except that while the gate is shut, AppendAsync only queues: the future of
// an append completes when Open() makes it. So a test can see how many commands wait for the log
// at once.
class GatedLog final : public eventlog::testing::ForwardingEventLog {
 public:
  base::Future<eventlog::LogPosition> AppendAsync(absl::string_view key,
                                                  std::vector<eventlog::AppendValue> values,
                                                  absl::Time deadline) override {
    absl::MutexLock lock(&mu_);
    if (open_) return Append(key, std::move(values), deadline);
    waiting_.push_back({std::string(key), std::move(values), {}});
    return waiting_.back().promise.future();
  }
  void Shut() {
    absl::MutexLock lock(&mu_);
    open_ = false;
  }
  size_t waiting() {
    absl::MutexLock lock(&mu_);
    return waiting_.size();
  }
  void Open() {
    std::deque<Waiting> now;
    {
      absl::MutexLock lock(&mu_);
      open_ = true;
      now.swap(waiting_);
    }
    for (Waiting& w : now) {
      w.promise.Set(Append(w.key, std::move(w.values), absl::InfiniteFuture()));
    }
  }

 private:
  struct Waiting {
    std::string key;
    std::vector<eventlog::AppendValue> values;
    base::Promise<eventlog::LogPosition> promise;
  };
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  std::deque<Waiting> waiting_ ABSL_GUARDED_BY(mu_);
};

class CommandExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("executor-" + base::NewUuid());
    store_ = *kv::KvStore::Open(dir_.string());
    runner_ = std::make_unique<fold::FoldRunner>(&log_, store_.get(), &fold_,
                                                 fold::FoldRunner::Options{.name = "test"});
    ASSERT_TRUE(runner_->CatchUp().ok());
    ASSERT_TRUE(runner_->Start().ok());
    state_ = std::make_unique<AggregateState>(store_.get());
    executor_ = std::make_unique<CommandExecutor>(&log_, runner_.get(), state_.get(), &clock_,
                                                  CommandExecutor::Options{});
    call_.actor = "tester";
  }
  void TearDown() override {
    executor_.reset();
    runner_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  absl::StatusOr<CommandResult<Department>> Run(const std::string& id,
                                                const std::string& request_id, Event event) {
    return Start(id, request_id, std::move(event)).Get();
  }
  // Runs the command up to its append; the future completes once its events are in the state.
  base::Future<CommandResult<Department>> Start(const std::string& id,
                                                const std::string& request_id, Event event) {
    const Target target{.stream_key = kOrgStreamKey, .aggregate = "departments/" + id};
    return executor_->Execute<Department>(
        target, request_id, call_, TestKind(),
        [&](const Department& current, int64_t version,
            absl::Time now) -> absl::StatusOr<std::vector<Event>> {
          if (event.has_department_created() && version != 0) {
            return absl::AlreadyExistsError("exists");
          }
          if (event.has_department_updated() &&
              current.display_name() == event.department_updated().department().display_name()) {
            return std::vector<Event>{};
          }
          return std::vector<Event>{event};
        });
  }

  std::vector<Event> ReadAll() {
    auto reader = log_.NewReader({{0, 0}});
    std::vector<Event> out;
    while (static_cast<int64_t>(out.size()) < *log_.EndOffset(0)) {
      auto records = (*reader)->Poll(100, absl::Now() + absl::Seconds(5));
      if (!records.ok() || records->empty()) break;
      for (const auto& r : *records) {
        Event e;
        EXPECT_TRUE(e.ParseFromString(r.value));
        EXPECT_EQ(r.key, kOrgStreamKey);
        out.push_back(e);
      }
    }
    return out;
  }

  std::filesystem::path dir_;
  base::FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  GatedLog log_;
  AggregateStateFold fold_{{&TestKind()}};
  std::unique_ptr<kv::KvStore> store_;
  std::unique_ptr<fold::FoldRunner> runner_;
  std::unique_ptr<AggregateState> state_;
  std::unique_ptr<CommandExecutor> executor_;
  rpc::CallContext call_;
};

TEST_F(CommandExecutorTest, StampsEventsAndAnswersWithTheNewState) {
  auto created = Run("sales", "req-1", Created("Sales"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->state.name(), "departments/sales");
  EXPECT_EQ(created->state.version(), 1);
  EXPECT_EQ(created->appended_event_count, 1);
  EXPECT_FALSE(created->consistency_token.empty());

  auto events = ReadAll();
  ASSERT_EQ(events.size(), 1u);
  const Event& e = events[0];
  EXPECT_TRUE(base::IsUuid(e.event_id()));
  EXPECT_EQ(e.aggregate(), "departments/sales");
  EXPECT_EQ(e.aggregate_version(), 1);
  EXPECT_EQ(e.customer_id(), "");
  EXPECT_EQ(e.event_type(), "crm.events.v1.DepartmentCreated");
  EXPECT_EQ(e.schema_version(), 1);
  EXPECT_EQ(e.actor(), "tester");
  EXPECT_EQ(e.request_id(), "req-1");
  EXPECT_EQ(e.recorded_at().seconds(), 1'800'000'000);
  EXPECT_EQ(e.occurred_at().seconds(), 1'800'000'000);
  EXPECT_EQ(e.correlation_id(), e.causation_id());

  auto stored = state_->Get<Department>("departments/sales");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->version, 1);
  EXPECT_EQ(stored->state.display_name(), "Sales");
  EXPECT_EQ(*store_->Get("dn/Sales"), "departments/sales");
}

TEST_F(CommandExecutorTest, RetriedRequestIdReturnsTheFirstAnswerAndAppendsNothing) {
  ASSERT_TRUE(Run("sales", "req-1", Created("Sales")).ok());
  ASSERT_TRUE(Run("sales", "req-2", Renamed("Sales & Marketing")).ok());
  auto retried = Run("sales", "req-1", Created("Sales"));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->state.version(), 1);
  EXPECT_EQ(retried->state.display_name(), "Sales");
  EXPECT_EQ(retried->appended_event_count, 1);  // as the first call answered
  EXPECT_EQ(ReadAll().size(), 2u);
}

TEST_F(CommandExecutorTest, RequestIdReusedForAnotherAggregateIsRefused) {
  ASSERT_TRUE(Run("sales", "req-1", Created("Sales")).ok());
  auto reused = Run("service", "req-1", Created("Service"));
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadAll().size(), 1u);
}

TEST_F(CommandExecutorTest, RequestIdReusedForAnotherRequestOnTheSameAggregateIsRefused) {
  call_.request_digest = "digest-of-create";
  ASSERT_TRUE(Run("sales", "req-1", Created("Sales")).ok());
  call_.request_digest = "digest-of-rename";
  auto reused = Run("sales", "req-1", Renamed("Sales & Marketing"));
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kAlreadyExists);
  // The same request again (same digest) is a retry.
  call_.request_digest = "digest-of-create";
  auto retried = Run("sales", "req-1", Created("Sales"));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->appended_event_count, 1);
  EXPECT_EQ(ReadAll().size(), 1u);
  EXPECT_EQ(ReadAll()[0].request_digest(), "digest-of-create");
}

TEST_F(CommandExecutorTest, NoChangeAppendsNothingAndKeepsTheToken) {
  auto created = Run("sales", "", Created("Sales"));
  ASSERT_TRUE(created.ok());
  auto same = Run("sales", "", Renamed("Sales"));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->appended_event_count, 0);
  EXPECT_EQ(same->consistency_token, created->consistency_token);
  EXPECT_EQ(ReadAll().size(), 1u);
}

TEST_F(CommandExecutorTest, RefusalAppendsNothing) {
  ASSERT_TRUE(Run("sales", "", Created("Sales")).ok());
  EXPECT_EQ(Run("sales", "", Created("Again")).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadAll().size(), 1u);
}

TEST_F(CommandExecutorTest, IndexFollowsTheState) {
  ASSERT_TRUE(Run("sales", "", Created("Sales")).ok());
  ASSERT_TRUE(Run("sales", "", Renamed("Revenue")).ok());
  EXPECT_FALSE(store_->Get("dn/Sales")->has_value());
  EXPECT_EQ(*store_->Get("dn/Revenue"), "departments/sales");
}

TEST_F(CommandExecutorTest, FoldIgnoresOtherKindsAndReplays) {
  ASSERT_TRUE(Run("sales", "req-1", Created("Sales")).ok());
  auto events = ReadAll();
  kv::KvBatch batch = store_->NewBatch();
  // A replayed event is skipped; a customer event belongs to another fold.
  eventlog::LogRecord replay{
      .position = {0, 0}, .key = "org", .value = events[0].SerializeAsString()};
  ASSERT_TRUE(fold_.Apply(replay, batch).ok());
  Event customer;
  customer.set_customer_id("c1");
  customer.set_aggregate_version(1);
  customer.mutable_customer_tagged()->set_tag("vip");
  eventlog::LogRecord other{.position = {0, 1}, .key = "c1", .value = customer.SerializeAsString()};
  ASSERT_TRUE(fold_.Apply(other, batch).ok());
  ASSERT_TRUE(store_->Write(batch).ok());
  auto stored = state_->Get<Department>("departments/sales");
  EXPECT_EQ(stored->version, 1);
}

TEST_F(CommandExecutorTest, VersionGapIsDataLoss) {
  Event e = Created("Sales");
  e.set_aggregate("departments/sales");
  e.set_aggregate_version(2);
  kv::KvBatch batch = store_->NewBatch();
  eventlog::LogRecord r{.position = {0, 0}, .key = "org", .value = e.SerializeAsString()};
  EXPECT_EQ(fold_.Apply(r, batch).code(), absl::StatusCode::kDataLoss);
}

TEST_F(CommandExecutorTest, CommandsWaitForTheLogWithoutHoldingTheCallersThread) {
  log_.Shut();
  // One thread starts three commands: each returns once it has decided and queued its append.
  auto a = Start("a", "req-a", Created("A"));
  auto b = Start("b", "req-b", Created("B"));
  auto c = Start("c", "", Created("C"));
  EXPECT_EQ(log_.waiting(), 3u);
  log_.Open();
  for (auto* f : {&a, &b, &c}) {
    absl::StatusOr<CommandResult<Department>> done = std::move(*f).Get();
    ASSERT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(done->appended_event_count, 1);
    EXPECT_EQ(done->state.version(), 1);
  }
  // The next command on an aggregate decides on the state that has the earlier events.
  auto renamed = Run("a", "req-a2", Renamed("A2"));
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_EQ(renamed->state.version(), 2);
}

// ExecuteLinked: two departments renamed by one command (the toy kind stands in for the two
// customers of a merge).
class LinkedTest : public CommandExecutorTest {
 protected:
  void SetUp() override {
    CommandExecutorTest::SetUp();
    ASSERT_TRUE(Run("a", "", Created("A")).ok());
    ASSERT_TRUE(Run("b", "", Created("B")).ok());
  }
  absl::StatusOr<CommandExecutor::LinkedResult> Link(const std::string& request_id,
                                                     bool dry_run = false,
                                                     std::vector<bool>* retries = nullptr,
                                                     bool b_written_elsewhere = false) {
    const std::vector<Target> targets = {
        {.stream_key = kOrgStreamKey, .aggregate = "departments/a"},
        {.stream_key = kOrgStreamKey,
         .aggregate = "departments/b",
         .written_elsewhere = b_written_elsewhere}};
    return executor_->ExecuteLinked(
        targets, request_id, call_, TestKind(), dry_run,
        [&](const std::vector<std::string>& states, const std::vector<int64_t>& versions,
            bool retry, absl::Time) -> absl::StatusOr<std::vector<std::vector<Event>>> {
          if (retries != nullptr) retries->push_back(retry);
          Department a;
          EXPECT_TRUE(a.ParseFromString(states[0]));
          std::vector<std::vector<Event>> out(2);
          if (a.display_name() != "A-linked") out[0].push_back(Renamed("A-linked"));
          out[1].push_back(Renamed(absl::StrCat("B-", versions[1])));
          if (retry) out[1].clear();  // done already
          return out;
        });
  }
};

TEST_F(LinkedTest, AppendsEachTargetsEventsInOrderAsOneCommand) {
  auto linked = Link("req-link");
  ASSERT_TRUE(linked.ok()) << linked.status();
  EXPECT_EQ(linked->appended_event_count, 2);
  EXPECT_FALSE(linked->retry);
  auto events = ReadAll();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[2].aggregate(), "departments/a");
  EXPECT_EQ(events[3].aggregate(), "departments/b");
  EXPECT_EQ(events[2].causation_id(), events[3].causation_id());
  EXPECT_EQ(events[3].request_id(), "req-link");
  auto b = state_->Get<Department>("departments/b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->state.display_name(), "B-1");
  EXPECT_EQ(linked->versions, (std::vector<int64_t>{2, 2}));
}

TEST_F(LinkedTest, ADryRunAppendsNothingAndRecordsNoRequestId) {
  auto dry = Link("req-dry", /*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->appended_event_count, 0);
  Department a;
  ASSERT_TRUE(a.ParseFromString(dry->states[0]));
  EXPECT_EQ(a.display_name(), "A-linked");  // as it would be
  EXPECT_EQ(ReadAll().size(), 2u);
  std::vector<bool> retries;
  ASSERT_TRUE(Link("req-dry", false, &retries).ok());
  EXPECT_EQ(retries, std::vector<bool>{false});
}

TEST_F(LinkedTest, ARetryDecidesAgainAndAppendsOnlyWhatIsLeft) {
  ASSERT_TRUE(Link("req-link").ok());
  std::vector<bool> retries;
  auto again = Link("req-link", false, &retries);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(retries, std::vector<bool>{true});
  EXPECT_TRUE(again->retry);
  EXPECT_EQ(again->appended_event_count, 0);
  EXPECT_EQ(ReadAll().size(), 4u);
}

TEST_F(LinkedTest, ATargetWrittenElsewhereIsDecidedOnButNotAppended) {
  // Another replica writes departments/b (a merge's survivor there, its merged customer here):
  // the decision sees b, the answer shows b as the decision leaves it, only a's event is
  // appended.
  auto linked = Link("req-half", false, nullptr, /*b_written_elsewhere=*/true);
  ASSERT_TRUE(linked.ok()) << linked.status();
  EXPECT_EQ(linked->appended_event_count, 1);
  auto events = ReadAll();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].aggregate(), "departments/a");
  Department b_after;
  ASSERT_TRUE(b_after.ParseFromString(linked->states[1]));
  EXPECT_EQ(b_after.display_name(), "B-1");
  auto b = state_->Get<Department>("departments/b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->state.display_name(), "B");
  EXPECT_EQ(b->version, 1);
}

TEST_F(LinkedTest, ARequestIdOfAnotherAggregateIsRefused) {
  ASSERT_TRUE(Run("c", "req-c", Created("C")).ok());
  auto linked = Link("req-c");
  EXPECT_EQ(linked.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadAll().size(), 3u);
}

TEST(EventHeadersTest, SubjectIsTheAggregate) {
  Event e;
  e.set_aggregate("customers/c1/complaints/k1");
  e.set_customer_id("c1");
  e.set_event_type("crm.events.v1.ComplaintFiled");
  bool found = false;
  for (const auto& [k, v] : EventHeaders(e, "src")) {
    if (k == "ce_subject") {
      EXPECT_EQ(v, "customers/c1/complaints/k1");
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace crm::services::command
