// Postal addresses, social ids and contact persons as profile fields (RegisterCustomer,
// UpdateCustomer, MergeCustomers; proto/crm/v1/README.md, "Addresses, social ids and contact
// persons").
#include <string>

#include "absl/time/time.h"
#include "common/base/time_util.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/domain/customer/decide_test_util.h"
#include "tests/domain/customer/status_test_util.h"

namespace crm::domain::customer {
namespace {

using ::crm::domain::customer::testing::Context;
using ::crm::domain::customer::testing::FirstField;
using ::crm::domain::customer::testing::MergeRequest;
using ::crm::domain::customer::testing::Reason;
using ::crm::domain::customer::testing::Registered;
using ::crm::domain::customer::testing::StampAndApply;
using ::crm::domain::customer::testing::ViolationFields;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

crm::v1::PostalAddress Address(crm::v1::AddressKind kind, absl::string_view line,
                               absl::string_view country = "CN") {
  crm::v1::PostalAddress a;
  a.set_kind(kind);
  a.add_lines(std::string(line));
  a.set_city("上海");
  a.set_postal_code("200000");
  a.set_country_code(std::string(country));
  return a;
}

crm::v1::SocialId Social(crm::v1::SocialNetwork network, absl::string_view handle) {
  crm::v1::SocialId s;
  s.set_network(network);
  s.set_handle(std::string(handle));
  return s;
}

crm::v1::ContactPerson Contact(absl::string_view name, absl::string_view email,
                               bool primary = false) {
  crm::v1::ContactPerson c;
  c.set_display_name(std::string(name));
  c.set_title("采购经理");
  c.add_emails(std::string(email));
  c.set_primary(primary);
  return c;
}

crm::v1::Customer Profile(absl::string_view name) {
  crm::v1::Customer c;
  c.set_display_name(std::string(name));
  c.set_kind(crm::v1::COMPANY);
  return c;
}

absl::Status RegisterStatus(const crm::v1::Customer& profile) {
  crm::v1::RegisterCustomerRequest request;
  *request.mutable_customer() = profile;
  return DecideRegister(State(), request, "c", Context()).status();
}

TEST(CustomerContactsTest, RegisterRecordsAddressesAndSocialIdsWithoutDuplicates) {
  crm::v1::Customer c = Profile("Acme 有限公司");
  *c.add_addresses() = Address(crm::v1::BILLING_ADDRESS, "1 Nanjing Rd");
  *c.add_addresses() = Address(crm::v1::SHIPPING_ADDRESS, "2 Dock St");
  *c.add_addresses() = Address(crm::v1::BILLING_ADDRESS, "1 Nanjing Rd");  // duplicate
  *c.add_social_ids() = Social(crm::v1::WECHAT, "acme_cn");
  *c.add_social_ids() = Social(crm::v1::WEIBO, "阿克米");
  *c.add_social_ids() = Social(crm::v1::WECHAT, "acme_cn");  // duplicate
  crm::v1::RegisterCustomerRequest request;
  *request.mutable_customer() = c;
  auto events = DecideRegister(State(), request, "acme", Context());
  ASSERT_TRUE(events.ok()) << events.status();
  const auto& profile = events->front().customer_registered().profile();
  ASSERT_EQ(profile.addresses_size(), 2);
  EXPECT_EQ(profile.addresses(1).kind(), crm::events::v1::SHIPPING_ADDRESS);
  ASSERT_EQ(profile.social_ids_size(), 2);
  EXPECT_EQ(profile.social_ids(1).handle(), "阿克米");

  State state;
  StampAndApply(state, *events, "acme");
  ASSERT_EQ(state.addresses_size(), 2);
  EXPECT_EQ(state.addresses(0).lines(0), "1 Nanjing Rd");
  EXPECT_EQ(state.addresses(0).country_code(), "CN");
  ASSERT_EQ(state.social_ids_size(), 2);
  EXPECT_EQ(state.social_ids(0).network(), crm::v1::WECHAT);
}

TEST(CustomerContactsTest, BadAddressFieldsAreNamed) {
  for (const char* bad : {"", "cn", "CHN", "C1", "中国"}) {
    crm::v1::Customer c = Profile("Acme");
    *c.add_addresses() = Address(crm::v1::OFFICE_ADDRESS, "1 Main St");
    *c.add_addresses() = Address(crm::v1::OFFICE_ADDRESS, "2 Main St", bad);
    absl::Status status = RegisterStatus(c);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(FirstField(status), "customer.addresses[1].country_code") << bad;
  }
  crm::v1::Customer c = Profile("Acme");
  crm::v1::PostalAddress* a = c.add_addresses();
  a->set_country_code("DE");
  a->set_postal_code("10115_Berlin");
  a->set_city(std::string(kMaxShortText + 1, 'x'));
  EXPECT_THAT(ViolationFields(RegisterStatus(c)),
              ElementsAre("customer.addresses[0].kind", "customer.addresses[0].lines",
                          "customer.addresses[0].city", "customer.addresses[0].postal_code"));
  c = Profile("Acme");
  *c.add_addresses() = Address(static_cast<crm::v1::AddressKind>(99), "x");
  c.mutable_addresses(0)->add_lines("");
  EXPECT_THAT(ViolationFields(RegisterStatus(c)),
              ElementsAre("customer.addresses[0].kind", "customer.addresses[0].lines[1]"));
  c = Profile("Acme");
  for (size_t i = 0; i <= kMaxAddresses; ++i) {
    *c.add_addresses() = Address(crm::v1::OTHER_ADDRESS, std::to_string(i));
  }
  EXPECT_THAT(ViolationFields(RegisterStatus(c)), ElementsAre("customer.addresses"));
  c.mutable_addresses()->RemoveLast();
  EXPECT_TRUE(RegisterStatus(c).ok());
}

TEST(CustomerContactsTest, BadSocialIdsAreNamed) {
  crm::v1::Customer c = Profile("Acme");
  *c.add_social_ids() = Social(crm::v1::SOCIAL_NETWORK_UNSPECIFIED, "x");
  *c.add_social_ids() = Social(crm::v1::LINKEDIN, "");
  *c.add_social_ids() = Social(crm::v1::WHATSAPP, "with space");
  *c.add_social_ids() = Social(crm::v1::OTHER_NETWORK, std::string(kMaxSocialHandle + 1, 'h'));
  *c.add_social_ids() = Social(crm::v1::WECHAT, "tab\there");
  EXPECT_THAT(ViolationFields(RegisterStatus(c)),
              ElementsAre("customer.social_ids[0].network", "customer.social_ids[1].handle",
                          "customer.social_ids[2].handle", "customer.social_ids[3].handle",
                          "customer.social_ids[4].handle"));
  c = Profile("Acme");
  for (size_t i = 0; i <= kMaxSocialIds; ++i) {
    *c.add_social_ids() = Social(crm::v1::WECHAT, std::to_string(i));
  }
  EXPECT_THAT(ViolationFields(RegisterStatus(c)), ElementsAre("customer.social_ids"));
}

TEST(CustomerContactsTest, UpdateReplacesAndClearsWithTheMask) {
  crm::v1::Customer c = Profile("Acme");
  *c.add_addresses() = Address(crm::v1::BILLING_ADDRESS, "1 Main St");
  State state = Registered("acme", c);

  crm::v1::UpdateCustomerRequest update;
  update.mutable_customer()->set_name("customers/acme");
  *update.mutable_customer()->add_social_ids() = Social(crm::v1::WECHAT, "acme");
  auto events = DecideUpdate(state, update, Context());  // empty mask: the set paths
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_THAT(events->front().customer_profile_updated().changed_paths(),
              ElementsAre("social_ids"));
  StampAndApply(state, *events, "acme");
  EXPECT_EQ(state.addresses_size(), 1);
  EXPECT_EQ(state.social_ids_size(), 1);
  EXPECT_THAT(*DecideUpdate(state, update, Context()), IsEmpty());  // nothing changed

  update.mutable_customer()->clear_social_ids();
  update.mutable_update_mask()->add_paths("addresses");
  events = DecideUpdate(state, update, Context());
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_THAT(events->front().customer_profile_updated().changed_paths(), ElementsAre("addresses"));
  StampAndApply(state, *events, "acme");
  EXPECT_THAT(state.addresses(), IsEmpty());
  EXPECT_EQ(state.social_ids_size(), 1);

  *update.mutable_customer()->add_addresses() = Address(crm::v1::BILLING_ADDRESS, "x", "usa");
  auto bad = DecideUpdate(state, update, Context());
  EXPECT_EQ(FirstField(bad.status()), "customer.addresses[0].country_code");
}

TEST(CustomerContactsTest, MergeTakesTheUnion) {
  crm::v1::Customer s = Profile("Survivor");
  *s.add_addresses() = Address(crm::v1::BILLING_ADDRESS, "1 Main St");
  *s.add_social_ids() = Social(crm::v1::WECHAT, "same");
  crm::v1::Customer m = Profile("Merged");
  *m.add_addresses() = Address(crm::v1::BILLING_ADDRESS, "1 Main St");
  *m.add_addresses() = Address(crm::v1::SHIPPING_ADDRESS, "9 Dock St");
  *m.add_social_ids() = Social(crm::v1::WECHAT, "same");
  *m.add_social_ids() = Social(crm::v1::LINKEDIN, "in/merged");
  State survivor = Registered("s", s);
  State merged = Registered("m", m);
  const crm::v1::MergeCustomersRequest request = MergeRequest();
  auto decision = DecideMerge(survivor, merged, request, {}, Context());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_THAT(decision->survivor_event.customer_merged().changed_paths(),
              ElementsAre("addresses", "social_ids"));
  StampAndApply(survivor, {decision->survivor_event}, "s");
  ASSERT_EQ(survivor.addresses_size(), 2);
  EXPECT_EQ(survivor.addresses(0).lines(0), "1 Main St");
  EXPECT_EQ(survivor.addresses(1).lines(0), "9 Dock St");
  ASSERT_EQ(survivor.social_ids_size(), 2);
  EXPECT_EQ(survivor.social_ids(1).handle(), "in/merged");

  // The union must fit the limits.
  crm::v1::Customer full = Profile("Full");
  for (size_t i = 0; i < kMaxSocialIds; ++i) {
    *full.add_social_ids() = Social(crm::v1::WEIBO, std::to_string(i));
  }
  State big = Registered("s", full);
  auto refused = DecideMerge(big, merged, request, {}, Context());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(refused.status()), "TOO_MANY_SOCIAL_IDS");
}

TEST(CustomerContactsTest, ContactPersonsAreNormalizedWithoutDuplicates) {
  crm::v1::Customer c = Profile("Acme");
  *c.add_contacts() = Contact("王芳", " Wang.Fang@Acme.CN ", /*primary=*/true);
  c.mutable_contacts(0)->add_phones("+86 (21) 5555-0101");
  c.mutable_contacts(0)->add_emails("wang.fang@acme.cn");  // the same once normalized
  *c.add_contacts() = Contact("Li Lei", "li@acme.cn");
  *c.add_contacts() = Contact("Li Lei", "LI@acme.cn");  // the same contact once normalized
  State state = Registered("acme", c);
  ASSERT_EQ(state.contacts_size(), 2);
  EXPECT_THAT(state.contacts(0).emails(), ElementsAre("wang.fang@acme.cn"));
  EXPECT_THAT(state.contacts(0).phones(), ElementsAre("+862155550101"));
  EXPECT_TRUE(state.contacts(0).primary());
  EXPECT_EQ(state.contacts(1).display_name(), "Li Lei");
}

TEST(CustomerContactsTest, BadContactPersonsAreNamed) {
  crm::v1::Customer c = Profile("Acme");
  *c.add_contacts() = Contact("", "not-an-email", /*primary=*/true);
  *c.add_contacts() = Contact("Li Lei", "li@acme.cn", /*primary=*/true);
  c.mutable_contacts(1)->set_title(std::string(101, 'x'));
  for (int i = 0; i < 6; ++i) c.mutable_contacts(1)->add_phones("+8613800000" + std::to_string(i));
  crm::v1::RegisterCustomerRequest request;
  *request.mutable_customer() = c;
  State state;
  auto refused = DecideRegister(state, request, "acme", Context());
  EXPECT_THAT(ViolationFields(refused.status()),
              ElementsAre("customer.contacts[0].display_name", "customer.contacts[0].emails[0]",
                          "customer.contacts[1].title", "customer.contacts[1].phones",
                          "customer.contacts[1].primary"));
  crm::v1::Customer many = Profile("Acme");
  for (size_t i = 0; i <= kMaxContactPersons; ++i) {
    *many.add_contacts() = Contact("P" + std::to_string(i), "p@acme.cn");
  }
  *request.mutable_customer() = many;
  EXPECT_THAT(ViolationFields(DecideRegister(state, request, "acme", Context()).status()),
              ElementsAre("customer.contacts"));
}

TEST(CustomerContactsTest, MergeKeepsTheSurvivorsPrimaryContact) {
  crm::v1::Customer s = Profile("Survivor");
  *s.add_contacts() = Contact("王芳", "wang@acme.cn", /*primary=*/true);
  crm::v1::Customer m = Profile("Merged");
  *m.add_contacts() = Contact("王芳", "wang@acme.cn");  // the same person, not primary there
  *m.add_contacts() = Contact("Li Lei", "li@acme.cn", /*primary=*/true);
  State survivor = Registered("s", s);
  State merged = Registered("m", m);
  const crm::v1::MergeCustomersRequest request = MergeRequest();
  auto decision = DecideMerge(survivor, merged, request, {}, Context());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_THAT(decision->survivor_event.customer_merged().changed_paths(), ElementsAre("contacts"));
  StampAndApply(survivor, {decision->survivor_event}, "s");
  ASSERT_EQ(survivor.contacts_size(), 2);
  EXPECT_TRUE(survivor.contacts(0).primary());
  EXPECT_EQ(survivor.contacts(1).display_name(), "Li Lei");
  EXPECT_FALSE(survivor.contacts(1).primary());
}

}  // namespace
}  // namespace crm::domain::customer
