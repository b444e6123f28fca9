// A command side for complaint tests: an in-memory log (optionally failing appends), a RocksDB
// command-state store in a temp directory folded by a live FoldRunner (customer state + the
// aggregate kinds: complaints and staff), the CommandExecutor on a FakeClock, and the
// ComplaintCommandHandler. Restart() closes and reopens everything but the log and the store's
// directory, as a process restart would.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/uuid.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/org/event_codec.h"
#include "domain/org/org_aggregate.h"
#include "gtest/gtest.h"
#include "services/command/aggregate_state.h"
#include "services/command/command_executor.h"
#include "services/complaint/complaint_command_handler.h"
#include "services/complaint/complaint_kind.h"
#include "services/customer/customer_kind.h"
#include "tests/common/eventlog/forwarding_event_log.h"

namespace crm::services::complaint::testing {

using crm::events::v1::EventEnvelope;

// An EventLog whose next `fail_appends` appends fail with UNAVAILABLE (appending nothing).
class FlakyLog final : public eventlog::testing::ForwardingEventLog {
 public:
  explicit FlakyLog(int32_t partitions) : ForwardingEventLog(partitions) {}
  absl::StatusOr<eventlog::LogPosition> Append(absl::string_view key,
                                               std::vector<eventlog::AppendValue> values,
                                               absl::Time deadline) override {
    if (fail_appends.load() > 0) {
      --fail_appends;
      return absl::UnavailableError("broker unreachable (test)");
    }
    return ForwardingEventLog::Append(key, std::move(values), deadline);
  }

  std::atomic<int> fail_appends{0};
};

// Staff folded with the org domain's Apply (the org kinds of services/org do the same).
inline const command::TypedKind<crm::v1::Staff>& TestStaffKind() {
  static const auto* kind =
      new command::TypedKind<crm::v1::Staff>(&domain::org::IsStaffEvent, &domain::org::ApplyStaff);
  return *kind;
}

class ComplaintEnv {
 public:
  explicit ComplaintEnv(int32_t partitions = 1)
      : log_(partitions),
        dir_(std::filesystem::path(::testing::TempDir()) / ("complaint-" + base::NewUuid())),
        aggregate_fold_({&ComplaintKind(), &TestStaffKind(), &customer::CustomerKind()}) {
    Open();
  }
  ~ComplaintEnv() {
    Close();
    std::filesystem::remove_all(dir_);
  }

  void Open(ComplaintCommandHandler::Options options = {}) {
    auto store = kv::KvStore::Open(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    runner_ = std::make_unique<fold::FoldRunner>(&log_, store_.get(), &aggregate_fold_,
                                                 fold::FoldRunner::Options{.name = "test"});
    ASSERT_TRUE(runner_->CatchUp().ok());
    ASSERT_TRUE(runner_->Start().ok());
    state_ = std::make_unique<command::AggregateState>(store_.get());
    executor_ = std::make_unique<command::CommandExecutor>(
        &log_, runner_.get(), state_.get(), &clock_, command::CommandExecutor::Options{});
    handler_ = std::make_unique<ComplaintCommandHandler>(executor_.get(), std::move(options));
  }
  void Close() {
    handler_.reset();
    executor_.reset();
    state_.reset();
    runner_.reset();
    store_.reset();
  }
  // A process restart: new runner, executor and handler over the same store and log.
  void Restart(ComplaintCommandHandler::Options options = {}) {
    Close();
    Open(std::move(options));
  }

  // Appends a CustomerRegistered for `id` and waits until the state has it.
  void RegisterCustomer(const std::string& id) {
    EventEnvelope event;
    event.set_event_id(base::NewUuid());
    event.set_customer_id(id);
    event.set_aggregate(absl::StrCat("customers/", id));
    event.set_aggregate_version(1);
    event.set_event_type("crm.events.v1.CustomerRegistered");
    event.set_schema_version(1);
    *event.mutable_recorded_at() = Ts(clock_.Now());
    *event.mutable_occurred_at() = event.recorded_at();
    auto* profile = event.mutable_customer_registered()->mutable_profile();
    profile->set_display_name("Customer " + id);
    profile->set_kind(crm::events::v1::PERSON);
    event.mutable_customer_registered()->set_lifecycle_stage(crm::events::v1::AFTER_SALES);
    auto appended = log_.Append(id, {{event.SerializeAsString(), {}}}, absl::InfiniteFuture());
    ASSERT_TRUE(appended.ok()) << appended.status();
    ASSERT_TRUE(
        runner_->WaitFor({{appended->partition, appended->offset}}, absl::Now() + absl::Seconds(10))
            .ok());
  }

  // Adds an active staff member through the executor (org stream).
  void AddStaff(const std::string& id, crm::v1::StaffRole role, const std::string& manager = "",
                const std::string& team = "teams/cs-east",
                const std::string& department = "departments/cs") {
    crm::v1::Staff staff;
    staff.set_name("staff/" + id);
    staff.set_display_name(id);
    staff.set_role(role);
    staff.set_level(crm::v1::FRONT_LINE);
    staff.set_department(department);
    staff.set_team(team);
    staff.set_manager(manager);
    staff.set_active(true);
    OrgCommand(id, [staff](EventEnvelope& event) {
      *event.mutable_staff_added()->mutable_staff() = crm::domain::org::ToEvent(staff);
    });
  }
  void DeactivateStaff(const std::string& id) {
    OrgCommand(id,
               [](EventEnvelope& event) { event.mutable_staff_deactivated()->set_reason("left"); });
  }

  // The events of the log (all partitions), in partition then offset order.
  std::vector<EventEnvelope> Events() {
    std::map<int32_t, int64_t> start;
    for (int32_t p = 0; p < log_.PartitionCount(); ++p) start[p] = 0;
    auto reader = log_.NewReader(start);
    EXPECT_TRUE(reader.ok());
    int64_t total = 0;
    for (int32_t p = 0; p < log_.PartitionCount(); ++p) total += *log_.EndOffset(p);
    std::vector<EventEnvelope> out;
    while (static_cast<int64_t>(out.size()) < total) {
      auto records = (*reader)->Poll(1000, absl::Now() + absl::Seconds(5));
      if (!records.ok() || records->empty()) break;
      for (const auto& r : *records) {
        EventEnvelope e;
        EXPECT_TRUE(e.ParseFromString(r.value));
        out.push_back(e);
      }
    }
    return out;
  }
  // The events of one complaint, in order.
  std::vector<EventEnvelope> EventsOf(const std::string& complaint) {
    std::vector<EventEnvelope> out;
    for (auto& e : Events()) {
      if (e.aggregate() == complaint) out.push_back(std::move(e));
    }
    return out;
  }
  // The deadline index: key -> entry.
  std::vector<DeadlineEntry> DeadlineIndex() {
    std::vector<DeadlineEntry> out;
    EXPECT_TRUE(store_
                    ->ScanPrefix(kDeadlinePrefix, "", 0,
                                 [&](absl::string_view key, absl::string_view value) {
                                   auto entry = ParseDeadlineEntry(key, value);
                                   EXPECT_TRUE(entry.ok()) << entry.status();
                                   if (entry.ok()) out.push_back(*entry);
                                   return true;
                                 })
                    .ok());
    return out;
  }

  static google::protobuf::Timestamp Ts(absl::Time t) {
    google::protobuf::Timestamp ts;
    ts.set_seconds(absl::ToUnixSeconds(t));
    ts.set_nanos(
        static_cast<int32_t>((t - absl::FromUnixSeconds(ts.seconds())) / absl::Nanoseconds(1)));
    return ts;
  }
  static absl::Time T(const google::protobuf::Timestamp& ts) {
    return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  }

  base::FakeClock clock_;
  FlakyLog log_;
  std::filesystem::path dir_;
  command::AggregateStateFold aggregate_fold_;
  std::unique_ptr<kv::KvStore> store_;
  std::unique_ptr<fold::FoldRunner> runner_;
  std::unique_ptr<command::AggregateState> state_;
  std::unique_ptr<command::CommandExecutor> executor_;
  std::unique_ptr<ComplaintCommandHandler> handler_;

 private:
  void OrgCommand(const std::string& id, std::function<void(EventEnvelope&)> fill) {
    rpc::CallContext call;
    auto result = executor_
                      ->Execute<crm::v1::Staff>(
                          command::Target{.stream_key = command::kOrgStreamKey,
                                          .customer_id = "",
                                          .aggregate = "staff/" + id},
                          "", call, TestStaffKind(),
                          [&](const crm::v1::Staff&, int64_t,
                              absl::Time) -> absl::StatusOr<std::vector<EventEnvelope>> {
                            EventEnvelope event;
                            fill(event);
                            return std::vector<EventEnvelope>{event};
                          })
                      .Get();
    ASSERT_TRUE(result.ok()) << result.status();
  }
};

}  // namespace crm::services::complaint::testing
