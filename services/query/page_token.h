// Page tokens (AIP-158): opaque to clients; they carry where the next page starts and a
// fingerprint of the request's filters, so a token reused with other filters is refused.
// Encoding: base64url of "<kind>\n<fingerprint>\n<cursor>".
// Thread-safe: pure functions.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::services::query {

std::string EncodePageToken(absl::string_view kind, absl::string_view fingerprint,
                            absl::string_view cursor);
// The cursor in `token`; empty for an empty token (the first page). INVALID_ARGUMENT naming
// "page_token" if malformed, of another kind, or made for other filters.
absl::StatusOr<std::string> DecodePageToken(absl::string_view token, absl::string_view kind,
                                            absl::string_view fingerprint);

}  // namespace crm::services::query
