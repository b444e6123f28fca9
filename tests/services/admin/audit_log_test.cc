// The audit of reads on its log (services/admin/audit_log.h) and its query
// (Admin::ListAuditRecords): what a record holds, where it is keyed, what a failed append does, and
// the filters and pages of the query.
#include "services/admin/audit_log.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/base/time_util.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/status/errors.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/admin/admin_service.h"

namespace crm::services::admin {
namespace {

namespace adminv1 = crm::admin::v1;
using ::testing::ElementsAre;

// A log whose appends fail (a full disk, an unreachable broker).
class BrokenLog : public eventlog::EventLog {
 public:
  int32_t PartitionCount() const override { return 1; }
  int32_t PartitionOf(absl::string_view) const override { return 0; }
  absl::StatusOr<eventlog::LogPosition> Append(absl::string_view,
                                               std::vector<eventlog::AppendValue>,
                                               absl::Time) override {
    return absl::UnavailableError("no space left on device");
  }
  absl::StatusOr<std::unique_ptr<eventlog::LogReader>> NewReader(
      const std::map<int32_t, int64_t>&) override {
    return absl::UnavailableError("broken");
  }
  absl::StatusOr<int64_t> EndOffset(int32_t) override { return 0; }
};

double Count(const char* name) {
  // The counters are process-wide; tests compare before and after.
  return metrics::Registry::Default().Counters(name, "").Add({}).Value();
}

rpc::ReadRecord Read(std::string subject, std::string method, std::vector<std::string> customers) {
  rpc::ReadRecord read;
  read.subject = std::move(subject);
  read.principal_kind = "staff";
  read.method = std::move(method);
  read.customers = std::move(customers);
  read.deadline = absl::Now() + absl::Seconds(10);
  return read;
}

TEST(AuditLogTest, ARecordHoldsTheReadAndIsKeyedBySubject) {
  eventlog::InMemoryEventLog log(3);
  AuditLog audit(&log, "crm-test");
  const double before = Count("crm_audit_records_total");
  rpc::ReadRecord read =
      Read("alice", "/crm.v1.CustomerQueryService/GetCustomer", {"customers/c1"});
  read.peer_identity = "spiffe://crm/bi";
  read.correlation_id = "corr";
  ASSERT_TRUE(std::move(audit.Record(read)).Get().ok());
  EXPECT_EQ(Count("crm_audit_records_total"), before + 1);

  const int32_t p = log.PartitionOf("alice");
  auto reader = log.NewReader({{p, 0}});
  ASSERT_TRUE(reader.ok());
  auto records = (*reader)->Poll(10, absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].key, "alice");
  absl::StatusOr<adminv1::AuditRecord> record = AuditLog::Decode((*records)[0]);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->subject(), "alice");
  EXPECT_EQ(record->principal_kind(), "staff");
  EXPECT_EQ(record->peer_identity(), "spiffe://crm/bi");
  EXPECT_EQ(record->method(), "/crm.v1.CustomerQueryService/GetCustomer");
  EXPECT_EQ(record->correlation_id(), "corr");
  EXPECT_EQ(record->server(), "crm-test");
  EXPECT_THAT(record->customers(), ElementsAre("customers/c1"));
  EXPECT_GT(record->record_time().seconds(), 0);
}

TEST(AuditLogTest, AFailedAppendIsAnErrorAndCounted) {
  BrokenLog log;
  AuditLog audit(&log, "crm-test");
  const double before = Count("crm_audit_write_failures_total");
  absl::StatusOr<base::Done> done =
      std::move(audit.Record(Read("alice", "/m/GetCustomer", {"customers/c1"}))).Get();
  EXPECT_EQ(done.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Count("crm_audit_write_failures_total"), before + 1);
}

class ListAuditRecordsTest : public ::testing::Test {
 protected:
  ListAuditRecordsTest() : audit_(&log_, "crm-test") {
    record("alice", "/crm.v1.CustomerQueryService/GetCustomer", {"customers/c1"});
    record("bob", "/crm.v1.CustomerQueryService/ListCustomers", {"customers/c1", "customers/c2"});
    record("alice", "/crm.v1.InteractionQueryService/GetCustomerTimeline", {"customers/c2"});
    record("bob", "/crm.admin.v1.BackupService/CreateBackup", {"*"});
    record("carol", "/crm.v1.CustomerQueryService/GetCustomer", {"customers/c3"});
  }

  void record(const std::string& subject, const std::string& method,
              std::vector<std::string> customers) {
    ASSERT_TRUE(std::move(audit_.Record(Read(subject, method, std::move(customers)))).Get().ok());
  }

  // Every record the request's filters select, following pages of `page_size`.
  std::vector<std::string> All(adminv1::ListAuditRecordsRequest request, int page_size = 2) {
    request.set_page_size(page_size);
    std::vector<std::string> out;
    for (int pages = 0; pages < 100; ++pages) {
      absl::StatusOr<adminv1::ListAuditRecordsResponse> page =
          admin_.ListAuditRecords(request, rpc::CallContext());
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      EXPECT_LE(page->audit_records_size(), page_size);
      for (const auto& r : page->audit_records()) {
        out.push_back(r.subject() + " " + r.method().substr(r.method().rfind('/') + 1));
      }
      if (page->next_page_token().empty()) break;
      request.set_page_token(page->next_page_token());
    }
    return out;
  }

  eventlog::InMemoryEventLog log_{1};  // one partition: the order is the order of the reads
  AuditLog audit_;
  Admin admin_{ProcessInfo{.binary = "crm-test", .engine = "embedded", .audit_log = &log_}};
};

TEST_F(ListAuditRecordsTest, OldestFirstAcrossPages) {
  EXPECT_THAT(All({}),
              ElementsAre("alice GetCustomer", "bob ListCustomers", "alice GetCustomerTimeline",
                          "bob CreateBackup", "carol GetCustomer"));
}

TEST_F(ListAuditRecordsTest, FiltersByCustomerSubjectMethodAndTime) {
  adminv1::ListAuditRecordsRequest by_customer;
  by_customer.set_customer("customers/c2");
  // A backup's "*" carried every customer.
  EXPECT_THAT(All(by_customer),
              ElementsAre("bob ListCustomers", "alice GetCustomerTimeline", "bob CreateBackup"));
  adminv1::ListAuditRecordsRequest by_subject;
  by_subject.set_subject("alice");
  EXPECT_THAT(All(by_subject), ElementsAre("alice GetCustomer", "alice GetCustomerTimeline"));
  adminv1::ListAuditRecordsRequest by_method;
  by_method.set_method("GetCustomer");  // the short name; not GetCustomerTimeline
  EXPECT_THAT(All(by_method), ElementsAre("alice GetCustomer", "carol GetCustomer"));
  by_method.set_method("/crm.admin.v1.BackupService/CreateBackup");
  EXPECT_THAT(All(by_method), ElementsAre("bob CreateBackup"));
  adminv1::ListAuditRecordsRequest later;
  *later.mutable_start_time() = base::ToTimestamp(absl::Now() + absl::Hours(1));
  EXPECT_TRUE(All(later).empty());
  adminv1::ListAuditRecordsRequest earlier;
  *earlier.mutable_end_time() = base::ToTimestamp(absl::Now() + absl::Hours(1));
  EXPECT_EQ(All(earlier).size(), 5u);
}

TEST_F(ListAuditRecordsTest, ResumesWithWhatWasRecordedSince) {
  adminv1::ListAuditRecordsRequest request;
  request.set_page_size(100);
  absl::StatusOr<adminv1::ListAuditRecordsResponse> page =
      admin_.ListAuditRecords(request, rpc::CallContext());
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->audit_records_size(), 5);
  EXPECT_TRUE(page->next_page_token().empty());
  record("dave", "/crm.v1.ComplaintQueryService/GetComplaint", {"customers/c4"});
  request.set_page_token(page->resume_page_token());
  page = admin_.ListAuditRecords(request, rpc::CallContext());
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->audit_records_size(), 1);
  EXPECT_EQ(page->audit_records(0).subject(), "dave");
}

TEST_F(ListAuditRecordsTest, BadArgumentsAreNamed) {
  for (const char* bad : {"c1", "customers/", "customers/a/b", "staff/s1"}) {
    adminv1::ListAuditRecordsRequest request;
    request.set_customer(bad);
    absl::StatusOr<adminv1::ListAuditRecordsResponse> page =
        admin_.ListAuditRecords(request, rpc::CallContext());
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  adminv1::ListAuditRecordsRequest request;
  request.set_page_size(1);
  absl::StatusOr<adminv1::ListAuditRecordsResponse> page =
      admin_.ListAuditRecords(request, rpc::CallContext());
  ASSERT_TRUE(page.ok());
  ASSERT_FALSE(page->next_page_token().empty());
  request.set_subject("alice");  // the token was made for other filters
  request.set_page_token(page->next_page_token());
  EXPECT_EQ(admin_.ListAuditRecords(request, rpc::CallContext()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ListAuditRecordsWithoutLogTest, IsAFailedPrecondition) {
  Admin admin(ProcessInfo{.binary = "crm-test"});
  EXPECT_EQ(admin.ListAuditRecords({}, rpc::CallContext()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace crm::services::admin
