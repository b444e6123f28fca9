#include "services/query/page_token.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status/errors.h"

namespace crm::services::query {

std::string EncodePageToken(absl::string_view kind, absl::string_view fingerprint,
                            absl::string_view cursor) {
  return absl::WebSafeBase64Escape(absl::StrCat(kind, "\n", fingerprint, "\n", cursor));
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token, absl::string_view kind,
                                            absl::string_view fingerprint) {
  if (token.empty()) return std::string();  // the first page
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) {
    return status::InvalidArgument("page_token", "is not a page token from this API");
  }
  std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits('\n', 2));
  if (parts.size() != 3 || parts[0] != kind) {
    return status::InvalidArgument("page_token", "is not a page token for this method");
  }
  if (parts[1] != fingerprint) {
    return status::InvalidArgument("page_token",
                                   "was issued for a request with other filters; send the same "
                                   "filters as the first page");
  }
  return parts[2];
}

}  // namespace crm::services::query
