#include "domain/customer/validation.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/domain/customer/status_test_util.h"

namespace crm::domain::customer {
namespace {

using ::crm::domain::customer::testing::FirstField;
using ::crm::domain::customer::testing::Reason;

// Repeats a UTF-8 string n times.
std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

void ExpectInvalid(const absl::Status& status, const std::string& field) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(FirstField(status), field) << status;
  EXPECT_EQ(Reason(status), "INVALID_ARGUMENT");
}

TEST(NormalizeEmailTest, TrimsAndLowerCases) {
  auto email = NormalizeEmail("  Ann.Lee+crm@Example.COM \t", "customer.emails[0]");
  ASSERT_TRUE(email.ok()) << email.status();
  EXPECT_EQ(*email, "ann.lee+crm@example.com");
}

TEST(NormalizeEmailTest, AcceptsLongestAllowed) {
  const std::string email = std::string(254 - 12, 'a') + "@example.com";
  ASSERT_EQ(email.size(), kMaxEmail);
  EXPECT_TRUE(NormalizeEmail(email, "e").ok());
  EXPECT_FALSE(NormalizeEmail("a" + email, "e").ok());
}

TEST(NormalizeEmailTest, RejectsImplausibleAddresses) {
  for (const std::string& bad : std::vector<std::string>{
           "", "   ", "ann", "ann@", "@example.com", "ann@example", "ann@@example.com",
           "ann@b@example.com", "ann lee@example.com", "ann@exa mple.com", "ann@.example.com",
           "ann@example.com.", "ann@example..com", std::string("ann\x01@example.com"),
           std::string("ann\x7f@example.com"), std::string("ann\xff@example.com")}) {
    SCOPED_TRACE(bad);
    ExpectInvalid(NormalizeEmail(bad, "customer.emails[3]").status(), "customer.emails[3]");
  }
}

TEST(NormalizePhoneTest, RemovesSeparators) {
  struct Case {
    std::string in, out;
  };
  for (const Case& c :
       {Case{"+86 138-0013-8000", "+8613800138000"}, Case{"+1 (415) 555.0100", "+14155550100"},
        Case{"(010) 6552 9988", "+01065529988"}, Case{"123456", "+123456"},
        Case{"+123456789012345", "+123456789012345"}}) {
    SCOPED_TRACE(c.in);
    auto phone = NormalizePhone(c.in, "customer.phones[0]");
    ASSERT_TRUE(phone.ok()) << phone.status();
    EXPECT_EQ(*phone, c.out);
  }
}

TEST(NormalizePhoneTest, RejectsBadNumbers) {
  for (const std::string& bad :
       std::vector<std::string>{"", "+", "12345", "+1234567890123456", "+86 138 abc", "138+0013",
                                "++8613800138000", "+86/1380013800", "138_0013_8000"}) {
    SCOPED_TRACE(bad);
    ExpectInvalid(NormalizePhone(bad, "customer.phones[2]").status(), "customer.phones[2]");
  }
}

TEST(NormalizeTagTest, LowerCasesAndTrims) {
  auto tag = NormalizeTag(" VIP:Gold_2024-a ", "tag");
  ASSERT_TRUE(tag.ok()) << tag.status();
  EXPECT_EQ(*tag, "vip:gold_2024-a");
}

TEST(NormalizeTagTest, LengthLimit) {
  EXPECT_TRUE(NormalizeTag(std::string(kMaxTag, 'a'), "tag").ok());
  ExpectInvalid(NormalizeTag(std::string(kMaxTag + 1, 'a'), "tag").status(), "tag");
}

TEST(NormalizeTagTest, RejectsBadTags) {
  for (const std::string& bad :
       std::vector<std::string>{"", "  ", "-vip", "_vip", ":vip", "v ip", "vip/gold", "vip.gold",
                                "\xe5\xae\xa2\xe6\x88\xb7"}) {
    SCOPED_TRACE(bad);
    ExpectInvalid(NormalizeTag(bad, "tag").status(), "tag");
  }
}

TEST(ValidateCustomerIdTest, AcceptsValidIds) {
  for (const std::string& id :
       std::vector<std::string>{"a", "0", "acme-42", std::string(kMaxId, 'z')}) {
    EXPECT_TRUE(ValidateCustomerId(id, "customer_id").ok()) << id;
  }
}

TEST(ValidateCustomerIdTest, RejectsBadIds) {
  for (const std::string& bad :
       std::vector<std::string>{"", "-a", "a-", "Acme", "acme_1", "acme.1", "a b", "customers/a",
                                std::string(64, 'a')}) {
    SCOPED_TRACE(bad);
    ExpectInvalid(ValidateCustomerId(bad, "customer_id"), "customer_id");
  }
}

TEST(ValidateStaffIdTest, AcceptsAndRejects) {
  for (const std::string& id :
       std::vector<std::string>{"a", "Ann.Lee", "staff_01-x", std::string(kMaxId, 'S')}) {
    EXPECT_TRUE(ValidateStaffId(id, "owner").ok()) << id;
  }
  for (const std::string& bad :
       std::vector<std::string>{"", "ann lee", "ann@corp", "ann/1", std::string(64, 'a')}) {
    SCOPED_TRACE(bad);
    ExpectInvalid(ValidateStaffId(bad, "owner"), "owner");
  }
}

TEST(ValidateRequestIdTest, AcceptsEmptyUuidAndLongest) {
  EXPECT_TRUE(ValidateRequestId("", "request_id").ok());
  EXPECT_TRUE(ValidateRequestId("0b7e6d2c-8f3a-4c1e-9d5b-2a6f4e8c1d3b", "request_id").ok());
  EXPECT_TRUE(ValidateRequestId(std::string(kMaxRequestId, 'r'), "request_id").ok());
}

TEST(ValidateRequestIdTest, RejectsLongAndNonPrintable) {
  for (const std::string& bad :
       std::vector<std::string>{std::string(kMaxRequestId + 1, 'r'), std::string("a\nb"),
                                std::string("a\tb"), std::string("\xe4\xb8\xad")}) {
    SCOPED_TRACE(bad);
    ExpectInvalid(ValidateRequestId(bad, "request_id"), "request_id");
  }
}

TEST(ValidateTextTest, CountsCodePointsNotBytes) {
  const std::string han = "\xe5\xae\xa2";  // 客: 3 bytes, 1 code point.
  EXPECT_TRUE(ValidateText(Repeat(han, 200), 200, true, "customer.display_name").ok());
  ExpectInvalid(ValidateText(Repeat(han, 201), 200, true, "customer.display_name"),
                "customer.display_name");
  EXPECT_TRUE(ValidateText(Repeat("\xf0\x9f\x98\x80", 5), 5, true, "f").ok());  // 4-byte emoji.
}

TEST(ValidateTextTest, RejectsInvalidUtf8) {
  for (const std::string& bad : std::vector<std::string>{
           std::string("\x80"),              // Lone continuation byte.
           std::string("\xc0\x80"),          // Overlong NUL.
           std::string("\xe0\x80\xaf"),      // Overlong '/'.
           std::string("\xf0\x80\x80\xaf"),  // Overlong, 4 bytes.
           std::string("\xed\xa0\x80"),      // Surrogate U+D800.
           std::string("\xf4\x90\x80\x80"),  // U+110000.
           std::string("\xf5\x80\x80\x80"),  // Beyond Unicode.
           std::string("\xe5\xae"),          // Truncated.
           std::string("ok\xff"),
       }) {
    SCOPED_TRACE(::testing::PrintToString(bad));
    EXPECT_FALSE(IsValidUtf8(bad));
    ExpectInvalid(ValidateText(bad, 100, false, "customer.region"), "customer.region");
  }
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF.
  EXPECT_TRUE(IsValidUtf8(""));
}

TEST(ValidateTextTest, RequiredRejectsEmptyAndBlank) {
  for (const std::string& blank :
       std::vector<std::string>{"", " ", " \t\n", "\xe3\x80\x80", "\xc2\xa0"}) {
    SCOPED_TRACE(::testing::PrintToString(blank));
    ExpectInvalid(ValidateText(blank, 200, true, "customer.display_name"), "customer.display_name");
    EXPECT_TRUE(ValidateText(blank, 200, false, "customer.region").ok());
  }
}

TEST(ValidateTextTest, RejectsControlCharactersButNotLineBreaks) {
  EXPECT_TRUE(ValidateText("line one\nline two\r\n\tend", 100, true, "reason").ok());
  ExpectInvalid(ValidateText(std::string("a\0b", 3), 100, true, "reason"), "reason");
  ExpectInvalid(ValidateText("a\x1b[0m", 100, true, "reason"), "reason");
  ExpectInvalid(ValidateText("a\xc2\x85", 100, true, "reason"),
                "reason");  // U+0085 (C1).
}

TEST(ValidateCurrencyTest, AcceptsAndRejects) {
  EXPECT_TRUE(ValidateCurrency("CNY", "purchase.amount.currency_code").ok());
  EXPECT_TRUE(ValidateCurrency("USD", "purchase.amount.currency_code").ok());
  for (const std::string& bad : std::vector<std::string>{"", "usd", "US", "USDT", "U1D", " USD"}) {
    SCOPED_TRACE(bad);
    ExpectInvalid(ValidateCurrency(bad, "purchase.amount.currency_code"),
                  "purchase.amount.currency_code");
  }
}

TEST(ValidationTest, MessageNamesTheField) {
  absl::Status status = ValidateCustomerId("Bad", "customer_id");
  EXPECT_THAT(std::string(status.message()), ::testing::StartsWith("customer_id: "));
}

}  // namespace
}  // namespace crm::domain::customer
