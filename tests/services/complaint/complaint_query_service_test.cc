#include "services/complaint/complaint_query_service.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/uuid.h"
#include "common/eventlog/consistency_token.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/kv/kv_store.h"
#include "common/status/errors.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "projections/complaint/complaint_view_fold.h"
#include "tests/projections/complaint/complaint_event_builders.h"

namespace crm::services::complaint {
namespace {

using namespace crm::testing::complaint;  // NOLINT: test builders

std::string ReasonOf(const absl::Status& s) {
  google::rpc::ErrorInfo info;
  return status::GetDetail(s, &info) ? info.reason() : "";
}
std::string BadFieldOf(const absl::Status& s) {
  google::rpc::BadRequest bad;
  if (!status::GetDetail(s, &bad) || bad.field_violations().empty()) return "";
  return bad.field_violations(0).field();
}

// The query logic over a live runner folding an in-memory log, as in a server.
class ComplaintQueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) / ("cp-query-" + base::NewUuid());
    store_ = *kv::KvStore::Open(root_.string());
    runner_ = std::make_unique<fold::FoldRunner>(&log_, store_.get(), &fold_,
                                                 fold::FoldRunner::Options{.name = "views"});
    ASSERT_TRUE(runner_->Start().ok());
    views_ = std::make_unique<readmodel::complaint::ComplaintViews>(store_.get(), &clock_);
    queries_ = std::make_unique<ComplaintQueries>(
        views_.get(), runner_.get(),
        ComplaintQueries::Options{.max_consistency_wait = absl::Seconds(10)});
  }
  void TearDown() override {
    runner_->Stop();
    queries_.reset();
    views_.reset();
    runner_.reset();
    store_.reset();
    std::filesystem::remove_all(root_);
  }

  // Appends the event and returns the consistency token of its position.
  std::string Append(const EventEnvelope& e) {
    auto pos =
        log_.Append(e.customer_id(), {{e.SerializeAsString(), {}}}, absl::Now() + absl::Seconds(5));
    EXPECT_TRUE(pos.ok()) << pos.status();
    token_ = eventlog::EncodeConsistencyToken({{pos->partition, pos->offset}});
    return token_;
  }
  // Files complaint `id` of `customer` and takes it `steps` events into the standard flow.
  std::string Make(const std::string& customer, const std::string& id, int steps,
                   crm::v1::ComplaintSeverity severity = crm::v1::SEVERE,
                   const std::string& assignee = "alice") {
    const std::string name = ComplaintName(customer, id);
    std::vector<EventEnvelope> flow = {
        Filed(crm::v1::LOGISTICS, severity, T0() + absl::Hours(4), T0() + absl::Hours(24)),
        Acknowledged("sam"),
        Assigned(assignee),
        InvestigationStarted(assignee),
        Resolved(assignee, crm::v1::DELIVERY_DELAY),
        FollowUp(true, 5, assignee),
        Closed(),
    };
    for (int v = 0; v < steps; ++v) Append(Stamp(name, v + 1, T0(), flow[v]));
    return name;
  }
  rpc::CallContext Call() const {
    rpc::CallContext call;
    call.deadline = absl::Now() + absl::Seconds(10);
    return call;
  }
  crm::v1::ListComplaintsResponse List(crm::v1::ListComplaintsRequest request) {
    request.set_consistency_token(token_);
    auto response = queries_->List(request, Call());
    EXPECT_TRUE(response.ok()) << response.status();
    return response.value_or(crm::v1::ListComplaintsResponse());
  }
  std::vector<std::string> Names(const crm::v1::ListComplaintsResponse& response) {
    std::vector<std::string> out;
    for (const auto& c : response.complaints()) out.push_back(c.name());
    return out;
  }

  std::filesystem::path root_;
  eventlog::InMemoryEventLog log_{2};
  std::unique_ptr<kv::KvStore> store_;
  projections::complaint::ComplaintViewFold fold_;
  std::unique_ptr<fold::FoldRunner> runner_;
  base::FakeClock clock_{T0()};
  std::unique_ptr<readmodel::complaint::ComplaintViews> views_;
  std::unique_ptr<ComplaintQueries> queries_;
  std::string token_;
};

TEST_F(ComplaintQueriesTest, GetReadsItsOwnWritesWithTheToken) {
  const std::string name = ComplaintName("acme", "c1");
  crm::v1::GetComplaintRequest request;
  request.set_name(name);
  request.set_consistency_token(Append(Stamp(
      name, 1, T0(),
      Filed(crm::v1::BILLING, crm::v1::GENERAL, T0() + absl::Hours(24), T0() + absl::Hours(72)))));
  auto got = queries_->Get(request, Call());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status(), crm::v1::FILED);
  EXPECT_EQ(got->etag(), "v1");

  request.set_consistency_token(Append(Stamp(name, 2, T0(), Acknowledged("sam"))));
  got = queries_->Get(request, Call());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status(), crm::v1::ACKNOWLEDGED);
  EXPECT_EQ(got->version(), 2);
}

TEST_F(ComplaintQueriesTest, GetErrors) {
  Make("acme", "c1", 1);
  crm::v1::GetComplaintRequest request;
  request.set_consistency_token(token_);
  request.set_name(ComplaintName("acme", "nope"));
  auto got = queries_->Get(request, Call());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReasonOf(got.status()), "COMPLAINT_NOT_FOUND");
  google::rpc::ResourceInfo info;
  EXPECT_TRUE(status::GetDetail(got.status(), &info));
  EXPECT_EQ(info.resource_name(), ComplaintName("acme", "nope"));

  for (const std::string bad : {"", "customers/acme", "customers/acme/complaints/",
                                "customers/ACME/complaints/c1", "customers/acme/complaint/c1",
                                "customers/acme/complaints/c1/x", "customers/-a/complaints/c1"}) {
    request.set_name(bad);
    got = queries_->Get(request, Call());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(BadFieldOf(got.status()), "name") << bad;
  }

  request.set_name(ComplaintName("acme", "c1"));
  request.set_consistency_token("not a token!");
  got = queries_->Get(request, Call());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BadFieldOf(got.status()), "consistency_token");
}

TEST_F(ComplaintQueriesTest, TokenAheadOfTheViewsTimesOutWithinTheDeadline) {
  Make("acme", "c1", 1);
  crm::v1::GetComplaintRequest request;
  request.set_name(ComplaintName("acme", "c1"));
  request.set_consistency_token(eventlog::EncodeConsistencyToken({{0, 1'000'000}}));
  rpc::CallContext call;
  call.deadline = absl::Now() + absl::Milliseconds(50);
  auto got = queries_->Get(request, call);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ReasonOf(got.status()), "CONSISTENCY_WAIT_EXCEEDED");
}

TEST_F(ComplaintQueriesTest, HistoryPagesThroughEveryEvent) {
  const std::string name = Make("acme", "c1", 7);
  Make("acme", "c2", 2);
  crm::v1::GetComplaintHistoryRequest request;
  request.set_name(name);
  request.set_page_size(3);
  request.set_consistency_token(token_);
  std::vector<int64_t> versions;
  std::vector<size_t> sizes;
  for (int guard = 0; guard < 10; ++guard) {
    auto page = queries_->History(request, Call());
    ASSERT_TRUE(page.ok()) << page.status();
    sizes.push_back(page->events_size());
    for (const auto& e : page->events()) {
      EXPECT_EQ(e.aggregate(), name);
      versions.push_back(e.aggregate_version());
    }
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(versions, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 1}));

  // A token of one complaint's history is refused for another's.
  request.set_page_size(3);
  request.clear_page_token();
  auto first = queries_->History(request, Call());
  ASSERT_TRUE(first.ok());
  request.set_name(ComplaintName("acme", "c2"));
  request.set_page_token(first->next_page_token());
  EXPECT_EQ(BadFieldOf(queries_->History(request, Call()).status()), "page_token");

  request.clear_page_token();
  request.set_name(ComplaintName("acme", "none"));
  EXPECT_EQ(queries_->History(request, Call()).status().code(), absl::StatusCode::kNotFound);
  request.set_name(name);
  request.set_page_size(-1);
  EXPECT_EQ(BadFieldOf(queries_->History(request, Call()).status()), "page_size");
}

TEST_F(ComplaintQueriesTest, ListFiltersByParentAndFields) {
  const std::string a1 = Make("acme", "a1", 3, crm::v1::SEVERE, "alice");   // ASSIGNED
  const std::string a2 = Make("acme", "a2", 7, crm::v1::MINOR, "bob");      // CLOSED
  const std::string b1 = Make("beta", "b1", 4, crm::v1::SEVERE, "bob");     // INVESTIGATING
  const std::string b2 = Make("beta", "b2", 1, crm::v1::GENERAL, "alice");  // FILED
  using V = std::vector<std::string>;

  crm::v1::ListComplaintsRequest all;
  EXPECT_EQ(Names(List(all)), (V{a1, a2, b1, b2}));
  all.set_parent("customers/-");
  EXPECT_EQ(Names(List(all)), (V{a1, a2, b1, b2}));

  crm::v1::ListComplaintsRequest by_customer;
  by_customer.set_parent("customers/beta");
  EXPECT_EQ(Names(List(by_customer)), (V{b1, b2}));
  by_customer.set_severity(crm::v1::SEVERE);
  EXPECT_EQ(Names(List(by_customer)), (V{b1}));

  crm::v1::ListComplaintsRequest by_status;
  by_status.set_status(crm::v1::CLOSED);
  EXPECT_EQ(Names(List(by_status)), (V{a2}));
  crm::v1::ListComplaintsRequest by_assignee;
  by_assignee.set_assignee("bob");
  EXPECT_EQ(Names(List(by_assignee)), (V{a2, b1}));
  crm::v1::ListComplaintsRequest by_category;
  by_category.set_category(crm::v1::LOGISTICS);
  EXPECT_EQ(Names(List(by_category)), (V{a1, a2, b1, b2}));
  by_category.set_category(crm::v1::BILLING);
  EXPECT_TRUE(Names(List(by_category)).empty());

  // Overdue against the views' clock: responses are due at T0 + 4 h, resolutions at T0 + 24 h.
  crm::v1::ListComplaintsRequest overdue;
  overdue.set_overdue_only(true);
  EXPECT_TRUE(Names(List(overdue)).empty());
  clock_.Set(T0() + absl::Hours(5));
  EXPECT_EQ(Names(List(overdue)), (V{b2})) << "only b2 is not acknowledged";
  clock_.Set(T0() + absl::Hours(25));
  EXPECT_EQ(Names(List(overdue)), (V{a1, b1, b2})) << "a2 is closed";
  overdue.set_parent("customers/acme");
  EXPECT_EQ(Names(List(overdue)), (V{a1}));
}

TEST_F(ComplaintQueriesTest, ListPagesWithTokensBoundToTheFilters) {
  std::vector<std::string> all;
  for (int i = 0; i < 7; ++i) all.push_back(Make("acme", absl::StrCat("c", i), 3));
  crm::v1::ListComplaintsRequest request;
  request.set_parent("customers/acme");
  request.set_status(crm::v1::ASSIGNED);
  request.set_page_size(3);
  std::vector<std::string> seen;
  std::string first_token;
  for (int guard = 0; guard < 10; ++guard) {
    auto page = List(request);
    for (const auto& c : page.complaints()) seen.push_back(c.name());
    if (page.next_page_token().empty()) break;
    if (first_token.empty()) first_token = page.next_page_token();
    request.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(seen, all);

  request.set_page_token(first_token);
  request.set_status(crm::v1::FILED);
  auto other = queries_->List(request, Call());
  EXPECT_EQ(BadFieldOf(other.status()), "page_token");
  request.set_page_token("@@@");
  EXPECT_EQ(BadFieldOf(queries_->List(request, Call()).status()), "page_token");
}

TEST_F(ComplaintQueriesTest, ListRejectsBadFields) {
  auto field_of = [&](const crm::v1::ListComplaintsRequest& r) {
    auto got = queries_->List(r, Call());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    return BadFieldOf(got.status());
  };
  crm::v1::ListComplaintsRequest r;
  r.set_parent("customers/acme/complaints/x");
  EXPECT_EQ(field_of(r), "parent");
  r = {};
  r.set_parent("teams/x");
  EXPECT_EQ(field_of(r), "parent");
  r = {};
  r.set_status(static_cast<crm::v1::ComplaintStatus>(99));
  EXPECT_EQ(field_of(r), "status");
  r = {};
  r.set_category(static_cast<crm::v1::ComplaintCategory>(99));
  EXPECT_EQ(field_of(r), "category");
  r = {};
  r.set_severity(static_cast<crm::v1::ComplaintSeverity>(99));
  EXPECT_EQ(field_of(r), "severity");
  r = {};
  r.set_assignee("no spaces allowed");
  EXPECT_EQ(field_of(r), "assignee");
  r = {};
  r.set_page_size(-5);
  EXPECT_EQ(field_of(r), "page_size");
}

// The service over gRPC (in-process channel): raw methods answer the generated stub.
TEST_F(ComplaintQueriesTest, ServesOverGrpc) {
  const std::string name = Make("acme", "c1", 4);
  rpc::Executor executor(2, 16);
  ComplaintQueryService service(queries_.get(), &executor);
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = crm::v1::ComplaintQueryService::NewStub(server->InProcessChannel({}));

  {
    grpc::ClientContext ctx;
    crm::v1::GetComplaintRequest request;
    request.set_name(name);
    request.set_consistency_token(token_);
    crm::v1::Complaint complaint;
    grpc::Status s = stub->GetComplaint(&ctx, request, &complaint);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(complaint.status(), crm::v1::INVESTIGATING);
  }
  {
    grpc::ClientContext ctx;
    crm::v1::GetComplaintHistoryRequest request;
    request.set_name(name);
    crm::v1::GetComplaintHistoryResponse response;
    ASSERT_TRUE(stub->GetComplaintHistory(&ctx, request, &response).ok());
    EXPECT_EQ(response.events_size(), 4);
  }
  {
    grpc::ClientContext ctx;
    crm::v1::ListComplaintsRequest request;
    request.set_assignee("alice");
    crm::v1::ListComplaintsResponse response;
    ASSERT_TRUE(stub->ListComplaints(&ctx, request, &response).ok());
    ASSERT_EQ(response.complaints_size(), 1);
    EXPECT_EQ(response.complaints(0).name(), name);
  }
  {
    grpc::ClientContext ctx;
    crm::v1::GetComplaintRequest request;
    request.set_name(ComplaintName("acme", "missing"));
    crm::v1::Complaint complaint;
    EXPECT_EQ(stub->GetComplaint(&ctx, request, &complaint).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  server->Shutdown();
  executor.Stop();
}

}  // namespace
}  // namespace crm::services::complaint
