// The two gRPC front ends over an in-process server: requests parsed from raw bytes, answers and
// errors (with google.rpc details) on the wire.
#include <memory>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/interaction/interaction_command_service.h"
#include "services/interaction/interaction_query_service.h"
#include "tests/services/interaction/interaction_test_env.h"

namespace crm::services::interaction {
namespace {

class InteractionGrpcTest : public testing::InteractionTestEnv {
 protected:
  void SetUp() override {
    InteractionTestEnv::SetUp();
    SeedCustomer("acme");
    SeedStaff("ann");
    queries_ = std::make_unique<InteractionQueries>(views_store_.get(), views_runner_.get(),
                                                    &clock_, InteractionQueries::Options{});
    command_service_ =
        std::make_unique<InteractionCommandService>(handler_.get(), nullptr, &rpc_executor_);
    query_service_ = std::make_unique<InteractionQueryService>(queries_.get(), &rpc_executor_);
    grpc::ServerBuilder builder;
    builder.RegisterService(command_service_.get());
    builder.RegisterService(query_service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    auto channel = server_->InProcessChannel({});
    commands_ = crm::v1::InteractionCommandService::NewStub(channel);
    reads_ = crm::v1::InteractionQueryService::NewStub(channel);
  }
  void TearDown() override {
    server_->Shutdown();
    rpc_executor_.Stop();
    InteractionTestEnv::TearDown();
  }

  rpc::Executor rpc_executor_{2, 64};
  std::unique_ptr<InteractionQueries> queries_;
  std::unique_ptr<InteractionCommandService> command_service_;
  std::unique_ptr<InteractionQueryService> query_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<crm::v1::InteractionCommandService::Stub> commands_;
  std::unique_ptr<crm::v1::InteractionQueryService::Stub> reads_;
};

TEST_F(InteractionGrpcTest, LogCompleteAndReadBackOverTheWire) {
  grpc::ClientContext log_ctx;
  crm::v1::InteractionCommandResponse logged;
  auto request = LogRequest("acme", "req-wire");
  grpc::Status status = commands_->LogInteraction(&log_ctx, request, &logged);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // The id was chosen (from the request id) before routing, and is the one logged.
  EXPECT_EQ(logged.interaction().name(),
            "customers/acme/interactions/" + InteractionIdFor(request));
  EXPECT_EQ(logged.appended_event_count(), 1);

  clock_.Advance(absl::Hours(1));
  grpc::ClientContext complete_ctx;
  crm::v1::CompleteFollowUpRequest complete;
  complete.set_name(logged.interaction().name());
  complete.set_etag(logged.interaction().etag());
  crm::v1::InteractionCommandResponse completed;
  status = commands_->CompleteFollowUp(&complete_ctx, complete, &completed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(completed.interaction().version(), 2);

  grpc::ClientContext timeline_ctx;
  crm::v1::GetCustomerTimelineRequest timeline;
  timeline.set_parent("customers/acme");
  timeline.set_consistency_token(completed.consistency_token());
  crm::v1::GetCustomerTimelineResponse entries;
  status = reads_->GetCustomerTimeline(&timeline_ctx, timeline, &entries);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(entries.entries_size(), 3);
  EXPECT_EQ(entries.entries(0).kind(), crm::v1::TIMELINE_FOLLOW_UP);

  grpc::ClientContext get_ctx;
  crm::v1::GetInteractionRequest get;
  get.set_name(logged.interaction().name());
  crm::v1::Interaction interaction;
  status = reads_->GetInteraction(&get_ctx, get, &interaction);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(interaction.etag(), "v2");

  grpc::ClientContext list_ctx;
  crm::v1::ListFollowUpsRequest follow_ups;
  follow_ups.set_staff_id("ann");
  crm::v1::ListFollowUpsResponse open;
  status = reads_->ListFollowUps(&list_ctx, follow_ups, &open);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(open.follow_ups_size(), 0);
}

TEST_F(InteractionGrpcTest, BadRequestCarriesTheFieldOnTheWire) {
  grpc::ClientContext ctx;
  auto request = LogRequest();
  request.mutable_interaction()->clear_channel();
  crm::v1::InteractionCommandResponse response;
  grpc::Status status = commands_->LogInteraction(&ctx, request, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  bool found = false;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&bad)) {
      ASSERT_GT(bad.field_violations_size(), 0);
      EXPECT_EQ(bad.field_violations(0).field(), "interaction.channel");
      found = true;
    }
  }
  EXPECT_TRUE(found);

  grpc::ClientContext get_ctx;
  crm::v1::GetInteractionRequest get;
  get.set_name("customers/acme/interactions/ghost");
  crm::v1::Interaction interaction;
  EXPECT_EQ(reads_->GetInteraction(&get_ctx, get, &interaction).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace crm::services::interaction
