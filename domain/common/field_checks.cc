#include "domain/common/field_checks.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status/errors.h"

namespace crm::domain {
namespace {

using crm::status::InvalidArgument;

// Decodes `text` as UTF-8 and counts its code points. Rejects overlong forms,
// surrogates and values above U+10FFFF (RFC 3629). Calls `on_code_point` for
// each code point if given.
template <typename F>
bool DecodeUtf8(absl::string_view text, size_t* count, F on_code_point) {
  size_t n = 0;
  size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    uint32_t cp = 0;
    size_t len = 0;
    if (b0 < 0x80) {
      cp = b0;
      len = 1;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      cp = b0 & 0x1F;
      len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      cp = b0 & 0x0F;
      len = 3;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      cp = b0 & 0x07;
      len = 4;
    } else {
      return false;  // Continuation byte, 0xC0/0xC1 (overlong) or 0xF5+ (beyond
                     // U+10FFFF).
    }
    if (i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;  // Overlong.
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;                            // Surrogate.
    if (cp > 0x10FFFF) return false;
    on_code_point(cp);
    i += len;
    ++n;
  }
  if (count != nullptr) *count = n;
  return true;
}

bool IsBlank(uint32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
         cp == 0xA0 || cp == 0x3000;  // No-break space, ideographic space.
}

// C0 controls other than tab, LF and CR; DEL; C1 controls.
bool IsDisallowedControl(uint32_t cp) {
  return (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7F && cp <= 0x9F);
}

bool IsLowerAlnum(char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c); }

}  // namespace

bool IsValidUtf8(absl::string_view text) {
  return DecodeUtf8(text, nullptr, [](uint32_t) {});
}

absl::StatusOr<std::string> NormalizeEmail(absl::string_view email, absl::string_view field) {
  std::string e = absl::AsciiStrToLower(absl::StripAsciiWhitespace(email));
  if (e.empty()) return InvalidArgument(field, "must not be empty");
  if (e.size() > kMaxEmail) {
    return InvalidArgument(field, absl::StrCat("must be at most ", kMaxEmail, " characters"));
  }
  if (!IsValidUtf8(e)) return InvalidArgument(field, "must be valid UTF-8");
  for (char c : e) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) {
      return InvalidArgument(field, "must not contain spaces or control characters");
    }
  }
  const size_t at = e.find('@');
  if (at == std::string::npos || e.find('@', at + 1) != std::string::npos) {
    return InvalidArgument(field, "must contain exactly one '@'");
  }
  if (at == 0) return InvalidArgument(field, "must have a non-empty local part before '@'");
  const absl::string_view domain = absl::string_view(e).substr(at + 1);
  if (domain.find('.') == absl::string_view::npos || domain.front() == '.' ||
      domain.back() == '.' || domain.find("..") != absl::string_view::npos) {
    return InvalidArgument(field, "must have a domain such as example.com after '@'");
  }
  return e;
}

absl::StatusOr<std::string> NormalizePhone(absl::string_view phone, absl::string_view field) {
  std::string digits;
  bool plus = false;
  bool any = false;
  for (char c : phone) {
    if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') continue;
    if (c == '+') {
      if (plus || any) return InvalidArgument(field, "'+' may only start the number");
      plus = true;
      continue;
    }
    if (!absl::ascii_isdigit(c)) {
      return InvalidArgument(field,
                             "must be '+' and digits (spaces, dashes, dots and parentheses "
                             "are removed)");
    }
    digits.push_back(c);
    any = true;
  }
  if (digits.size() < 6 || digits.size() > 15) {
    return InvalidArgument(field, "must have 6 to 15 digits");
  }
  return absl::StrCat("+", digits);
}

absl::Status ValidateCustomerId(absl::string_view id, absl::string_view field) {
  if (id.empty()) return InvalidArgument(field, "must not be empty");
  if (id.size() > kMaxId) {
    return InvalidArgument(field, absl::StrCat("must be at most ", kMaxId, " characters"));
  }
  for (char c : id) {
    if (!IsLowerAlnum(c) && c != '-') {
      return InvalidArgument(field, "must contain only lower-case letters, digits and '-'");
    }
  }
  if (id.front() == '-' || id.back() == '-') {
    return InvalidArgument(field, "must not start or end with '-'");
  }
  return absl::OkStatus();
}

absl::Status ValidateStaffId(absl::string_view id, absl::string_view field) {
  if (id.empty()) return InvalidArgument(field, "must not be empty");
  if (id.size() > kMaxId) {
    return InvalidArgument(field, absl::StrCat("must be at most ", kMaxId, " characters"));
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') {
      return InvalidArgument(field, "must contain only letters, digits, '.', '_' and '-'");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRequiredEnum(const google::protobuf::EnumDescriptor& type, int value,
                                  absl::string_view field) {
  if (value == 0) {
    std::string names;
    for (int i = 1; i < type.value_count(); ++i) {
      absl::StrAppend(&names,
                      i == 1                        ? ""
                      : i + 1 == type.value_count() ? " or "
                                                    : ", ",
                      type.value(i)->name());
    }
    return InvalidArgument(field, absl::StrCat("is required: ", names));
  }
  if (type.FindValueByNumber(value) == nullptr) {
    return InvalidArgument(field, absl::StrCat("unknown value ", value));
  }
  return absl::OkStatus();
}

absl::Status ValidateRequestId(absl::string_view id, absl::string_view field) {
  if (id.size() > kMaxRequestId) {
    return InvalidArgument(field, absl::StrCat("must be at most ", kMaxRequestId, " characters"));
  }
  for (char c : id) {
    if (!absl::ascii_isprint(c)) {
      return InvalidArgument(field, "must contain only printable ASCII characters");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateText(absl::string_view text, size_t max_chars, bool required,
                          absl::string_view field) {
  size_t count = 0;
  bool blank = true;
  bool control = false;
  if (!DecodeUtf8(text, &count, [&](uint32_t cp) {
        blank = blank && IsBlank(cp);
        control = control || IsDisallowedControl(cp);
      })) {
    return InvalidArgument(field, "must be valid UTF-8");
  }
  if (required && blank) return InvalidArgument(field, "is required");
  if (count > max_chars) {
    return InvalidArgument(field, absl::StrCat("must be at most ", max_chars, " characters"));
  }
  if (control) return InvalidArgument(field, "must not contain control characters");
  return absl::OkStatus();
}

}  // namespace crm::domain
