#include "services/notification/notification_service.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "crm/events/v1/envelope.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "projections/notification/notification_fold.h"

namespace crm::services::notification {
namespace {

using crm::v1::Notification;

class NotificationServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("notification_service_test_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store_ = *kv::KvStore::Open(dir_.string());
    runner_ = std::make_unique<fold::FoldRunner>(&log_, store_.get(), &fold_,
                                                 fold::FoldRunner::Options{});
    ASSERT_TRUE(runner_->Start().ok());
    queries_ = std::make_unique<NotificationQueries>(
        store_.get(), runner_.get(),
        NotificationQueries::Options{.watch_batch = 2, .watch_poll = absl::Milliseconds(200)});
    service_ = std::make_unique<NotificationService>(queries_.get(), &executor_);
    ASSERT_TRUE(service_->Validate().ok()) << service_->Validate();
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = crm::v1::NotificationService::NewStub(server_->InProcessChannel({}));
  }
  void TearDown() override {
    server_->Shutdown();
    executor_.Stop();
    runner_->Stop();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Assigns complaint `n` of customer k<n> to `staff` (a COMPLAINT_ASSIGNED for them).
  void Assign(int n, const std::string& staff) {
    crm::events::v1::EventEnvelope e;
    e.set_event_id(absl::StrCat("ev-", n));
    e.set_customer_id(absl::StrCat("k", n));
    e.set_aggregate(absl::StrCat("customers/k", n, "/complaints/c"));
    e.mutable_complaint_assigned()->mutable_assignee()->set_staff_id(staff);
    auto appended =
        log_.Append(e.customer_id(), {{e.SerializeAsString(), {}}}, absl::Now() + absl::Seconds(5));
    ASSERT_TRUE(appended.ok()) << appended.status();
  }

  // Reads `count` messages of a Watch (ends it by cancelling).
  std::vector<Notification> Watch(const std::string& staff, const std::string& after, int count) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    crm::v1::WatchNotificationsRequest request;
    request.set_parent(absl::StrCat("staff/", staff));
    request.set_after(after);
    auto reader = stub_->WatchNotifications(&context, request);
    std::vector<Notification> got;
    Notification n;
    while (static_cast<int>(got.size()) < count && reader->Read(&n)) got.push_back(n);
    context.TryCancel();
    while (reader->Read(&n)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
    return got;
  }

  std::filesystem::path dir_;
  eventlog::InMemoryEventLog log_{2};
  std::unique_ptr<kv::KvStore> store_;
  projections::notification::NotificationFold fold_;
  std::unique_ptr<fold::FoldRunner> runner_;
  rpc::Executor executor_{2, 16};
  std::unique_ptr<NotificationQueries> queries_;
  std::unique_ptr<NotificationService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<crm::v1::NotificationService::Stub> stub_;
};

TEST_F(NotificationServiceTest, WatchReplaysThenTailsAndResumesFromACursor) {
  for (int i = 0; i < 5; ++i) Assign(i, "bob");
  Assign(5, "ann");
  // Replay of the five (in batches of two), then the live ones as they are folded.
  std::vector<Notification> got;
  std::thread later([this] {
    // Appended while the watch may already wait: whenever it lands, it is sent once.
    Assign(6, "bob");
    Assign(7, "bob");
  });
  got = Watch("bob", "", 7);
  later.join();
  ASSERT_EQ(got.size(), 7u);
  std::vector<std::string> names;
  for (const auto& n : got) {
    EXPECT_EQ(n.recipient(), "staff/bob");
    EXPECT_EQ(n.reason(), crm::v1::COMPLAINT_ASSIGNED);
    names.push_back(n.name());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end()) << "sent twice";

  // From the third one's cursor: the four after it, in the same order.
  std::vector<Notification> resumed = Watch("bob", got[2].cursor(), 4);
  ASSERT_EQ(resumed.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(resumed[i].name(), got[i + 3].name());
}

TEST_F(NotificationServiceTest, WatchEndsAtTheCallersDeadline) {
  Assign(1, "bob");
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
  crm::v1::WatchNotificationsRequest request;
  request.set_parent("staff/bob");
  auto reader = stub_->WatchNotifications(&context, request);
  Notification n;
  int read = 0;
  while (reader->Read(&n)) ++read;
  EXPECT_EQ(read, 1);
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(NotificationServiceTest, BadRequestsAreRefusedBeforeAnyMessage) {
  for (const auto& [parent, after] : std::vector<std::pair<std::string, std::string>>{
           {"customers/k1", ""}, {"staff/bob", "%%%"}}) {
    grpc::ClientContext context;
    crm::v1::WatchNotificationsRequest request;
    request.set_parent(parent);
    request.set_after(after);
    auto reader = stub_->WatchNotifications(&context, request);
    Notification n;
    EXPECT_FALSE(reader->Read(&n));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT) << parent;
  }
}

TEST_F(NotificationServiceTest, ListPagesThroughTheRecipientsNotifications) {
  for (int i = 0; i < 5; ++i) Assign(i, "bob");
  Assign(9, "ann");
  // Wait until all six are folded (each partition's end).
  eventlog::PositionMap ends;
  for (int p = 0; p < 2; ++p) {
    auto end = log_.EndOffset(p);
    ASSERT_TRUE(end.ok());
    if (*end > 0) ends[p] = *end - 1;
  }
  ASSERT_TRUE(runner_->WaitFor(ends, absl::Now() + absl::Seconds(10)).ok());
  std::vector<std::string> names;
  std::string token;
  do {
    grpc::ClientContext context;
    crm::v1::ListNotificationsRequest request;
    request.set_parent("staff/bob");
    request.set_page_size(2);
    request.set_page_token(token);
    crm::v1::ListNotificationsResponse response;
    ASSERT_TRUE(stub_->ListNotifications(&context, request, &response).ok());
    EXPECT_LE(response.notifications_size(), 2);
    for (const auto& n : response.notifications()) names.push_back(n.name());
    token = response.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(names.size(), 5u);
}

}  // namespace
}  // namespace crm::services::notification
