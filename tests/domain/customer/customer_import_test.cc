#include "domain/customer/customer_import.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/domain/customer/status_test_util.h"

namespace crm::domain::customer {
namespace {

using ::crm::domain::customer::testing::Reason;
using ::crm::domain::customer::testing::ViolationFields;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

crm::v1::ImportCustomerRow Row() {
  crm::v1::ImportCustomerRow row;
  auto* c = row.mutable_customer();
  c->set_display_name("ACME Ltd");
  c->set_kind(crm::v1::COMPANY);
  c->add_emails("Sales@ACME.example");
  c->add_phones("+86 138-0013-8000");
  c->set_external_id("ERP-0042");
  c->set_lifecycle_stage(crm::v1::FIRST_CONTACT);
  c->set_owner("s-001");
  c->add_tags("VIP");
  c->add_tags("vip");
  c->add_tags("key-account");
  return row;
}

TEST(PlanImportRowTest, NormalizesAsRegisterDoes) {
  auto plan = PlanImportRow(Row(), 7, kNow);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->row_number, 7);  // no row_number: the position
  EXPECT_THAT(plan->profile.emails(), ElementsAre("sales@acme.example"));
  EXPECT_THAT(plan->profile.phones(), ElementsAre("+8613800138000"));
  EXPECT_EQ(plan->profile.external_id(), "ERP-0042");
  EXPECT_EQ(plan->profile.lifecycle_stage(), crm::v1::FIRST_CONTACT);
  EXPECT_TRUE(plan->profile.owner().empty());
  EXPECT_THAT(plan->profile.tags(), IsEmpty());
  EXPECT_EQ(plan->profile.version(), 0);
  EXPECT_TRUE(plan->profile.name().empty());
  EXPECT_EQ(plan->owner, "s-001");
  EXPECT_THAT(plan->tags, ElementsAre("vip", "key-account"));
  EXPECT_THAT(plan->paths, ElementsAre("display_name", "kind", "emails", "phones", "external_id"));
}

TEST(PlanImportRowTest, KeepsTheRowNumberGiven) {
  crm::v1::ImportCustomerRow row = Row();
  row.set_row_number(42);
  EXPECT_EQ(PlanImportRow(row, 1, kNow)->row_number, 42);
  row.set_row_number(-1);
  EXPECT_THAT(ViolationFields(PlanImportRow(row, 1, kNow).status()), ElementsAre("row_number"));
}

TEST(PlanImportRowTest, ListsEveryBadFieldWithRegisterPaths) {
  crm::v1::ImportCustomerRow row = Row();
  auto* c = row.mutable_customer();
  c->clear_display_name();
  c->set_emails(0, "not-an-e-mail");
  c->set_value_tier(crm::v1::HIGH_VALUE);
  c->set_owner("bad owner!");
  c->set_tags(1, "no spaces");
  c->set_external_id(" padded");
  c->set_name("customers/x");
  auto plan = PlanImportRow(row, 1, kNow);
  ASSERT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      ViolationFields(plan.status()),
      ElementsAre("customer.display_name", "customer.emails[0]", "customer.external_id",
                  "customer.value_tier", "customer.name", "customer.owner", "customer.tags[1]"));
}

TEST(PlanImportRowTest, RefusesWhatRegisterRefuses) {
  crm::v1::ImportCustomerRow row = Row();
  row.mutable_customer()->set_lifecycle_stage(crm::v1::CHURNED);
  EXPECT_THAT(ViolationFields(PlanImportRow(row, 1, kNow).status()),
              ElementsAre("customer.lifecycle_stage"));
  row = Row();
  row.mutable_customer()->set_kind(crm::v1::CUSTOMER_KIND_UNSPECIFIED);
  EXPECT_THAT(ViolationFields(PlanImportRow(row, 1, kNow).status()), ElementsAre("customer.kind"));
}

TEST(PlanImportRowTest, BecomesRegisterAndUpdateRequests) {
  auto plan = PlanImportRow(Row(), 3, kNow);
  ASSERT_TRUE(plan.ok());
  crm::v1::RegisterCustomerRequest reg = RegisterRequestOf(*plan, "r-1");
  EXPECT_EQ(reg.request_id(), "r-1");
  EXPECT_TRUE(reg.customer_id().empty());
  EXPECT_EQ(reg.customer().lifecycle_stage(), crm::v1::FIRST_CONTACT);
  EXPECT_EQ(reg.customer().external_id(), "ERP-0042");
  crm::v1::UpdateCustomerRequest update = UpdateRequestOf(*plan, "customers/acme", "r-2");
  EXPECT_EQ(update.customer().name(), "customers/acme");
  EXPECT_EQ(update.customer().lifecycle_stage(), crm::v1::LIFECYCLE_STAGE_UNSPECIFIED);
  EXPECT_THAT(update.update_mask().paths(),
              ElementsAre("display_name", "kind", "emails", "phones", "external_id"));
  EXPECT_EQ(update.request_id(), "r-2");
}

TEST(ImportStepRequestIdTest, IsStablePerImportRowAndStep) {
  EXPECT_EQ(ImportStepRequestId("", 1, "register"), "");
  const std::string id = ImportStepRequestId("imp-1", 1, "register");
  EXPECT_EQ(id, ImportStepRequestId("imp-1", 1, "register"));
  EXPECT_NE(id, ImportStepRequestId("imp-1", 2, "register"));
  EXPECT_NE(id, ImportStepRequestId("imp-1", 1, "update"));
  EXPECT_NE(id, ImportStepRequestId("imp-2", 1, "register"));
  EXPECT_EQ(id.size(), 36u);  // a UUID: a valid request id
}

}  // namespace
}  // namespace crm::domain::customer
