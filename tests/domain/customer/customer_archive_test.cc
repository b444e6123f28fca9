// Archiving (ArchiveCustomer / UnarchiveCustomer; proto/crm/v1/README.md, "Archiving"): an
// archived customer refuses every command but unarchiving, a merge refuses it on either side, and
// (un)archiving twice changes nothing.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/time_util.h"
#include "domain/customer/customer_aggregate.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/domain/customer/decide_test_util.h"
#include "tests/domain/customer/status_test_util.h"

namespace crm::domain::customer {
namespace {

using ::crm::domain::customer::testing::Context;
using ::crm::domain::customer::testing::kNow;
using ::crm::domain::customer::testing::MergeRequest;
using ::crm::domain::customer::testing::Reason;
using ::crm::domain::customer::testing::StampAndApply;
using ::crm::domain::customer::testing::ViolationFields;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

State Registered(absl::string_view id) {
  crm::v1::Customer profile;
  profile.set_display_name(absl::StrCat("Customer ", id));
  profile.set_kind(crm::v1::COMPANY);
  return testing::Registered(id, profile);
}

crm::v1::ArchiveCustomerRequest ArchiveReq(absl::string_view id, absl::string_view reason = "") {
  crm::v1::ArchiveCustomerRequest request;
  request.set_name(absl::StrCat("customers/", id));
  request.set_reason(std::string(reason));
  return request;
}

crm::v1::UnarchiveCustomerRequest UnarchiveReq(absl::string_view id) {
  crm::v1::UnarchiveCustomerRequest request;
  request.set_name(absl::StrCat("customers/", id));
  return request;
}

TEST(CustomerArchiveTest, AnArchivedCustomerRefusesCommandsUntilUnarchived) {
  State state = Registered("acme");
  auto archived = DecideArchive(state, ArchiveReq("acme", "no longer a client"), Context());
  ASSERT_TRUE(archived.ok()) << archived.status();
  ASSERT_THAT(*archived, SizeIs(1));
  EXPECT_EQ((*archived)[0].customer_archived().reason(), "no longer a client");
  StampAndApply(state, *archived, "acme");
  EXPECT_EQ(base::ToTime(state.archive_time()), kNow);
  // Twice changes nothing.
  EXPECT_THAT(*DecideArchive(state, ArchiveReq("acme"), Context()), IsEmpty());

  crm::v1::TagCustomerRequest tag;
  tag.set_name("customers/acme");
  tag.set_tag("vip");
  auto refused = DecideTag(state, tag, Context());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(refused.status()), "CUSTOMER_ARCHIVED");
  EXPECT_EQ(CheckActive(state).code(), absl::StatusCode::kFailedPrecondition);

  auto unarchived = DecideUnarchive(state, UnarchiveReq("acme"), Context());
  ASSERT_TRUE(unarchived.ok()) << unarchived.status();
  ASSERT_THAT(*unarchived, SizeIs(1));
  StampAndApply(state, *unarchived, "acme");
  EXPECT_FALSE(state.has_archive_time());
  EXPECT_THAT(*DecideUnarchive(state, UnarchiveReq("acme"), Context()), IsEmpty());
  EXPECT_TRUE(DecideTag(state, tag, Context()).ok());
}

TEST(CustomerArchiveTest, BadRequestsMissingAndMergedCustomers) {
  State state = Registered("acme");
  auto bad = DecideArchive(state, ArchiveReq("acme", std::string(501, 'x')), Context());
  EXPECT_THAT(ViolationFields(bad.status()), ElementsAre("reason"));
  crm::v1::ArchiveCustomerRequest stale = ArchiveReq("acme");
  stale.set_etag("v9");
  EXPECT_EQ(DecideArchive(state, stale, Context()).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(DecideArchive(State(), ArchiveReq("ghost"), Context()).status().code(),
            absl::StatusCode::kNotFound);
  state.set_merged_into("customers/other");
  EXPECT_EQ(Reason(DecideArchive(state, ArchiveReq("acme"), Context()).status()),
            "CUSTOMER_MERGED");
  EXPECT_EQ(Reason(DecideUnarchive(state, UnarchiveReq("acme"), Context()).status()),
            "CUSTOMER_MERGED");
}

TEST(CustomerArchiveTest, AMergeRefusesAnArchivedCustomerOnEitherSide) {
  State survivor = Registered("s");
  State merged = Registered("m");
  const crm::v1::MergeCustomersRequest request = MergeRequest();
  State archived_merged = merged;
  StampAndApply(archived_merged, *DecideArchive(merged, ArchiveReq("m"), Context()), "m");
  auto refused = DecideMerge(survivor, archived_merged, request, {}, Context());
  EXPECT_EQ(Reason(refused.status()), "CUSTOMER_ARCHIVED");
  State archived_survivor = survivor;
  StampAndApply(archived_survivor, *DecideArchive(survivor, ArchiveReq("s"), Context()), "s");
  refused = DecideMerge(archived_survivor, merged, request, {}, Context());
  EXPECT_EQ(Reason(refused.status()), "CUSTOMER_ARCHIVED");
  EXPECT_TRUE(DecideMerge(survivor, merged, request, {}, Context()).ok());
}

}  // namespace
}  // namespace crm::domain::customer
