// Bulk import (crm.v1.CustomerCommandService.ImportCustomers): how one row is checked and which
// customer commands it becomes. Pure functions; the import itself (matching, running the
// commands, routing) is services/customer/customer_importer.h.
//
// A row is checked by the rules of RegisterCustomer (DecideRegister on an empty state: the same
// field checks, the same normalization, the same field paths, "customer.emails[0]"), plus the
// row's own fields that RegisterCustomer takes from other commands: owner (AssignOwner's staff id
// check) and tags (TagCustomer's). A row that passes becomes:
//   - no match: RegisterCustomer (profile, external_id, lifecycle_stage), then AssignOwner and a
//     TagCustomer per tag;
//   - a match: UpdateCustomer of the profile paths the row sets (an empty cell changes nothing),
//     ChangeLifecycleStage if the row names another stage, AssignOwner if it names another
//     owner, TagCustomer for each tag the customer lacks.
// Every command decides "nothing changed" as it always does, so re-running a row appends nothing.
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/v1/customer.pb.h"
#include "crm/v1/customer_service.pb.h"

namespace crm::domain::customer {

// Limits of one ImportCustomers stream (documented in proto/crm/v1/README.md, "Bulk import").
inline constexpr size_t kMaxImportRows = 10'000;
inline constexpr size_t kMaxImportBytes = 64 << 20;

// A checked row.
struct ImportRowPlan {
  // The row's row_number, or its position in the stream (1-based) if it has none.
  int64_t row_number = 0;
  // What RegisterCustomer records: the normalized profile paths, external_id and the first
  // lifecycle stage (UNSPECIFIED if the row names none). No owner, tags or output fields.
  crm::v1::Customer profile;
  // The owner's staff id; empty: the row names none.
  std::string owner;
  // Normalized, in row order, without duplicates.
  std::vector<std::string> tags;
  // The profile paths the row sets (UpdateCustomer's mask for a matched customer), in the
  // canonical order.
  std::vector<std::string> paths;
};

// The profile paths set (non-default) in `customer`, in UpdateCustomer's canonical order: what an
// empty update_mask selects. Defined with the update rules (customer_aggregate.cc).
std::vector<std::string> SetProfilePaths(const crm::v1::Customer& customer);

// Checks `row`, the `position`-th of its stream (1-based), at time `now`. INVALID_ARGUMENT with a
// BadRequest listing every bad field, with RegisterCustomer's paths ("customer.display_name",
// "customer.owner", "customer.tags[1]", "row_number").
absl::StatusOr<ImportRowPlan> PlanImportRow(const crm::v1::ImportCustomerRow& row, int64_t position,
                                            absl::Time now);

// The request id of one command of a row: empty if the import has none; else a name-based UUID of
// the import's request id, the row number and `step` (e.g. "register", "tag/vip"), so a retried
// stream sends every command with the request id of its first attempt.
std::string ImportStepRequestId(absl::string_view import_request_id, int64_t row_number,
                                absl::string_view step);

// The commands of a plan (see above). `request_id` as ImportStepRequestId gives it.
crm::v1::RegisterCustomerRequest RegisterRequestOf(const ImportRowPlan& plan,
                                                   absl::string_view request_id);
// `name`: "customers/{id}" of the matched customer.
crm::v1::UpdateCustomerRequest UpdateRequestOf(const ImportRowPlan& plan, absl::string_view name,
                                               absl::string_view request_id);

}  // namespace crm::domain::customer
