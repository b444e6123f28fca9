// AIP-154 etags of event-sourced resources: "v<version>", where version is the aggregate version
// (the number of its events). Every resource of the API uses them, with the same errors.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::status {

// The etag of a version: "v<version>" (e.g. "v7").
std::string Etag(int64_t version);

// The version in an etag "v<version>"; INVALID_ARGUMENT naming `field` if malformed, saying the
// etag must be one "as returned in <returned_in>" (e.g. "Customer.etag").
absl::StatusOr<int64_t> ParseEtag(absl::string_view etag, absl::string_view field,
                                  absl::string_view returned_in);

// ABORTED (reason ETAG_MISMATCH; metadata <name_key>: name, etag, current_etag): the caller's etag
// `sent_version` of `name` is stale, the resource is at `current_version`.
absl::Status StaleEtag(absl::string_view name, absl::string_view name_key, int64_t sent_version,
                       int64_t current_version);

}  // namespace crm::status
