// Grant and Authorizer: what an authenticated caller may do, decided in two places.
//
//   1. Per call, before the handler runs: the Authorizer looks at the method and the principal
//      and either refuses the call (PERMISSION_DENIED) or hands out a Grant, which the call
//      carries (rpc::CallContext::grant).
//   2. Per row, where rows are read and written (the command executor, the query services): the
//      Grant says whether the caller reaches a row, given the staff members who hold it (a
//      customer's owner, a complaint's assignee, an interaction's staff member). Lists leave out
//      rows the caller does not reach; a single read or a command on a row the caller does not
//      reach answers PERMISSION_DENIED whether or not the row exists (AIP-211; `Denied` below).
//
// The rules themselves (roles from the org chart, service-account scopes, the method table) are
// services/access/org_authorizer.h, and the whole matrix is docs/security.md "Authorization".
// Without authentication no Authorizer runs and calls carry no Grant: everything is reached.
//
// Thread-safe: implementations are.
#pragma once

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth/principal.h"

namespace crm::auth {

class Grant {
 public:
  virtual ~Grant() = default;

  // Whether the caller reaches every row (a director, an admin, a service account with the
  // method's scope). Rows need no holders then.
  virtual bool everything() const = 0;

  // Whether the caller reaches a row held by any of `holders` (staff ids; empty ones are
  // skipped). No holders: only if everything().
  virtual bool Reaches(const std::vector<std::string>& holders) const = 0;

  // For figures scoped to a staff member, a team ("teams/{id}") or a department
  // ("departments/{id}"), at most one set; none set = the whole organisation.
  virtual bool ReachesScope(absl::string_view staff_id, absl::string_view team,
                            absl::string_view department) const = 0;

  // The caller's staff id when the caller is a staff member acting with less than everything:
  // a customer such a caller registers becomes theirs (services/customer). Empty otherwise.
  virtual const std::string& staff_id() const = 0;
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;

  // The grant of a call of `method` ("/crm.v1.CustomerQueryService/GetCustomer") by
  // `principal`, or PERMISSION_DENIED (ErrorInfo reason ACCESS_DENIED, or STAFF_UNKNOWN for a
  // staff principal the org chart does not know as active) naming the method.
  virtual absl::StatusOr<std::shared_ptr<const Grant>> Authorize(
      absl::string_view method, const Principal& principal) const = 0;
};

// The answer for a row the caller does not reach, the same whether or not it exists:
// PERMISSION_DENIED, reason ACCESS_DENIED, metadata {resource}.
absl::Status Denied(absl::string_view resource);

// OK when `grant` is null (no authorization) or reaches a row held by `holders`; else
// Denied(resource).
absl::Status CheckReach(const Grant* grant, const std::vector<std::string>& holders,
                        absl::string_view resource);

// Whether `grant` (null: no authorization) reaches a row held by `holders`.
inline bool Visible(const Grant* grant, const std::vector<std::string>& holders) {
  return grant == nullptr || grant->Reaches(holders);
}

}  // namespace crm::auth
