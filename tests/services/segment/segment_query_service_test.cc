// Tests of SegmentQueries (request checks, NOT_FOUND, as_of from the injected clock) and of
// SegmentQueryService over a real in-process gRPC server.
#include "services/segment/segment_query_service.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/uuid.h"
#include "common/eventlog/consistency_token.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/kv/kv_store.h"
#include "common/status/errors.h"
#include "crm/events/v1/envelope.pb.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "projections/segment/segment_fold.h"
#include "readmodel/analytics/figures.h"

namespace crm::services::segment {
namespace {

using crm::events::v1::EventEnvelope;
using readmodel::analytics::ToTimestamp;

const absl::Time kT0 = absl::FromUnixSeconds(1'717'200'000);

std::string BadField(const absl::Status& status) {
  google::rpc::BadRequest bad;
  if (!crm::status::GetDetail(status, &bad) || bad.field_violations().empty()) return "";
  return bad.field_violations(0).field();
}

class SegmentQueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) / ("segment-q-" + base::NewUuid());
    store_ = *kv::KvStore::Open(root_.string());
    runner_ = std::make_unique<fold::FoldRunner>(&log_, store_.get(), &fold_,
                                                 fold::FoldRunner::Options{.name = "views"});
    ASSERT_TRUE(runner_->Start().ok());
  }
  void TearDown() override {
    runner_->Stop();
    store_.reset();
    std::filesystem::remove_all(root_);
  }

  std::string Append(const std::string& id, int64_t version, absl::Time at, EventEnvelope e) {
    e.set_customer_id(id);
    e.set_aggregate(absl::StrCat("customers/", id));
    e.set_aggregate_version(version);
    *e.mutable_occurred_at() = ToTimestamp(at);
    auto position = log_.Append(id, {{e.SerializeAsString(), {}}}, absl::Now() + absl::Seconds(5));
    EXPECT_TRUE(position.ok());
    return eventlog::EncodeConsistencyToken({{position->partition, position->offset}});
  }
  // Registers `id` and records one purchase at kT0; returns the token of the purchase.
  std::string RegisterWithPurchase(const std::string& id) {
    EventEnvelope registered;
    registered.mutable_customer_registered()->set_lifecycle_stage(crm::events::v1::FIRST_CONTACT);
    Append(id, 1, kT0, registered);
    EventEnvelope purchase;
    auto* p = purchase.mutable_purchase_recorded();
    p->mutable_purchase()->mutable_amount()->set_currency_code("CNY");
    p->mutable_purchase()->mutable_amount()->set_amount_minor(20'000);
    *p->mutable_purchase()->mutable_purchased_at() = ToTimestamp(kT0);
    p->set_new_value_tier(crm::events::v1::ORDINARY);
    return Append(id, 2, kT0, purchase);
  }

  rpc::CallContext Call() {
    rpc::CallContext call;
    call.deadline = absl::Now() + absl::Seconds(10);
    return call;
  }

  std::filesystem::path root_;
  std::unique_ptr<kv::KvStore> store_;
  eventlog::InMemoryEventLog log_{2};
  projections::segment::SegmentFold fold_;
  std::unique_ptr<fold::FoldRunner> runner_;
  base::FakeClock clock_{kT0 + absl::Hours(24 * 45)};
};

TEST_F(SegmentQueriesTest, CustomerValueAsOfTheClockOrTheRequest) {
  readmodel::segment::SegmentViews views(store_.get());
  SegmentQueries queries(&views, runner_.get(), &clock_, {});
  crm::v1::GetCustomerValueRequest request;
  request.set_name("customers/c1");
  request.set_consistency_token(RegisterWithPurchase("c1"));
  auto value = queries.GetCustomerValue(request, Call());
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->as_of().seconds(), absl::ToUnixSeconds(clock_.Now()));
  EXPECT_EQ(value->rfm().days_since_last_purchase(), 45);
  EXPECT_EQ(value->rfm().cell(), "412");
  EXPECT_EQ(value->value_tier(), crm::v1::ORDINARY);
  EXPECT_EQ(value->lifecycle_stage(), crm::v1::FIRST_CONTACT);

  *request.mutable_as_of() = ToTimestamp(kT0 + absl::Hours(24 * 400));
  value = queries.GetCustomerValue(request, Call());
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->rfm().recency(), 1);

  request.set_name("customers/nobody");
  auto missing = queries.GetCustomerValue(request, Call());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SegmentQueriesTest, MalformedRequestsNameTheField) {
  readmodel::segment::SegmentViews views(store_.get());
  SegmentQueries queries(&views, runner_.get(), &clock_, {});
  crm::v1::GetCustomerValueRequest value;
  value.set_name("clients/c1");
  EXPECT_EQ(BadField(queries.GetCustomerValue(value, Call()).status()), "name");
  value.set_name("customers/c1");
  value.mutable_as_of()->set_nanos(2'000'000'000);
  EXPECT_EQ(BadField(queries.GetCustomerValue(value, Call()).status()), "as_of");

  crm::v1::GetLifecycleFunnelRequest funnel;
  *funnel.mutable_start_time() = ToTimestamp(kT0);
  *funnel.mutable_end_time() = ToTimestamp(kT0);
  EXPECT_EQ(BadField(queries.GetLifecycleFunnel(funnel, Call()).status()), "end_time");
}

TEST_F(SegmentQueriesTest, ServesEveryMethodOverGrpc) {
  readmodel::segment::SegmentViews views(store_.get());
  SegmentQueries queries(&views, runner_.get(), &clock_, {});
  rpc::Executor executor(2, 16);
  SegmentQueryService service(&queries, &executor);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = crm::v1::SegmentService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  auto context = [] {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  };

  const std::string token = RegisterWithPurchase("c1");
  crm::v1::GetSegmentSizesRequest sizes_request;
  sizes_request.set_consistency_token(token);
  crm::v1::SegmentSizes sizes;
  ASSERT_TRUE(stub->GetSegmentSizes(context().get(), sizes_request, &sizes).ok());
  EXPECT_EQ(sizes.customers(), 1);
  EXPECT_EQ(sizes.value_tiers(1).customers(), 1);  // ORDINARY

  crm::v1::GetCustomerValueRequest value_request;
  value_request.set_name("customers/c1");
  crm::v1::CustomerValue value;
  ASSERT_TRUE(stub->GetCustomerValue(context().get(), value_request, &value).ok());
  EXPECT_EQ(value.main_currency(), "CNY");
  value_request.set_name("customers/c2");
  EXPECT_EQ(stub->GetCustomerValue(context().get(), value_request, &value).error_code(),
            grpc::StatusCode::NOT_FOUND);

  crm::v1::LifecycleFunnel funnel;
  ASSERT_TRUE(stub->GetLifecycleFunnel(context().get(), {}, &funnel).ok());
  EXPECT_EQ(funnel.current_stages(crm::v1::FIRST_CONTACT - 1).customers(), 1);
  server->Shutdown();
  executor.Stop();
}

}  // namespace
}  // namespace crm::services::segment
