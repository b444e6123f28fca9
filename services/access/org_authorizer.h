// OrgAuthorizer: who may call what and reach which rows, from the org chart and the principal's
// scopes (common/auth/grant.h says where each half is enforced). The one table of the rules is
// docs/security.md "Authorization"; this is its code.
//
// Who a principal is, in order:
//   - any principal with the scope "crm.admin": admin, every method, every row;
//   - a staff principal (a token with "crm_staff_id"): the org chart's active staff member of
//     that id, reaching by their place in it:
//       level SENIOR (高层管理)             director    every row
//       role MANAGER                        manager     rows held by staff of their department
//       role SUPERVISOR                     supervisor  rows held by staff of their team
//       any other role (account manager,    agent       rows they hold themselves
//       customer representative, service agent)
//     (a manager without a department or a supervisor without a team reaches only their own
//     rows); an unknown or deactivated staff id is refused everything (STAFF_UNKNOWN); a
//     reorganisation applies to the next call;
//   - a service principal: by its scopes, "crm.read" (queries and figures of every row) and
//     "crm.write" (commands on every row); both may read the org chart.
// What each method needs is its class (MethodClass below); a method without a class is refused
// to everyone but admins, so a new RPC is closed until it is classified.
//
// Thread-safe: const; grants cache the places they looked up for their one call.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth/grant.h"
#include "crm/v1/org.pb.h"

namespace crm::services::access {

// The org chart as authorization reads it: now, not as of any event.
struct OrgDirectory {
  // The staff member with bare id `staff_id`, or nullopt.
  std::function<absl::StatusOr<std::optional<crm::v1::Staff>>(absl::string_view staff_id)> staff;
  // The team with resource name `team` ("teams/{id}"), or nullopt.
  std::function<absl::StatusOr<std::optional<crm::v1::Team>>(absl::string_view team)> team;
};

enum class MethodClass {
  // The org chart (departments, teams, staff): every staff member, crm.read, crm.write.
  kOrgRead,
  // Rows of customers, interactions, complaints: staff as far as they reach; crm.read.
  kRead,
  // Commands on those rows: staff as far as they reach; crm.write.
  kWrite,
  // Figures with a StaffScope: staff for the scopes they reach; crm.read.
  kScopedReport,
  // Figures over the whole organisation: directors; crm.read.
  kOrgReport,
  // Operations (AdminService, BackupService) and org changes: admins only.
  kAdmin,
  // Calls between crm-command replicas on a caller's behalf (EmailReservationService,
  // CustomerMergeService): whoever may write.
  kInternal,
};

// The class of `method` ("/crm.v1.CustomerQueryService/GetCustomer"), nullopt if it has none.
std::optional<MethodClass> ClassOf(absl::string_view method);

// "org-read", "read", ... as docs/security.md names the classes.
absl::string_view ClassName(MethodClass c);

class OrgAuthorizer final : public auth::Authorizer {
 public:
  explicit OrgAuthorizer(OrgDirectory directory) : directory_(std::move(directory)) {}

  absl::StatusOr<std::shared_ptr<const auth::Grant>> Authorize(
      absl::string_view method, const auth::Principal& principal) const override;

 private:
  const OrgDirectory directory_;
};

}  // namespace crm::services::access
