// The Gatekeeper in a ServiceTable, over a real in-process gRPC server: who calls decides the
// actor, a refused call never reaches its handler, and the answers carry the documented details.
#include "common/rpc/gatekeeper.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/rpc/service_table.h"
#include "crm/v1/segment_service.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace crm::rpc {
namespace {

using crm::v1::GetSegmentSizesRequest;
using crm::v1::SegmentSizes;

// The wire details of a failed call: its ErrorInfo reason and RetryInfo (if any).
struct Wire {
  grpc::StatusCode code;
  std::string reason;
  std::optional<google::rpc::RetryInfo> retry;
};

Wire Parse(const grpc::Status& status) {
  Wire wire{status.error_code(), "", std::nullopt};
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details()));
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&info)) wire.reason = info.reason();
    if (any.UnpackTo(&retry)) wire.retry = retry;
  }
  return wire;
}

class GatekeeperTest : public ::testing::Test {
 protected:
  GatekeeperTest() {
    auth::Principal alice;
    alice.subject = "alice";
    alice.kind = auth::Principal::Kind::kStaff;
    alice.staff_id = "s-alice";
    verifier_.Add("alice-token", alice);
    auth::Principal bob;
    bob.subject = "bob";
    verifier_.Add("bob-token", bob);
  }
  ~GatekeeperTest() override {
    if (server_) server_->Shutdown();
    executor_.Stop();
  }

  // Serves SegmentService whose GetSegmentSizes records who called; `gatekeeper` may be null.
  void Serve(const Gatekeeper* gatekeeper) {
    table_ = std::make_unique<ServiceTable>("crm.v1.SegmentService", &executor_);
    table_->Unary<GetSegmentSizesRequest, SegmentSizes>(
        "GetSegmentSizes", [this](const GetSegmentSizesRequest&, const CallContext& call) {
          absl::MutexLock lock(&mu_);
          calls_.push_back(call);
          return base::Future<SegmentSizes>(SegmentSizes());
        });
    table_->Unary<crm::v1::GetCustomerValueRequest, crm::v1::CustomerValue>(
        "GetCustomerValue", [](const auto&, const auto&) {
          return base::Future<crm::v1::CustomerValue>(crm::v1::CustomerValue());
        });
    table_->Unary<crm::v1::GetLifecycleFunnelRequest, crm::v1::LifecycleFunnel>(
        "GetLifecycleFunnel", [](const auto&, const auto&) {
          return base::Future<crm::v1::LifecycleFunnel>(crm::v1::LifecycleFunnel());
        });
    ASSERT_TRUE(table_->Validate().ok());
    table_->SetGatekeeper(gatekeeper);
    grpc::ServerBuilder builder;
    builder.RegisterService(table_.get());
    server_ = builder.BuildAndStart();
    stub_ = crm::v1::SegmentService::NewStub(server_->InProcessChannel({}));
  }

  grpc::Status Call(const std::string& token, const std::string& actor = "") {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    if (!actor.empty()) context.AddMetadata("x-crm-actor", actor);
    SegmentSizes response;
    return stub_->GetSegmentSizes(&context, GetSegmentSizesRequest(), &response);
  }

  std::vector<CallContext> Calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  auth::FakeTokenVerifier verifier_;
  base::FakeClock clock_;
  Executor executor_{2, 16};
  std::unique_ptr<ServiceTable> table_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<crm::v1::SegmentService::Stub> stub_;
  absl::Mutex mu_;
  std::vector<CallContext> calls_ ABSL_GUARDED_BY(mu_);
};

TEST_F(GatekeeperTest, WithoutAuthenticationTheHeaderNamesTheActor) {
  Gatekeeper open(nullptr, nullptr);
  Serve(&open);
  ASSERT_TRUE(Call("", "dev-bob").ok());
  ASSERT_TRUE(Call("alice-token").ok());  // a token is not even looked at
  std::vector<CallContext> calls = Calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].actor, "dev-bob");
  EXPECT_FALSE(calls[0].principal.has_value());
  EXPECT_EQ(calls[1].actor, "anonymous");
  EXPECT_TRUE(calls[1].authorization.empty());
}

TEST_F(GatekeeperTest, TheTokenNamesTheActorAndRefusedCallsNeverRun) {
  auth::Authenticator authenticator(&verifier_, {});
  Gatekeeper gatekeeper(&authenticator, nullptr);
  Serve(&gatekeeper);
  Wire missing = Parse(Call("", "alice"));
  EXPECT_EQ(missing.code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(missing.reason, "TOKEN_MISSING");
  Wire invalid = Parse(Call("forged", "alice"));
  EXPECT_EQ(invalid.code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(invalid.reason, "TOKEN_INVALID");
  EXPECT_TRUE(Calls().empty()) << "a refused call reached its handler";

  ASSERT_TRUE(Call("alice-token", "mallory").ok());
  std::vector<CallContext> calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].actor, "alice");  // not the forged x-crm-actor
  ASSERT_TRUE(calls[0].principal.has_value());
  EXPECT_EQ(calls[0].principal->staff_id, "s-alice");
  EXPECT_EQ(calls[0].authorization, "Bearer alice-token");  // passed on to other replicas
}

TEST_F(GatekeeperTest, ACallerOverItsRateIsRefusedWithRetryInfoWhileOthersGoOn) {
  auth::Authenticator authenticator(&verifier_, {});
  auth::RateLimiter limiter(*auth::ParseRateLimit("4/s", 2), &clock_);
  Gatekeeper gatekeeper(&authenticator, &limiter);
  Serve(&gatekeeper);
  EXPECT_TRUE(Call("alice-token").ok());
  EXPECT_TRUE(Call("alice-token").ok());
  Wire limited = Parse(Call("alice-token"));
  EXPECT_EQ(limited.code, grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(limited.reason, "RATE_LIMITED");
  ASSERT_TRUE(limited.retry.has_value());
  EXPECT_EQ(limited.retry->retry_delay().nanos(), 250'000'000);
  EXPECT_TRUE(Call("bob-token").ok());
  // Unauthenticated calls are refused before they count against anyone.
  EXPECT_EQ(Call("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  clock_.Advance(absl::Milliseconds(250));
  EXPECT_TRUE(Call("alice-token").ok());
  EXPECT_EQ(Calls().size(), 4u);
}

TEST_F(GatekeeperTest, WithoutAuthenticationTheRateIsPerActorHeader) {
  auth::RateLimiter limiter(*auth::ParseRateLimit("1/m", 1), &clock_);
  Gatekeeper gatekeeper(nullptr, &limiter);
  Serve(&gatekeeper);
  EXPECT_TRUE(Call("", "a").ok());
  EXPECT_EQ(Call("", "a").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Call("", "b").ok());
  EXPECT_TRUE(Call("").ok());  // "anonymous"
  EXPECT_EQ(Call("").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

}  // namespace
}  // namespace crm::rpc
