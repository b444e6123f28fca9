// A command side and a views side for the tests of a customer-scoped area (interactions,
// surveys), wired as the processes wire them: one InMemoryEventLog; a command-state store folded
// by an AggregateStateFold over the staff, complaint, interaction and customer kinds plus the
// area's own; a CommandExecutor on a fake clock; and a views store folded by the customer view
// fold plus the area's. Seeds go straight to the log as stamped events.
//
// Why: every area's handler tests need the same wiring and the same seeds (a customer, a staff
// member, a complaint); one fixture keeps them alike. An area's fixture derives from it, passes
// its kinds and folds to the constructor, builds its handler in SetUp after this SetUp, and
// resets what it built in TearDown before this TearDown.
// Thread-safety: a test fixture; used from the test's thread (the runners fold on their own).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/uuid.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/complaint/complaint_aggregate.h"
#include "domain/org/org_aggregate.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "projections/customer/customer_view_fold.h"
#include "services/command/aggregate_state.h"
#include "services/command/command_executor.h"
#include "services/customer/customer_kind.h"
#include "services/interaction/interaction_kind.h"

namespace crm::services::testing {

using crm::events::v1::EventEnvelope;

inline google::protobuf::Timestamp Ts(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

class CommandViewsEnv : public ::testing::Test {
 protected:
  // `kinds`: the area's aggregate kinds (besides staff, complaint, interaction, customer);
  // `view_folds`: the area's view folds (besides the customer view fold). Not owned.
  CommandViewsEnv(std::string area, std::vector<const command::AggregateKind*> kinds,
                  std::vector<fold::Fold*> view_folds)
      : area_(std::move(area)) {
    kinds.insert(kinds.end(), {&staff_kind_, &complaint_kind_, &interaction::InteractionKind(),
                               &customer::CustomerKind()});
    state_fold_ = std::make_unique<command::AggregateStateFold>(std::move(kinds));
    view_folds_.push_back(&customer_views_fold_);
    view_folds_.insert(view_folds_.end(), view_folds.begin(), view_folds.end());
  }

  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / absl::StrCat(area_, "-", base::NewUuid());
    state_store_ = *kv::KvStore::Open((dir_ / "state").string());
    views_store_ = *kv::KvStore::Open((dir_ / "views").string());
    state_runner_ = std::make_unique<fold::FoldRunner>(&log_, state_store_.get(), state_fold_.get(),
                                                       fold::FoldRunner::Options{.name = "state"});
    views_runner_ = std::make_unique<fold::FoldRunner>(&log_, views_store_.get(), view_folds_,
                                                       fold::FoldRunner::Options{.name = "views"});
    aggregate_state_ = std::make_unique<command::AggregateState>(state_store_.get());
    ASSERT_TRUE(state_runner_->Start().ok());
    ASSERT_TRUE(views_runner_->Start().ok());
    executor_ = std::make_unique<command::CommandExecutor>(&log_, state_runner_.get(),
                                                           aggregate_state_.get(), &clock_,
                                                           command::CommandExecutor::Options{});
  }
  void TearDown() override {
    executor_.reset();
    views_runner_.reset();
    state_runner_.reset();
    aggregate_state_.reset();
    state_store_.reset();
    views_store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Appends a stamped event and waits until both stores have it.
  void Seed(const std::string& key, const std::string& customer_id, const std::string& aggregate,
            int64_t version, EventEnvelope e) {
    e.set_event_id(base::NewUuid());
    e.set_customer_id(customer_id);
    e.set_aggregate(aggregate);
    e.set_aggregate_version(version);
    *e.mutable_recorded_at() = Ts(clock_.Now());
    if (!e.has_occurred_at()) *e.mutable_occurred_at() = e.recorded_at();
    e.set_event_type(command::EventTypeName(e));
    e.set_schema_version(1);
    auto position = log_.Append(key, {{e.SerializeAsString(), {}}}, absl::Now() + absl::Seconds(5));
    ASSERT_TRUE(position.ok());
    const eventlog::PositionMap at = {{position->partition, position->offset}};
    ASSERT_TRUE(state_runner_->WaitFor(at, absl::Now() + absl::Seconds(10)).ok());
    ASSERT_TRUE(views_runner_->WaitFor(at, absl::Now() + absl::Seconds(10)).ok());
  }

  // Appends without waiting for the folds.
  void AppendOnly(const std::string& key, const std::string& aggregate, int64_t version,
                  EventEnvelope e) {
    e.set_event_id(base::NewUuid());
    e.set_aggregate(aggregate);
    e.set_aggregate_version(version);
    *e.mutable_recorded_at() = Ts(clock_.Now());
    *e.mutable_occurred_at() = e.recorded_at();
    e.set_event_type(command::EventTypeName(e));
    ASSERT_TRUE(
        log_.Append(key, {{e.SerializeAsString(), {}}}, absl::Now() + absl::Seconds(5)).ok());
  }

  // A COMPANY customer "Customer <id>" in stage POTENTIAL.
  void SeedCustomer(const std::string& id) {
    EventEnvelope e;
    e.mutable_customer_registered()->mutable_profile()->set_display_name("Customer " + id);
    e.mutable_customer_registered()->mutable_profile()->set_kind(crm::events::v1::COMPANY);
    e.mutable_customer_registered()->set_lifecycle_stage(crm::events::v1::POTENTIAL);
    Seed(id, id, "customers/" + id, 1, e);
  }

  // A front-line representative in teams/care of departments/service.
  static EventEnvelope StaffAdded(const std::string& id) {
    EventEnvelope e;
    auto* s = e.mutable_staff_added()->mutable_staff();
    s->set_name("staff/" + id);
    s->set_display_name("Staff " + id);
    s->set_role(crm::events::v1::CUSTOMER_REPRESENTATIVE);
    s->set_level(crm::events::v1::FRONT_LINE);
    s->set_department("departments/service");
    s->set_team("teams/care");
    s->set_active(true);
    return e;
  }

  void SeedStaff(const std::string& id, bool active = true) {
    Seed("org", "", "staff/" + id, 1, StaffAdded(id));
    if (!active) {
      EventEnvelope e;
      e.mutable_staff_deactivated()->set_reason("left");
      Seed("org", "", "staff/" + id, 2, e);
    }
  }

  void SeedComplaint(const std::string& customer_id, const std::string& id) {
    EventEnvelope e;
    auto* filed = e.mutable_complaint_filed();
    filed->set_channel(crm::events::v1::EMAIL);
    filed->set_category(crm::events::v1::LOGISTICS);
    filed->set_severity(crm::events::v1::GENERAL);
    filed->set_description("Parcel late");
    *filed->mutable_response_due_time() = Ts(clock_.Now() + absl::Hours(24));
    *filed->mutable_resolution_due_time() = Ts(clock_.Now() + absl::Hours(72));
    Seed(customer_id, customer_id, absl::StrCat("customers/", customer_id, "/complaints/", id), 1,
         e);
  }

  int64_t LogEnd() { return *log_.EndOffset(0); }

  // The events of one aggregate in the log, in order.
  std::vector<EventEnvelope> EventsOf(const std::string& aggregate) {
    std::vector<EventEnvelope> out;
    auto reader = log_.NewReader({{0, 0}});
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok()) return out;
    for (int64_t read = 0, end = LogEnd(); read < end;) {
      auto records = (*reader)->Poll(1000, absl::Now() + absl::Seconds(5));
      EXPECT_TRUE(records.ok()) << records.status();
      if (!records.ok() || records->empty()) break;
      for (const auto& r : *records) {
        ++read;
        EventEnvelope e;
        EXPECT_TRUE(e.ParseFromString(r.value));
        if (e.aggregate() == aggregate) out.push_back(std::move(e));
      }
    }
    return out;
  }

  const std::string area_;
  std::filesystem::path dir_;
  base::FakeClock clock_;
  eventlog::InMemoryEventLog log_;
  command::TypedKind<crm::v1::Staff> staff_kind_{&domain::org::IsStaffEvent,
                                                 &domain::org::ApplyStaff};
  command::TypedKind<crm::v1::Complaint> complaint_kind_{&domain::complaint::IsComplaintEvent,
                                                         &domain::complaint::Apply};
  std::unique_ptr<command::AggregateStateFold> state_fold_;
  projections::customer::CustomerViewFold customer_views_fold_;
  std::vector<fold::Fold*> view_folds_;
  std::unique_ptr<kv::KvStore> state_store_;
  std::unique_ptr<kv::KvStore> views_store_;
  std::unique_ptr<fold::FoldRunner> state_runner_;
  std::unique_ptr<fold::FoldRunner> views_runner_;
  std::unique_ptr<command::AggregateState> aggregate_state_;
  std::unique_ptr<command::CommandExecutor> executor_;
  rpc::CallContext call_;
};

}  // namespace crm::services::testing
