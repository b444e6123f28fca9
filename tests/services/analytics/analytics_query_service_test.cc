// Tests of AnalyticsQueries (request checks, read-your-writes wait) and of AnalyticsQueryService
// over a real in-process gRPC server.
#include "services/analytics/analytics_query_service.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/uuid.h"
#include "common/eventlog/consistency_token.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/kv/kv_store.h"
#include "common/status/errors.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/complaint/event_codec.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "projections/analytics/analytics_fold.h"
#include "readmodel/analytics/figures.h"

namespace crm::services::analytics {
namespace {

using crm::events::v1::EventEnvelope;

std::string BadField(const absl::Status& status) {
  google::rpc::BadRequest bad;
  if (!crm::status::GetDetail(status, &bad) || bad.field_violations().empty()) return "";
  return bad.field_violations(0).field();
}

class AnalyticsQueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) / ("analytics-q-" + base::NewUuid());
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

  // Appends a complaint filing and returns the consistency token of its position.
  std::string File(const std::string& id, crm::v1::ComplaintCategory category) {
    EventEnvelope e;
    e.set_customer_id("c1");
    e.set_aggregate(absl::StrCat("customers/c1/complaints/", id));
    e.set_aggregate_version(1);
    *e.mutable_occurred_at() =
        readmodel::analytics::ToTimestamp(absl::FromUnixSeconds(1'000'000'000));
    e.mutable_complaint_filed()->set_category(crm::domain::complaint::ToEvent(category));
    e.mutable_complaint_filed()->set_severity(crm::events::v1::MINOR);
    auto position =
        log_.Append("c1", {{e.SerializeAsString(), {}}}, absl::Now() + absl::Seconds(5));
    EXPECT_TRUE(position.ok());
    return eventlog::EncodeConsistencyToken({{position->partition, position->offset}});
  }

  rpc::CallContext Call(absl::Duration timeout = absl::Seconds(10)) {
    rpc::CallContext call;
    call.deadline = absl::Now() + timeout;
    return call;
  }

  std::filesystem::path root_;
  std::unique_ptr<kv::KvStore> store_;
  eventlog::InMemoryEventLog log_{2};
  projections::analytics::AnalyticsFold fold_;
  std::unique_ptr<fold::FoldRunner> runner_;
};

TEST_F(AnalyticsQueriesTest, ConsistencyTokenReadsYourWrite) {
  readmodel::analytics::AnalyticsViews views(store_.get());
  AnalyticsQueries queries(&views, runner_.get(), {});
  for (int i = 0; i < 20; ++i) {
    crm::v1::GetComplaintStatsRequest request;
    request.set_consistency_token(File(absl::StrCat("k", i), crm::v1::LOGISTICS));
    auto stats = queries.GetComplaintStats(request, Call());
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->total(), i + 1);
    EXPECT_EQ(stats->categories(crm::v1::LOGISTICS - 1).count(), i + 1);
  }
}

TEST_F(AnalyticsQueriesTest, TokenNotReachedInTimeIsDeadlineExceeded) {
  readmodel::analytics::AnalyticsViews views(store_.get());
  AnalyticsQueries queries(&views, runner_.get(), {});
  crm::v1::GetSlaComplianceRequest request;
  request.set_consistency_token(eventlog::EncodeConsistencyToken({{0, 1'000'000}}));
  auto answer = queries.GetSlaCompliance(request, Call(absl::Milliseconds(50)));
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(AnalyticsQueriesTest, MalformedRequestsNameTheField) {
  readmodel::analytics::AnalyticsViews views(store_.get());
  AnalyticsQueries queries(&views, runner_.get(), {});

  crm::v1::GetSatisfactionRequest satisfaction;
  satisfaction.mutable_scope()->set_staff_id("Not An Id");
  auto s = queries.GetSatisfaction(satisfaction, Call());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BadField(s.status()), "scope.staff_id");

  crm::v1::GetStaffKpisRequest kpis;
  kpis.mutable_scope()->set_team("t1");
  auto k = queries.GetStaffKpis(kpis, Call());
  EXPECT_EQ(BadField(k.status()), "scope.team");
  kpis.mutable_scope()->set_department("teams/t1");
  EXPECT_EQ(BadField(queries.GetStaffKpis(kpis, Call()).status()), "scope.department");
  kpis.mutable_scope()->set_department("departments/d1");
  EXPECT_TRUE(queries.GetStaffKpis(kpis, Call()).ok());

  crm::v1::GetResponseTimesRequest times;
  times.set_severity(static_cast<crm::v1::ComplaintSeverity>(42));
  EXPECT_EQ(BadField(queries.GetResponseTimes(times, Call()).status()), "severity");

  crm::v1::GetComplaintStatsRequest stats;
  stats.mutable_start_time()->set_seconds(2'000'000'000);
  stats.mutable_end_time()->set_seconds(1'000'000'000);
  EXPECT_EQ(BadField(queries.GetComplaintStats(stats, Call()).status()), "end_time");
  stats.mutable_end_time()->set_nanos(-1);
  EXPECT_EQ(BadField(queries.GetComplaintStats(stats, Call()).status()), "end_time");
  stats.clear_end_time();
  stats.mutable_start_time()->set_seconds(-70'000'000'000);
  EXPECT_EQ(BadField(queries.GetComplaintStats(stats, Call()).status()), "start_time");

  // Windows: on a quarter hour, start before end, a zone the tzdata knows, not with the older
  // bucket window.
  crm::v1::GetSlaComplianceRequest sla;
  sla.mutable_interval()->mutable_start_time()->set_seconds(1'700'000'000 + 60);
  EXPECT_EQ(BadField(queries.GetSlaCompliance(sla, Call()).status()), "interval.start_time");
  sla.mutable_interval()->mutable_start_time()->set_seconds(1'699'999'200);
  EXPECT_TRUE(queries.GetSlaCompliance(sla, Call()).ok());
  sla.mutable_interval()->mutable_end_time()->set_seconds(1'699'999'200);
  EXPECT_EQ(BadField(queries.GetSlaCompliance(sla, Call()).status()), "interval.end_time");
  sla.mutable_interval()->mutable_end_time()->set_seconds(1'699'999'200 + 900);
  sla.mutable_interval()->mutable_end_time()->set_nanos(1);
  EXPECT_EQ(BadField(queries.GetSlaCompliance(sla, Call()).status()), "interval.end_time");
  sla.mutable_interval()->mutable_end_time()->set_nanos(0);
  EXPECT_TRUE(queries.GetSlaCompliance(sla, Call()).ok());
  sla.set_time_zone("Mars/Olympus_Mons");
  auto zone = queries.GetSlaCompliance(sla, Call());
  EXPECT_EQ(zone.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BadField(zone.status()), "time_zone");
  sla.set_time_zone("Asia/Kolkata");
  EXPECT_TRUE(queries.GetSlaCompliance(sla, Call()).ok());
  crm::v1::GetComplaintStatsRequest both;
  both.mutable_start_time()->set_seconds(1'699'999'200);
  both.mutable_interval()->mutable_start_time()->set_seconds(1'699'999'200);
  EXPECT_EQ(BadField(queries.GetComplaintStats(both, Call()).status()), "start_time");

  crm::v1::GetConversionTimeRequest conversion;
  EXPECT_EQ(BadField(queries.GetConversionTime(conversion, Call()).status()), "from_stage");
  conversion.set_from_stage(crm::v1::POTENTIAL);
  conversion.set_to_stage(crm::v1::POTENTIAL);
  EXPECT_EQ(BadField(queries.GetConversionTime(conversion, Call()).status()), "to_stage");
  conversion.set_to_stage(crm::v1::LOYAL);
  EXPECT_TRUE(queries.GetConversionTime(conversion, Call()).ok());

  crm::v1::GetSalesStatsRequest sales;
  sales.mutable_scope()->set_team("sales");
  EXPECT_EQ(BadField(queries.GetSalesStats(sales, Call()).status()), "scope.team");
  sales.clear_scope();
  sales.set_product(std::string(200, 'x'));
  EXPECT_TRUE(queries.GetSalesStats(sales, Call()).ok());
  sales.set_product(std::string(201, 'x'));
  EXPECT_EQ(BadField(queries.GetSalesStats(sales, Call()).status()), "product");
  std::string kettles;
  for (int i = 0; i < 200; ++i) kettles += "壶";  // 200 characters, 600 bytes
  sales.set_product(kettles);
  EXPECT_TRUE(queries.GetSalesStats(sales, Call()).ok());
  sales.set_product("bad\x01product");
  EXPECT_EQ(BadField(queries.GetSalesStats(sales, Call()).status()), "product");

  crm::v1::GetRootCausesRequest causes;
  causes.set_consistency_token("!!not a token!!");
  auto c = queries.GetRootCauses(causes, Call());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BadField(c.status()), "consistency_token");
}

TEST_F(AnalyticsQueriesTest, ServesEveryMethodOverGrpc) {
  readmodel::analytics::AnalyticsViews views(store_.get());
  AnalyticsQueries queries(&views, runner_.get(), {});
  rpc::Executor executor(2, 16);
  AnalyticsQueryService service(&queries, &executor);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = crm::v1::AnalyticsService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  auto context = [] {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  };

  const std::string token = File("k1", crm::v1::BILLING);
  {
    crm::v1::GetComplaintStatsRequest request;
    request.set_consistency_token(token);
    crm::v1::ComplaintStats response;
    ASSERT_TRUE(stub->GetComplaintStats(context().get(), request, &response).ok());
    EXPECT_EQ(response.total(), 1);
  }
  {
    crm::v1::SlaCompliance response;
    EXPECT_TRUE(stub->GetSlaCompliance(context().get(), {}, &response).ok());
    crm::v1::ResponseTimes times;
    EXPECT_TRUE(stub->GetResponseTimes(context().get(), {}, &times).ok());
    crm::v1::Satisfaction satisfaction;
    EXPECT_TRUE(stub->GetSatisfaction(context().get(), {}, &satisfaction).ok());
    EXPECT_EQ(satisfaction.distribution_size(), 5);
    crm::v1::InteractionStats interactions;
    EXPECT_TRUE(stub->GetInteractionStats(context().get(), {}, &interactions).ok());
    crm::v1::RootCauseRanking causes;
    EXPECT_TRUE(stub->GetRootCauses(context().get(), {}, &causes).ok());
    crm::v1::StaffKpis kpis;
    EXPECT_TRUE(stub->GetStaffKpis(context().get(), {}, &kpis).ok());
  }
  {
    crm::v1::GetStaffKpisRequest request;
    request.mutable_scope()->set_staff_id("");
    crm::v1::StaffKpis response;
    grpc::Status status = stub->GetStaffKpis(context().get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  server->Shutdown();
  executor.Stop();
}

}  // namespace
}  // namespace crm::services::analytics
