#include "services/customer/customer_command_handler.h"

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "common/base/clock.h"
#include "common/base/uuid.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/kv/kv_store.h"
#include "common/status/errors.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/customer_import.h"
#include "domain/customer/email_reservation.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/command/aggregate_state.h"
#include "services/command/command_executor.h"
#include "services/customer/customer_importer.h"
#include "services/customer/customer_kind.h"
#include "services/customer/email_reservations.h"

namespace crm::services::customer {
namespace {

using crm::v1::CustomerCommandResponse;

// Every event in the log (customer events and e-mail claims).
std::vector<crm::events::v1::EventEnvelope> ReadAll(eventlog::EventLog& log) {
  auto reader = log.NewReader({{0, 0}});
  EXPECT_TRUE(reader.ok());
  std::vector<crm::events::v1::EventEnvelope> out;
  const int64_t end = *log.EndOffset(0);
  while (static_cast<int64_t>(out.size()) < end) {
    auto records = (*reader)->Poll(1000, absl::Now() + absl::Seconds(5));
    EXPECT_TRUE(records.ok());
    if (!records.ok() || records->empty()) break;
    for (const auto& r : *records) {
      crm::events::v1::EventEnvelope e;
      EXPECT_TRUE(e.ParseFromString(r.value));
      out.push_back(e);
    }
  }
  return out;
}

// The customer events in the log.
std::vector<crm::events::v1::EventEnvelope> CustomerEvents(eventlog::EventLog& log) {
  std::vector<crm::events::v1::EventEnvelope> out;
  for (auto& e : ReadAll(log)) {
    if (domain::customer::IsCustomerEvent(e)) out.push_back(std::move(e));
  }
  return out;
}

class CommandHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("handler-" + base::NewUuid());
    Open();
  }
  void TearDown() override {
    Close();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    store_ = *kv::KvStore::Open(dir_.string());
    runner_ = std::make_unique<fold::FoldRunner>(&log_, store_.get(), &fold_,
                                                 fold::FoldRunner::Options{.name = "test"});
    ASSERT_TRUE(runner_->CatchUp().ok());
    ASSERT_TRUE(runner_->Start().ok());
    state_ = std::make_unique<command::AggregateState>(store_.get());
    executor_ = std::make_unique<command::CommandExecutor>(
        &log_, runner_.get(), state_.get(), &clock_, command::CommandExecutor::Options{});
    reservations_ = std::make_unique<EmailReservations>(executor_.get(), nullptr);
    handler_ = std::make_unique<CustomerCommandHandler>(executor_.get(), reservations_.get(),
                                                        CustomerCommandHandler::Options{});
  }
  void Close() {
    handler_.reset();
    reservations_.reset();
    executor_.reset();
    state_.reset();
    runner_.reset();
    store_.reset();
  }
  absl::StatusOr<CustomerCommandResponse> Register(const std::string& id, const std::string& email,
                                                   const std::string& request_id = "") {
    crm::v1::RegisterCustomerRequest request;
    request.set_customer_id(id);
    request.set_request_id(request_id);
    request.mutable_customer()->set_display_name("Customer " + id);
    request.mutable_customer()->set_kind(crm::v1::PERSON);
    if (!email.empty()) request.mutable_customer()->add_emails(email);
    return handler_->Register(request, Call(request)).Get();
  }
  // The call context the command service makes for `request` (its digest, as the glue sets it).
  rpc::CallContext Call(const google::protobuf::Message& request) {
    rpc::CallContext call = call_;
    call.request_digest = rpc::RequestDigest(request);
    return call;
  }
  int64_t CustomerEventCount() { return static_cast<int64_t>(CustomerEvents(log_).size()); }

  std::filesystem::path dir_;
  base::FakeClock clock_;
  eventlog::InMemoryEventLog log_;
  command::AggregateStateFold fold_{{&CustomerKind(), &EmailReservationKind()}};
  std::unique_ptr<kv::KvStore> store_;
  std::unique_ptr<fold::FoldRunner> runner_;
  std::unique_ptr<command::AggregateState> state_;
  std::unique_ptr<command::CommandExecutor> executor_;
  std::unique_ptr<EmailReservations> reservations_;
  std::unique_ptr<CustomerCommandHandler> handler_;
  rpc::CallContext call_;
};

TEST_F(CommandHandlerTest, RegisterStampsEnvelopeAndHeaders) {
  call_.actor = "svc-signup";
  call_.correlation_id = "corr-1";
  auto response = Register("acme", "a@acme.com", "req-1");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->customer().name(), "customers/acme");
  EXPECT_EQ(response->customer().version(), 1);
  EXPECT_EQ(response->customer().etag(), "v1");
  EXPECT_EQ(response->appended_event_count(), 1);
  EXPECT_FALSE(response->consistency_token().empty());

  auto events = CustomerEvents(log_);
  ASSERT_EQ(events.size(), 1u);
  const auto& e = events[0];
  EXPECT_TRUE(base::IsUuid(e.event_id()));
  EXPECT_EQ(e.customer_id(), "acme");
  EXPECT_EQ(e.aggregate_version(), 1);
  EXPECT_EQ(e.actor(), "svc-signup");
  EXPECT_EQ(e.request_id(), "req-1");
  EXPECT_EQ(e.correlation_id(), "corr-1");
  EXPECT_TRUE(base::IsUuid(e.causation_id()));
  EXPECT_EQ(e.event_type(), "crm.events.v1.CustomerRegistered");
  EXPECT_EQ(e.schema_version(), 1);
  EXPECT_TRUE(e.has_customer_registered());

  auto reader = *log_.NewReader({{0, 0}});
  auto records = *reader->Poll(10, absl::Now() + absl::Seconds(5));
  ASSERT_EQ(records.size(), 2u);  // the e-mail claim, then the registration
  EXPECT_EQ(records[1].key, "acme");
  std::map<std::string, std::string> headers(records[1].headers.begin(), records[1].headers.end());
  EXPECT_EQ(headers["event-type"], "crm.events.v1.CustomerRegistered");
  EXPECT_EQ(headers["ce_specversion"], "1.0");
  EXPECT_EQ(headers["ce_id"], e.event_id());
  EXPECT_EQ(headers["ce_subject"], "customers/acme");
  EXPECT_EQ(headers["schema-version"], "1");
}

TEST_F(CommandHandlerTest, RetryWithSameRequestIdReturnsFirstAnswerAndAppendsNothing) {
  auto first = Register("acme", "a@acme.com", "req-1");
  ASSERT_TRUE(first.ok());
  auto again = Register("acme", "a@acme.com", "req-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(CustomerEventCount(), 1);
}

TEST_F(CommandHandlerTest, RetryWithoutCustomerIdFindsTheSameCustomer) {
  auto first = Register("", "", "req-gen");
  ASSERT_TRUE(first.ok());
  auto again = Register("", "", "req-gen");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->customer().name(), first->customer().name());
  EXPECT_EQ(CustomerEventCount(), 1);
}

TEST_F(CommandHandlerTest, RequestIdsSurviveRestart) {
  auto first = Register("acme", "a@acme.com", "req-1");
  ASSERT_TRUE(first.ok());
  Close();
  Open();
  auto again = Register("acme", "a@acme.com", "req-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(CustomerEventCount(), 1);
}

TEST_F(CommandHandlerTest, StaleEtagIsAborted) {
  ASSERT_TRUE(Register("acme", "").ok());
  crm::v1::TagCustomerRequest tag;
  tag.set_name("customers/acme");
  tag.set_tag("vip");
  tag.set_etag("v1");
  ASSERT_TRUE(handler_->Tag(tag, call_).Get().ok());
  tag.set_tag("gold");
  auto stale = handler_->Tag(tag, call_).Get();
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(CustomerEventCount(), 2);
}

TEST_F(CommandHandlerTest, NoOpAppendsNothingAndKeepsToken) {
  auto registered = Register("acme", "");
  ASSERT_TRUE(registered.ok());
  crm::v1::UntagCustomerRequest untag;
  untag.set_name("customers/acme");
  untag.set_tag("never-had");
  auto response = handler_->Untag(untag, call_).Get();
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->appended_event_count(), 0);
  EXPECT_EQ(response->consistency_token(), registered->consistency_token());
  EXPECT_EQ(CustomerEventCount(), 1);
}

TEST_F(CommandHandlerTest, EmailTakenNamesExistingCustomer) {
  ASSERT_TRUE(Register("first", "x@example.com").ok());
  auto second = Register("second", "X@Example.com");
  ASSERT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(status::GetDetail(second.status(), &info));
  EXPECT_EQ(info.metadata().at("existing_customer"), "customers/first");
}

TEST_F(CommandHandlerTest, ConcurrentRegistrationsClaimAnEmailOnce) {
  std::atomic<int> ok{0}, taken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = Register("c" + std::to_string(i), "same@example.com");
      if (r.ok()) ++ok;
      if (r.status().code() == absl::StatusCode::kAlreadyExists) ++taken;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(taken.load(), 7);
}

TEST_F(CommandHandlerTest, ConcurrentCommandsOnOneCustomerGetDenseVersions) {
  ASSERT_TRUE(Register("acme", "").ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        crm::v1::TagCustomerRequest tag;
        tag.set_name("customers/acme");
        tag.set_tag("t" + std::to_string(t) + "-" + std::to_string(i % 10));
        crm::v1::UntagCustomerRequest untag;
        untag.set_name("customers/acme");
        untag.set_tag(tag.tag());
        ASSERT_TRUE(handler_->Tag(tag, call_).Get().ok());
        ASSERT_TRUE(handler_->Untag(untag, call_).Get().ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto events = CustomerEvents(log_);
  ASSERT_EQ(events.size(), 201u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].aggregate_version(), static_cast<int64_t>(i + 1));
  }
}

TEST_F(CommandHandlerTest, CommandAfterAnUnappliedAppendDecidesOnTheAppendedEvent) {
  ASSERT_TRUE(Register("acme", "").ok());
  // The append lands but the command state cannot confirm it (its fold is stopped).
  runner_->Stop();
  crm::v1::TagCustomerRequest tag;
  tag.set_name("customers/acme");
  tag.set_tag("a");
  EXPECT_EQ(handler_->Tag(tag, call_).Get().status().code(), absl::StatusCode::kUnavailable);
  ASSERT_EQ(CustomerEventCount(), 2);
  ASSERT_TRUE(runner_->Start().ok());
  tag.set_tag("b");
  auto next = handler_->Tag(tag, call_).Get();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->customer().version(), 3);
  auto events = CustomerEvents(log_);
  ASSERT_EQ(events.size(), 3u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].aggregate_version(), static_cast<int64_t>(i + 1));
  }
}

TEST_F(CommandHandlerTest, UnknownCustomerIsNotFound) {
  crm::v1::TagCustomerRequest tag;
  tag.set_name("customers/nobody");
  tag.set_tag("vip");
  EXPECT_EQ(handler_->Tag(tag, call_).Get().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(CustomerEventCount(), 0);
}

// Issue 8: a request id reused on another customer answered OK with the first customer's data
// and never tagged the second one.
TEST_F(CommandHandlerTest, RequestIdReusedOnAnotherCustomerIsRefused) {
  ASSERT_TRUE(Register("a", "").ok());
  ASSERT_TRUE(Register("b", "").ok());
  crm::v1::TagCustomerRequest tag;
  tag.set_name("customers/a");
  tag.set_tag("vip");
  tag.set_request_id("X");
  ASSERT_TRUE(handler_->Tag(tag, Call(tag)).Get().ok());
  tag.set_name("customers/b");
  auto reused = handler_->Tag(tag, Call(tag)).Get();
  ASSERT_EQ(reused.status().code(), absl::StatusCode::kAlreadyExists) << reused.status();
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(status::GetDetail(reused.status(), &info));
  EXPECT_EQ(info.reason(), "REQUEST_ID_REUSED");
  EXPECT_EQ(info.metadata().at("aggregate"), "customers/a");
  EXPECT_EQ(CustomerEventCount(), 3);
}

// Issue 8: UntagCustomer reusing a TagCustomer id returned the tag's answer and never untagged.
TEST_F(CommandHandlerTest, RequestIdReusedForAnotherCommandOnTheSameCustomerIsRefused) {
  ASSERT_TRUE(Register("a", "").ok());
  crm::v1::TagCustomerRequest tag;
  tag.set_name("customers/a");
  tag.set_tag("vip");
  tag.set_request_id("X");
  ASSERT_TRUE(handler_->Tag(tag, Call(tag)).Get().ok());
  crm::v1::UntagCustomerRequest untag;
  untag.set_name("customers/a");
  untag.set_tag("vip");
  untag.set_request_id("X");
  auto reused = handler_->Untag(untag, Call(untag)).Get();
  ASSERT_EQ(reused.status().code(), absl::StatusCode::kAlreadyExists) << reused.status();
  // Same id, same tag, another value: another request too.
  tag.set_tag("gold");
  EXPECT_EQ(handler_->Tag(tag, Call(tag)).Get().status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(CustomerEventCount(), 2);
}

// Issue 8: a retried RecordPurchase answered appended_event_count 1, a retried FileComplaint 0;
// the rule is now one: a retry answers exactly as the first call.
TEST_F(CommandHandlerTest, RetryAnswersTheFirstCallsAppendedEventCount) {
  ASSERT_TRUE(Register("a", "").ok());
  crm::v1::TagCustomerRequest tag;
  tag.set_name("customers/a");
  tag.set_tag("vip");
  tag.set_request_id("T");
  auto first = handler_->Tag(tag, Call(tag)).Get();
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->appended_event_count(), 1);
  auto again = handler_->Tag(tag, Call(tag)).Get();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
}

TEST_F(CommandHandlerTest, CustomerEventsHaveTheSharedSource) {
  ASSERT_TRUE(Register("acme", "").ok());
  auto reader = *log_.NewReader({{0, 0}});
  auto records = *reader->Poll(10, absl::Now() + absl::Seconds(5));
  ASSERT_EQ(records.size(), 1u);
  std::map<std::string, std::string> headers(records[0].headers.begin(), records[0].headers.end());
  EXPECT_EQ(headers["ce_source"], "crm/command");
}

TEST_F(CommandHandlerTest, RemovedEmailIsFreeForTheNextCustomerAtOnce) {
  ASSERT_TRUE(Register("first", "x@example.com").ok());
  crm::v1::UpdateCustomerRequest update;
  update.mutable_customer()->set_name("customers/first");
  update.mutable_update_mask()->add_paths("emails");
  auto removed = handler_->Update(update, Call(update)).Get();
  ASSERT_TRUE(removed.ok()) << removed.status();
  ASSERT_EQ(removed->customer().emails_size(), 0);
  // Released by the update: free at once.
  auto second = Register("second", "x@example.com");
  ASSERT_TRUE(second.ok()) << second.status();
  // And the first one cannot take it back.
  update.mutable_customer()->add_emails("x@example.com");
  EXPECT_EQ(handler_->Update(update, Call(update)).Get().status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(CommandHandlerTest, ClaimOfARefusedRegistrationLapsesAfterTheLease) {
  ASSERT_TRUE(Register("taken-id", "").ok());
  // A registration that claimed its address and then never got recorded (a crash between the
  // claim and the append): only the claim is in the log.
  EmailReservations::Request claim;
  claim.set_email("y@example.com");
  claim.set_customer_id("ghost");
  auto claimed = reservations_->Claim(claim, call_).Get();
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->holder(), "ghost");
  // While the claim is young, the address is taken.
  EXPECT_EQ(Register("other", "y@example.com").status().code(), absl::StatusCode::kAlreadyExists);
  clock_.Advance(domain::customer::kClaimLease);
  auto other = Register("other", "y@example.com");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->customer().emails(0), "y@example.com");
}

// Found by tests/fuzz/rpc_fuzzer: this INVALID_ARGUMENT carried no BadRequest.
TEST_F(CommandHandlerTest, ClaimOfAnAddressNotNormalizedNamesTheEmailField) {
  EmailReservations::Request claim;
  claim.set_email("Sales@ACME.example.com");
  claim.set_customer_id("acme");
  for (auto run : {&EmailReservations::Claim, &EmailReservations::Release}) {
    absl::Status refused = ((*reservations_).*run)(claim, call_).Get().status();
    ASSERT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
    google::rpc::BadRequest bad;
    ASSERT_TRUE(status::GetDetail(refused, &bad)) << refused;
    ASSERT_EQ(bad.field_violations_size(), 1);
    EXPECT_EQ(bad.field_violations(0).field(), "email");
  }
}

// MergeCustomers through the handler (proto/crm/v1/README.md, "Merging customers").
crm::v1::MergeCustomersRequest Merge(const std::string& survivor, const std::string& merged,
                                     const std::string& request_id = "") {
  crm::v1::MergeCustomersRequest request;
  request.set_survivor("customers/" + survivor);
  request.set_merged("customers/" + merged);
  request.set_request_id(request_id);
  return request;
}

TEST_F(CommandHandlerTest, MergeMovesTheEmailClaimToTheSurvivor) {
  ASSERT_TRUE(Register("acme", "sales@acme.example").ok());
  ASSERT_TRUE(Register("dup", "info@acme.example").ok());
  auto dry = handler_
                 ->Merge(
                     [] {
                       auto r = Merge("acme", "dup");
                       r.set_validate_only(true);
                       return r;
                     }(),
                     call_)
                 .Get();
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->appended_event_count(), 0);
  EXPECT_EQ(dry->summary().emails(0), "info@acme.example");
  const int64_t before = static_cast<int64_t>(ReadAll(log_).size());

  auto request = Merge("acme", "dup", "req-merge");
  auto merged = handler_->Merge(request, Call(request)).Get();
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->appended_event_count(), 2);
  EXPECT_EQ(merged->customer().emails_size(), 2);
  auto events = ReadAll(log_);
  ASSERT_EQ(static_cast<int64_t>(events.size()), before + 3);
  EXPECT_TRUE(events[before].has_customer_merged_into());
  EXPECT_TRUE(events[before + 1].has_customer_merged());
  ASSERT_TRUE(events[before + 2].has_email_claimed());
  EXPECT_EQ(events[before + 2].email_claimed().customer_id(), "acme");
  EXPECT_EQ(events[before + 2].email_claimed().previous_customer_id(), "dup");

  // Registering the address again names the survivor; the retry answers the same.
  auto again = Register("third", "info@acme.example");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  auto retry = handler_->Merge(request, Call(request)).Get();
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->summary().SerializeAsString(), merged->summary().SerializeAsString());
  EXPECT_EQ(static_cast<int64_t>(ReadAll(log_).size()), before + 3);
}

TEST_F(CommandHandlerTest, AMergeInterruptedBetweenItsEventsIsCompletedByTheNext) {
  ASSERT_TRUE(Register("acme", "").ok());
  ASSERT_TRUE(Register("dup", "").ok());
  crm::v1::TagCustomerRequest tag;
  tag.set_name("customers/dup");
  tag.set_tag("vip");
  ASSERT_TRUE(handler_->Tag(tag, call_).Get().ok());
  // Only the merged customer's event was recorded (the process stopped before the survivor's).
  const command::Target target{
      .stream_key = "dup", .customer_id = "dup", .aggregate = "customers/dup"};
  ASSERT_TRUE(executor_
                  ->Execute<crm::v1::Customer>(
                      target, "", call_, CustomerKind(),
                      [](const crm::v1::Customer&, int64_t,
                         absl::Time) -> absl::StatusOr<std::vector<command::Event>> {
                        command::Event e;
                        e.mutable_customer_merged_into()->set_survivor_id("acme");
                        return std::vector<command::Event>{e};
                      })
                  .Get()
                  .ok());
  EXPECT_EQ(handler_->Tag(tag, call_).Get().status().code(), absl::StatusCode::kFailedPrecondition);
  auto completed = handler_->Merge(Merge("acme", "dup"), call_).Get();
  ASSERT_TRUE(completed.ok()) << completed.status();
  EXPECT_EQ(completed->appended_event_count(), 1);
  ASSERT_EQ(completed->customer().tags_size(), 1);
  EXPECT_EQ(completed->customer().tags(0), "vip");
  EXPECT_EQ(completed->customer().merged_customers(0).name(), "customers/dup");
  auto done = handler_->Merge(Merge("acme", "dup"), call_).Get();
  EXPECT_EQ(done.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CommandHandlerTest, AMergeRacingCommandsOnBothCustomersLosesNoAcceptedCommand) {
  ASSERT_TRUE(Register("acme", "").ok());
  ASSERT_TRUE(Register("dup", "").ok());
  std::atomic<bool> go{false};
  std::vector<std::set<std::string>> accepted(2);
  std::vector<std::thread> threads;
  const std::vector<std::string> ids = {"acme", "dup"};
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < 20; ++i) {
        crm::v1::TagCustomerRequest tag;
        tag.set_name("customers/" + ids[t]);
        tag.set_tag(ids[t] + "-" + std::to_string(i));
        auto done = handler_->Tag(tag, call_).Get();
        if (done.ok()) {
          accepted[t].insert(tag.tag());
        } else {
          EXPECT_EQ(done.status().code(), absl::StatusCode::kFailedPrecondition);
        }
      }
    });
  }
  go = true;
  auto merged = handler_->Merge(Merge("acme", "dup"), call_).Get();
  for (auto& t : threads) t.join();
  ASSERT_TRUE(merged.ok()) << merged.status();
  auto survivor = state_->Get<crm::v1::Customer>("customers/acme");
  ASSERT_TRUE(survivor.ok());
  std::set<std::string> tags(survivor->state.tags().begin(), survivor->state.tags().end());
  for (const auto& set : accepted) {
    for (const std::string& t : set) EXPECT_TRUE(tags.count(t)) << t;
  }
  auto loser = state_->Get<crm::v1::Customer>("customers/dup");
  ASSERT_TRUE(loser.ok());
  EXPECT_EQ(loser->state.tags_size(), static_cast<int>(accepted[1].size()));
}

// External ids: unique across customers, by reservations as e-mails are.
TEST_F(CommandHandlerTest, AnExternalIdBelongsToOneCustomer) {
  crm::v1::RegisterCustomerRequest a;
  a.set_customer_id("a");
  a.mutable_customer()->set_display_name("A");
  a.mutable_customer()->set_kind(crm::v1::PERSON);
  a.mutable_customer()->set_external_id("ERP-1");
  ASSERT_TRUE(handler_->Register(a, Call(a)).Get().ok());
  crm::v1::RegisterCustomerRequest b = a;
  b.set_customer_id("b");
  auto taken = handler_->Register(b, Call(b)).Get();
  ASSERT_EQ(taken.status().code(), absl::StatusCode::kAlreadyExists) << taken.status();
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(status::GetDetail(taken.status(), &info));
  EXPECT_EQ(info.reason(), "EXTERNAL_ID_TAKEN");

  // A clears it; once A's claim is older than the lease, B takes it over.
  crm::v1::UpdateCustomerRequest clear;
  clear.mutable_customer()->set_name("customers/a");
  clear.mutable_update_mask()->add_paths("external_id");
  ASSERT_TRUE(handler_->Update(clear, Call(clear)).Get().ok());
  clock_.Advance(domain::customer::kClaimLease + absl::Seconds(1));
  auto got = handler_->Register(b, Call(b)).Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->customer().external_id(), "ERP-1");
}

crm::v1::ImportCustomerRow ImportRow(const std::string& name, const std::string& email,
                                     const std::string& external_id = "") {
  crm::v1::ImportCustomerRow row;
  row.mutable_customer()->set_display_name(name);
  row.mutable_customer()->set_kind(crm::v1::COMPANY);
  if (!email.empty()) row.mutable_customer()->add_emails(email);
  row.mutable_customer()->set_external_id(external_id);
  return row;
}

TEST_F(CommandHandlerTest, ImportUpsertsByExternalIdThenEmailAndReRunsChangeNothing) {
  CustomerImporter importer(executor_.get(), handler_.get(), nullptr);
  ASSERT_TRUE(Register("old", "old@example.com").ok());
  crm::v1::ImportCustomersRequest request;
  request.set_request_id("imp-1");
  *request.add_rows() = ImportRow("New Co", "new@example.com", "E-1");
  *request.add_rows() = ImportRow("Old Co", "OLD@example.com", "E-2");  // matches by e-mail
  *request.add_rows() = ImportRow("Twice", "new@example.com");          // in row 1 already
  *request.add_rows() = ImportRow("", "bad");                           // two bad fields
  auto first = importer.Import(request, call_);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->results_size(), 4);
  EXPECT_EQ(first->results(0).outcome(), crm::v1::CREATED);
  EXPECT_EQ(first->results(1).outcome(), crm::v1::UPDATED);
  EXPECT_EQ(first->results(1).customer(), "customers/old");
  EXPECT_EQ(first->results(2).outcome(), crm::v1::FAILED);
  EXPECT_EQ(first->results(2).error().code(), static_cast<int>(grpc::StatusCode::ALREADY_EXISTS));
  EXPECT_EQ(first->results(3).outcome(), crm::v1::FAILED);
  EXPECT_EQ(first->results(3).row_number(), 4);
  EXPECT_EQ(first->results(3).error().code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(first->created_count(), 1);
  EXPECT_EQ(first->updated_count(), 1);
  EXPECT_EQ(first->failed_count(), 2);
  EXPECT_FALSE(first->consistency_token().empty());
  const int64_t events = CustomerEventCount();
  const size_t log_size = ReadAll(log_).size();

  // Again, with another request id and with none: nothing changes, nothing is appended.
  for (const char* id : {"imp-2", ""}) {
    request.set_request_id(id);
    auto again = importer.Import(request, call_);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->unchanged_count(), 2);
    EXPECT_EQ(again->failed_count(), 2);
    EXPECT_EQ(again->results(0).customer(), first->results(0).customer());
  }
  EXPECT_EQ(CustomerEventCount(), events);
  EXPECT_EQ(ReadAll(log_).size(), log_size);

  // By external id: the name changes, nothing else.
  crm::v1::ImportCustomersRequest rename;
  *rename.add_rows() = ImportRow("New Co Renamed", "", "E-1");
  auto renamed = importer.Import(rename, call_);
  ASSERT_TRUE(renamed.ok());
  EXPECT_EQ(renamed->results(0).outcome(), crm::v1::UPDATED);
  EXPECT_EQ(renamed->results(0).customer(), first->results(0).customer());
  EXPECT_EQ(renamed->results(0).appended_event_count(), 1);
}

TEST_F(CommandHandlerTest, ImportRefusesTooManyRowsAndStopsAtTheDeadline) {
  CustomerImporter importer(executor_.get(), handler_.get(), nullptr);
  crm::v1::ImportCustomersRequest request;
  for (size_t i = 0; i <= domain::customer::kMaxImportRows; ++i) {
    *request.add_rows() = ImportRow("X", "");
  }
  EXPECT_EQ(importer.Import(request, call_).status().code(), absl::StatusCode::kResourceExhausted);

  request.clear_rows();
  *request.add_rows() = ImportRow("X", "");
  rpc::CallContext late = call_;
  late.deadline = absl::Now() - absl::Seconds(1);
  EXPECT_EQ(importer.Import(request, late).status().code(), absl::StatusCode::kDeadlineExceeded);
  rpc::CallContext cancelled = call_;
  cancelled.cancelled = [] { return true; };
  EXPECT_EQ(importer.Import(request, cancelled).status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(CustomerEventCount(), 0);
}

}  // namespace
}  // namespace crm::services::customer
