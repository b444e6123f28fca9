// The audit of reads in the ServiceTable (common/rpc/auditor.h): which customers an answer
// carries (CustomersIn), and over a real in-process gRPC server that an audited answer is released
// only once its record is durable, an unrecordable one answers UNAVAILABLE, and failed or empty
// answers record nothing.
#include "common/rpc/auditor.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/rpc/service_table.h"
#include "crm/v1/complaint_query_service.pb.h"
#include "crm/v1/customer_service.pb.h"
#include "crm/v1/interaction_service.pb.h"
#include "crm/v1/segment_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace crm::rpc {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(CustomersInTest, ReadsNamesReferencesAndCustomerIdsOnceInOrder) {
  crm::v1::ListCustomersResponse page;
  page.add_customers()->set_name("customers/b");
  page.add_customers()->set_name("customers/a");
  page.add_customers()->set_name("customers/b");       // once
  page.mutable_customers(1)->set_owner("staff/s1");    // not a customer
  page.mutable_customers(1)->add_tags("customers/x");  // free text, not a reference
  (*page.mutable_customers(1)->mutable_attributes())["note"] = "customers/y";  // a map: skipped
  EXPECT_THAT(CustomersIn(page), ElementsAre("customers/b", "customers/a"));
}

TEST(CustomersInTest, ReadsNestedMessagesAndChildResources) {
  crm::v1::ListFollowUpsResponse follow_ups;
  follow_ups.add_follow_ups()->mutable_interaction()->set_name("customers/c1/interactions/i1");
  follow_ups.add_follow_ups()->mutable_interaction()->set_name("customers/c2/interactions/i9");
  EXPECT_THAT(CustomersIn(follow_ups), ElementsAre("customers/c1", "customers/c2"));

  crm::v1::GetCustomerHistoryResponse history;  // events carry customer_id
  history.add_events()->set_customer_id("c3");
  history.add_events()->set_customer_id("c3");
  EXPECT_THAT(CustomersIn(history), ElementsAre("customers/c3"));

  crm::v1::GetComplaintHistoryResponse complaint;
  complaint.add_events()->set_aggregate("customers/c4/complaints/k1");
  EXPECT_THAT(CustomersIn(complaint), ElementsAre("customers/c4"));
}

TEST(CustomersInTest, AnEmptyAnswerOrAWildcardCarriesNoCustomer) {
  EXPECT_THAT(CustomersIn(crm::v1::ListCustomersResponse()), IsEmpty());
  crm::v1::CustomerValue value;
  value.set_name("customers/-");
  EXPECT_THAT(CustomersIn(value), IsEmpty());
  value.set_name("departments/d1");
  EXPECT_THAT(CustomersIn(value), IsEmpty());
  EXPECT_THAT(EveryCustomer(value), ElementsAre("*"));
}

// Records reads; refuses them while `fail` is set.
class FakeAuditor : public Auditor {
 public:
  base::Future<base::Done> Record(ReadRecord record) override {
    absl::MutexLock lock(&mu_);
    if (fail_) return absl::UnavailableError("disk full");
    records_.push_back(std::move(record));
    return base::Done{};
  }
  void set_fail(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_ = fail;
  }
  std::vector<ReadRecord> records() {
    absl::MutexLock lock(&mu_);
    return records_;
  }

 private:
  absl::Mutex mu_;
  bool fail_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<ReadRecord> records_ ABSL_GUARDED_BY(mu_);
};

class AuditedTableTest : public ::testing::Test {
 protected:
  AuditedTableTest() {
    table_.Unary<crm::v1::GetCustomerValueRequest, crm::v1::CustomerValue>(
        "GetCustomerValue",
        [](const crm::v1::GetCustomerValueRequest& request,
           const CallContext&) -> base::Future<crm::v1::CustomerValue> {
          if (request.name() == "customers/missing") return absl::NotFoundError("no such");
          crm::v1::CustomerValue value;
          value.set_name(request.name());  // "" for an answer that carries nobody
          return value;
        });
    table_.Unary<crm::v1::GetSegmentSizesRequest, crm::v1::SegmentSizes>(
        "GetSegmentSizes", [](const auto&, const auto&) {
          return base::Future<crm::v1::SegmentSizes>(crm::v1::SegmentSizes());
        });
    table_.Unary<crm::v1::GetLifecycleFunnelRequest, crm::v1::LifecycleFunnel>(
        "GetLifecycleFunnel", [](const auto&, const auto&) {
          return base::Future<crm::v1::LifecycleFunnel>(crm::v1::LifecycleFunnel());
        });
    table_.AuditReads({"GetCustomerValue"});
    EXPECT_TRUE(table_.Validate().ok()) << table_.Validate();
    table_.SetAuditor(&auditor_);
    grpc::ServerBuilder builder;
    builder.RegisterService(&table_);
    server_ = builder.BuildAndStart();
    stub_ = crm::v1::SegmentService::NewStub(server_->InProcessChannel({}));
  }
  ~AuditedTableTest() override {
    server_->Shutdown();
    executor_.Stop();
  }

  grpc::Status Get(const std::string& name, crm::v1::CustomerValue* out = nullptr) {
    grpc::ClientContext context;
    context.AddMetadata("x-crm-actor", "dev-alice");
    context.AddMetadata("x-correlation-id", "corr-1");
    crm::v1::GetCustomerValueRequest request;
    request.set_name(name);
    crm::v1::CustomerValue response;
    grpc::Status status = stub_->GetCustomerValue(&context, request, &response);
    if (out != nullptr) *out = response;
    return status;
  }

  Executor executor_{2, 16};
  ServiceTable table_{"crm.v1.SegmentService", &executor_};
  FakeAuditor auditor_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<crm::v1::SegmentService::Stub> stub_;
};

TEST_F(AuditedTableTest, AnAnsweredReadIsRecordedWithWhoAndWhat) {
  crm::v1::CustomerValue value;
  ASSERT_TRUE(Get("customers/c1", &value).ok());
  EXPECT_EQ(value.name(), "customers/c1");
  std::vector<ReadRecord> records = auditor_.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].subject, "dev-alice");
  EXPECT_EQ(records[0].principal_kind, "unauthenticated");
  EXPECT_EQ(records[0].method, "/crm.v1.SegmentService/GetCustomerValue");
  EXPECT_EQ(records[0].correlation_id, "corr-1");
  EXPECT_THAT(records[0].customers, ElementsAre("customers/c1"));
  // A method not marked is not audited.
  grpc::ClientContext context;
  crm::v1::SegmentSizes sizes;
  ASSERT_TRUE(stub_->GetSegmentSizes(&context, crm::v1::GetSegmentSizesRequest(), &sizes).ok());
  EXPECT_EQ(auditor_.records().size(), 1u);
}

TEST_F(AuditedTableTest, ErrorsAndAnswersWithoutCustomersRecordNothing) {
  EXPECT_EQ(Get("customers/missing").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Get("").ok());
  EXPECT_THAT(auditor_.records(), IsEmpty());
}

TEST_F(AuditedTableTest, AnUnrecordableReadIsWithheld) {
  auditor_.set_fail(true);
  crm::v1::CustomerValue value;
  grpc::Status status = Get("customers/c1", &value);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(value.name().empty()) << "the data left without its record";
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  google::rpc::ErrorInfo info;
  ASSERT_EQ(details.details_size(), 1);
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "AUDIT_UNAVAILABLE");
  // Failure-free reads pass again once the audit log takes records.
  auditor_.set_fail(false);
  EXPECT_TRUE(Get("customers/c1").ok());
  EXPECT_EQ(auditor_.records().size(), 1u);
}

TEST(ServiceTableAuditTest, AuditingAnUnregisteredMethodFailsValidation) {
  Executor executor(1, 1);
  ServiceTable table("crm.v1.SegmentService", &executor);
  table.AuditReads({"GetCustomerValue"});
  absl::Status status = table.Validate();
  EXPECT_NE(status.message().find("GetCustomerValue is audited but not registered"),
            std::string::npos)
      << status;
}

}  // namespace
}  // namespace crm::rpc
