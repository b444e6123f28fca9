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
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/customer/command_state.h"

namespace crm::services::customer {
namespace {

using crm::v1::CustomerCommandResponse;

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
    state_ = std::make_unique<CommandState>(store_.get());
    handler_ = std::make_unique<CustomerCommandHandler>(&log_, runner_.get(), state_.get(), &clock_,
                                                        CustomerCommandHandler::Options{});
  }
  void Close() {
    handler_.reset();
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
    return handler_->Register(request, call_);
  }

  std::filesystem::path dir_;
  base::FakeClock clock_;
  eventlog::InMemoryEventLog log_;
  CommandStateFold fold_;
  std::unique_ptr<kv::KvStore> store_;
  std::unique_ptr<fold::FoldRunner> runner_;
  std::unique_ptr<CommandState> state_;
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

  auto events = ReadAll(log_);
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
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].key, "acme");
  std::map<std::string, std::string> headers(records[0].headers.begin(), records[0].headers.end());
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
  EXPECT_EQ(*log_.EndOffset(0), 1);
}

TEST_F(CommandHandlerTest, RetryWithoutCustomerIdFindsTheSameCustomer) {
  auto first = Register("", "", "req-gen");
  ASSERT_TRUE(first.ok());
  auto again = Register("", "", "req-gen");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->customer().name(), first->customer().name());
  EXPECT_EQ(*log_.EndOffset(0), 1);
}

TEST_F(CommandHandlerTest, RequestIdsSurviveRestart) {
  auto first = Register("acme", "a@acme.com", "req-1");
  ASSERT_TRUE(first.ok());
  Close();
  Open();
  auto again = Register("acme", "a@acme.com", "req-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(*log_.EndOffset(0), 1);
}

TEST_F(CommandHandlerTest, StaleEtagIsAborted) {
  ASSERT_TRUE(Register("acme", "").ok());
  crm::v1::TagCustomerRequest tag;
  tag.set_name("customers/acme");
  tag.set_tag("vip");
  tag.set_etag("v1");
  ASSERT_TRUE(handler_->Tag(tag, call_).ok());
  tag.set_tag("gold");
  auto stale = handler_->Tag(tag, call_);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(*log_.EndOffset(0), 2);
}

TEST_F(CommandHandlerTest, NoOpAppendsNothingAndKeepsToken) {
  auto registered = Register("acme", "");
  ASSERT_TRUE(registered.ok());
  crm::v1::UntagCustomerRequest untag;
  untag.set_name("customers/acme");
  untag.set_tag("never-had");
  auto response = handler_->Untag(untag, call_);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->appended_event_count(), 0);
  EXPECT_EQ(response->consistency_token(), registered->consistency_token());
  EXPECT_EQ(*log_.EndOffset(0), 1);
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
        ASSERT_TRUE(handler_->Tag(tag, call_).ok());
        ASSERT_TRUE(handler_->Untag(untag, call_).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto events = ReadAll(log_);
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
  EXPECT_EQ(handler_->Tag(tag, call_).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_EQ(*log_.EndOffset(0), 2);
  ASSERT_TRUE(runner_->Start().ok());
  tag.set_tag("b");
  auto next = handler_->Tag(tag, call_);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->customer().version(), 3);
  auto events = ReadAll(log_);
  ASSERT_EQ(events.size(), 3u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].aggregate_version(), static_cast<int64_t>(i + 1));
  }
}

TEST_F(CommandHandlerTest, UnknownCustomerIsNotFound) {
  crm::v1::TagCustomerRequest tag;
  tag.set_name("customers/nobody");
  tag.set_tag("vip");
  EXPECT_EQ(handler_->Tag(tag, call_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*log_.EndOffset(0), 0);
}

}  // namespace
}  // namespace crm::services::customer
