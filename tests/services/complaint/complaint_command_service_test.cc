// ComplaintCommandService over an in-process gRPC server: raw request bytes in, answers and
// errors (with google.rpc details) on the wire; the complaint id chosen before routing.
#include "services/complaint/complaint_command_service.h"

#include <memory>
#include <string>

#include "common/rpc/executor.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/services/complaint/complaint_test_env.h"

namespace crm::services::complaint {
namespace {

using testing::ComplaintEnv;

class ComplaintGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.RegisterCustomer("acme");
    env_.AddStaff("sup-1", crm::v1::SUPERVISOR);
    env_.AddStaff("agent-1", crm::v1::SERVICE_AGENT, "sup-1");
    service_ =
        std::make_unique<ComplaintCommandService>(env_.handler_.get(), nullptr, &rpc_executor_);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = crm::v1::ComplaintCommandService::NewStub(server_->InProcessChannel({}));
  }
  void TearDown() override {
    server_->Shutdown();
    rpc_executor_.Stop();
  }

  static google::rpc::ErrorInfo InfoOf(const grpc::Status& status) {
    google::rpc::Status details;
    google::rpc::ErrorInfo info;
    if (details.ParseFromString(status.error_details())) {
      for (const auto& any : details.details()) {
        if (any.UnpackTo(&info)) break;
      }
    }
    return info;
  }

  ComplaintEnv env_;
  rpc::Executor rpc_executor_{2, 64};
  std::unique_ptr<ComplaintCommandService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<crm::v1::ComplaintCommandService::Stub> stub_;
};

TEST_F(ComplaintGrpcTest, FlowOverTheWire) {
  crm::v1::FileComplaintRequest file;
  file.set_parent("customers/acme");
  file.set_request_id("req-wire");
  file.mutable_complaint()->set_channel(crm::v1::SOCIAL_MEDIA);
  file.mutable_complaint()->set_category(crm::v1::SERVICE_ATTITUDE);
  file.mutable_complaint()->set_severity(crm::v1::MINOR);
  file.mutable_complaint()->set_description("rude on the phone");
  crm::v1::ComplaintCommandResponse filed;
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-crm-actor", "bob");
    grpc::Status status = stub_->FileComplaint(&ctx, file, &filed);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  // The id was derived from the request id before routing.
  EXPECT_EQ(filed.complaint().name(), "customers/acme/complaints/" + ComplaintIdFor(file));
  EXPECT_EQ(filed.appended_event_count(), 1);
  EXPECT_EQ(env_.EventsOf(filed.complaint().name())[0].actor(), "bob");
  const std::string name = filed.complaint().name();

  crm::v1::AcknowledgeComplaintRequest ack;
  ack.set_name(name);
  ack.set_etag(filed.complaint().etag());
  crm::v1::ComplaintCommandResponse r;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->AcknowledgeComplaint(&ctx, ack, &r).ok());
  }
  crm::v1::AssignComplaintRequest assign;
  assign.set_name(name);
  assign.set_assignee("agent-1");
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->AssignComplaint(&ctx, assign, &r).ok());
  }
  crm::v1::EscalateComplaintRequest escalate;
  escalate.set_name(name);
  escalate.set_reason("VIP");
  {
    grpc::ClientContext ctx;
    grpc::Status status = stub_->EscalateComplaint(&ctx, escalate, &r);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(r.complaint().escalated_to().staff_id(), "sup-1");
  crm::v1::StartInvestigationRequest start;
  start.set_name(name);
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->StartInvestigation(&ctx, start, &r).ok());
  }
  crm::v1::ResolveComplaintRequest resolve;
  resolve.set_name(name);
  resolve.set_resolution("apologised, coached the agent");
  resolve.set_root_cause(crm::v1::STAFF_BEHAVIOUR);
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->ResolveComplaint(&ctx, resolve, &r).ok());
  }
  crm::v1::RecordFollowUpVisitRequest visit;
  visit.set_name(name);
  visit.mutable_visit()->set_satisfied(false);
  visit.mutable_visit()->set_csat(2);
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->RecordFollowUpVisit(&ctx, visit, &r).ok());
  }
  crm::v1::ReopenComplaintRequest reopen;
  reopen.set_name(name);
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->ReopenComplaint(&ctx, reopen, &r).ok());
  }
  EXPECT_EQ(r.complaint().status(), crm::v1::REOPENED);

  // An invalid transition: FAILED_PRECONDITION naming the current status, with ErrorInfo.
  crm::v1::CloseComplaintRequest close;
  close.set_name(name);
  grpc::ClientContext ctx;
  grpc::Status status = stub_->CloseComplaint(&ctx, close, &r);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("is REOPENED; CloseComplaint needs"));
  const google::rpc::ErrorInfo info = InfoOf(status);
  EXPECT_EQ(info.reason(), "TRANSITION_NOT_ALLOWED");
  EXPECT_EQ(info.domain(), "crm.v1");
  EXPECT_EQ(info.metadata().at("current_status"), "REOPENED");
}

TEST_F(ComplaintGrpcTest, BadNameIsInvalidArgumentNamingTheField) {
  crm::v1::CloseComplaintRequest close;
  close.set_name("complaints/c1");
  crm::v1::ComplaintCommandResponse r;
  grpc::ClientContext ctx;
  grpc::Status status = stub_->CloseComplaint(&ctx, close, &r);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(InfoOf(status).metadata().at("field"), "name");
}

}  // namespace
}  // namespace crm::services::complaint
