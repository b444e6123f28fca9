#include "common/status/etag.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status/errors.h"

namespace crm::status {

std::string Etag(int64_t version) { return absl::StrCat("v", version); }

absl::StatusOr<int64_t> ParseEtag(absl::string_view etag, absl::string_view field,
                                  absl::string_view returned_in) {
  int64_t version = 0;
  if (etag.size() < 2 || etag.front() != 'v' ||
      !std::all_of(etag.begin() + 1, etag.end(), [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(etag.substr(1), &version)) {
    return InvalidArgument(field, absl::StrCat("must be an etag as returned in ", returned_in));
  }
  return version;
}

absl::Status StaleEtag(absl::string_view name, absl::string_view name_key, int64_t sent_version,
                       int64_t current_version) {
  return Error(absl::StatusCode::kAborted,
               absl::StrCat("etag ", Etag(sent_version), " is stale: ", name, " is at ",
                            Etag(current_version), "; read it again and retry"),
               "ETAG_MISMATCH",
               {{std::string(name_key), std::string(name)},
                {"etag", Etag(sent_version)},
                {"current_etag", Etag(current_version)}});
}

}  // namespace crm::status
