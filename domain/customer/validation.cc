#include "domain/customer/validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status/errors.h"

namespace crm::domain::customer {
namespace {

using crm::status::InvalidArgument;

bool IsLowerAlnum(char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c); }

}  // namespace

absl::StatusOr<std::string> NormalizeTag(absl::string_view tag, absl::string_view field) {
  std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(tag));
  if (t.empty()) return InvalidArgument(field, "must not be empty");
  if (t.size() > kMaxTag) {
    return InvalidArgument(field, absl::StrCat("must be at most ", kMaxTag, " characters"));
  }
  if (!IsLowerAlnum(t[0])) return InvalidArgument(field, "must start with a letter or digit");
  for (char c : t) {
    if (!IsLowerAlnum(c) && c != '_' && c != ':' && c != '-') {
      return InvalidArgument(field, "must contain only letters, digits, '_', ':' and '-'");
    }
  }
  return t;
}

absl::Status ValidateExternalId(absl::string_view id, absl::string_view field) {
  if (id.empty()) return absl::OkStatus();
  if (absl::Status text = ValidateText(id, kMaxExternalId, /*required=*/false, field); !text.ok()) {
    return text;
  }
  for (char c : id) {
    if (c == '\t' || c == '\n' || c == '\r') {
      return InvalidArgument(field, "must not contain control characters");
    }
  }
  if (absl::ascii_isspace(id.front()) || absl::ascii_isspace(id.back())) {
    return InvalidArgument(field, "must not begin or end with white space");
  }
  return absl::OkStatus();
}

absl::Status ValidateCurrency(absl::string_view code, absl::string_view field) {
  if (code.empty()) return InvalidArgument(field, "is required");
  if (code.size() != 3 || !absl::ascii_isupper(code[0]) || !absl::ascii_isupper(code[1]) ||
      !absl::ascii_isupper(code[2])) {
    return InvalidArgument(field, "must be an ISO 4217 code: three upper-case letters");
  }
  return absl::OkStatus();
}

absl::Status ValidateCountryCode(absl::string_view code, absl::string_view field) {
  if (code.empty()) return InvalidArgument(field, "is required");
  if (code.size() != 2 || !absl::ascii_isupper(code[0]) || !absl::ascii_isupper(code[1])) {
    return InvalidArgument(field,
                           "must be an ISO 3166-1 alpha-2 code: two upper-case letters, e.g. CN");
  }
  return absl::OkStatus();
}

absl::Status ValidateSocialHandle(absl::string_view handle, absl::string_view field) {
  if (handle.empty()) return InvalidArgument(field, "is required");
  if (absl::Status text = ValidateText(handle, kMaxSocialHandle, /*required=*/true, field);
      !text.ok()) {
    return text;
  }
  for (char c : handle) {
    if (absl::ascii_isspace(c) || absl::ascii_iscntrl(c)) {
      return InvalidArgument(field, "must not contain white space or control characters");
    }
  }
  return absl::OkStatus();
}

}  // namespace crm::domain::customer
