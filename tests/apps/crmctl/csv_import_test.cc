#include "apps/crmctl/csv_import.h"

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace crm::crmctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseCsvTest, QuotesCommasLineBreaksAndCrlf) {
  auto records = ParseCsv(
      "\xEF\xBB\xBF"
      "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n\n1,,3");
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].line, 1);
  EXPECT_THAT((*records)[0].fields, ElementsAre("a", "b", "c"));
  EXPECT_EQ((*records)[1].line, 2);
  EXPECT_THAT((*records)[1].fields, ElementsAre("x, y", "say \"hi\"", "two\nlines"));
  EXPECT_EQ((*records)[2].line, 5);  // after the record's own line break and a blank line
  EXPECT_THAT((*records)[2].fields, ElementsAre("1", "", "3"));
}

TEST(ParseCsvTest, RefusesBrokenQuotes) {
  EXPECT_THAT(std::string(ParseCsv("a\n\"open").status().message()), HasSubstr("line 2"));
  EXPECT_FALSE(ParseCsv("a\nx\"y\n").ok());
}

TEST(RowsFromCsvTest, MapsColumnsByTheHeader) {
  auto records = ParseCsv(
      "Display_Name,kind,emails,tags,lifecycle_stage,acquisition_source,attr.Segment,external_id\n"
      "Acme,company,a@x.example; b@x.example,vip;;key,first_contact,referral,A,E-1\n");
  ASSERT_TRUE(records.ok());
  auto rows = RowsFromCsv(*records);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->rows.size(), 1u);
  const crm::v1::ImportCustomerRow& row = rows->rows[0];
  EXPECT_EQ(row.row_number(), 2);
  const crm::v1::Customer& c = row.customer();
  EXPECT_EQ(c.display_name(), "Acme");
  EXPECT_EQ(c.kind(), crm::v1::COMPANY);
  EXPECT_THAT(c.emails(), ElementsAre("a@x.example", "b@x.example"));
  EXPECT_THAT(c.tags(), ElementsAre("vip", "key"));
  EXPECT_EQ(c.lifecycle_stage(), crm::v1::FIRST_CONTACT);
  EXPECT_EQ(c.acquisition_source(), crm::v1::REFERRAL);
  EXPECT_EQ(c.attributes().at("Segment"), "A");
  EXPECT_EQ(c.external_id(), "E-1");
}

TEST(RowsFromCsvTest, AnUnknownEnumNameIsALocalFailure) {
  auto records = ParseCsv("display_name,kind,value_tier\nA,robot,\nB,person,gold\nC,person,\n");
  ASSERT_TRUE(records.ok());
  auto rows = RowsFromCsv(*records);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows.size(), 1u);
  EXPECT_EQ(rows->rows[0].row_number(), 4);
  ASSERT_EQ(rows->failed.size(), 2u);
  EXPECT_EQ(rows->failed[0].row_number(), 2);
  EXPECT_EQ(rows->failed[0].outcome(), crm::v1::FAILED);
  EXPECT_EQ(rows->failed[0].error().code(), 3);  // INVALID_ARGUMENT
  google::rpc::BadRequest bad;
  ASSERT_TRUE(rows->failed[0].error().details(0).UnpackTo(&bad));
  EXPECT_EQ(bad.field_violations(0).field(), "customer.kind");
  EXPECT_THAT(rows->failed[1].error().message(), HasSubstr("customer.value_tier"));
}

TEST(RowsFromCsvTest, SocialIdsAnAddressAndAContactPerson) {
  auto records = ParseCsv(
      "display_name,social_ids,address.kind,address.lines,address.city,address.country_code,"
      "contact.display_name,contact.title,contact.emails,contact.phones\n"
      "Acme,wechat:wx_acme; LinkedIn:in/acme:co,billing,1 Nanjing Road;Floor 3,上海,CN,"
      "王芳,采购经理,wang@acme.cn;w2@acme.cn,+86 21 5555 0101\n"
      "Bare,,,,,,,,,\n"
      "Bad,myspace:tom,,,,,,,,\n"
      "Worse,,castle,,,,,,,\n");
  ASSERT_TRUE(records.ok()) << records.status();
  auto rows = RowsFromCsv(*records);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->rows.size(), 2u);
  const crm::v1::Customer& c = rows->rows[0].customer();
  ASSERT_EQ(c.social_ids_size(), 2);
  EXPECT_EQ(c.social_ids(0).network(), crm::v1::WECHAT);
  EXPECT_EQ(c.social_ids(0).handle(), "wx_acme");
  EXPECT_EQ(c.social_ids(1).network(), crm::v1::LINKEDIN);
  EXPECT_EQ(c.social_ids(1).handle(), "in/acme:co");  // after the first ':'
  ASSERT_EQ(c.addresses_size(), 1);
  EXPECT_EQ(c.addresses(0).kind(), crm::v1::BILLING_ADDRESS);
  EXPECT_THAT(c.addresses(0).lines(), ElementsAre("1 Nanjing Road", "Floor 3"));
  EXPECT_EQ(c.addresses(0).city(), "上海");
  EXPECT_EQ(c.addresses(0).country_code(), "CN");
  ASSERT_EQ(c.contacts_size(), 1);
  EXPECT_EQ(c.contacts(0).display_name(), "王芳");
  EXPECT_EQ(c.contacts(0).title(), "采购经理");
  EXPECT_THAT(c.contacts(0).emails(), ElementsAre("wang@acme.cn", "w2@acme.cn"));
  EXPECT_THAT(c.contacts(0).phones(), ElementsAre("+86 21 5555 0101"));
  EXPECT_TRUE(c.contacts(0).primary());
  // Empty cells set no address and no contact.
  const crm::v1::Customer& bare = rows->rows[1].customer();
  EXPECT_EQ(bare.addresses_size() + bare.contacts_size() + bare.social_ids_size(), 0);
  ASSERT_EQ(rows->failed.size(), 2u);
  EXPECT_EQ(rows->failed[0].row_number(), 4);
  EXPECT_THAT(rows->failed[0].error().message(), HasSubstr("customer.social_ids[0]"));
  EXPECT_THAT(rows->failed[1].error().message(), HasSubstr("customer.addresses[0].kind"));
}

TEST(ParseSocialIdTest, NetworkColonHandle) {
  crm::v1::SocialId id;
  EXPECT_TRUE(ParseSocialId("WhatsApp:+8613800000000", &id));
  EXPECT_EQ(id.network(), crm::v1::WHATSAPP);
  EXPECT_EQ(id.handle(), "+8613800000000");
  EXPECT_FALSE(ParseSocialId("wechat", &id));
  EXPECT_FALSE(ParseSocialId("wechat:", &id));
  EXPECT_FALSE(ParseSocialId(":handle", &id));
  EXPECT_FALSE(ParseSocialId("social_network_unspecified:x", &id));
}

TEST(RowsFromCsvTest, RefusesABadHeader) {
  EXPECT_FALSE(RowsFromCsv({}).ok());
  EXPECT_FALSE(RowsFromCsv(*ParseCsv("display_name,colour\n")).ok());
  EXPECT_FALSE(RowsFromCsv(*ParseCsv("kind,KIND\n")).ok());
  EXPECT_FALSE(RowsFromCsv(*ParseCsv("kind\nperson,extra\n")).ok());
}

}  // namespace
}  // namespace crm::crmctl
