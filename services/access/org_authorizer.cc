#include "services/access/org_authorizer.h"

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status/errors.h"

namespace crm::services::access {
namespace {

using MC = MethodClass;

// Every method of every service, by class. docs/security.md "Authorization" is this table.
const std::map<std::string, MethodClass, std::less<>>& Table() {
  static const auto* table = new std::map<std::string, MethodClass, std::less<>>([] {
    std::map<std::string, MethodClass, std::less<>> t;
    auto add = [&t](absl::string_view service, MethodClass c,
                    std::initializer_list<absl::string_view> methods) {
      for (absl::string_view m : methods) t[absl::StrCat("/", service, "/", m)] = c;
    };
    add("crm.v1.CustomerCommandService", MC::kWrite,
        {"RegisterCustomer", "UpdateCustomer", "ChangeLifecycleStage", "AssignOwner", "TagCustomer",
         "UntagCustomer", "RecordPurchase"});
    add("crm.v1.CustomerCommandService", MC::kWrite, {"UnassignOwner"});
    add("crm.v1.CustomerCommandService", MC::kWrite,
        {"ArchiveCustomer", "UnarchiveCustomer", "RefundPurchase"});
    // The caller must reach both customers (the command executor checks each).
    add("crm.v1.CustomerCommandService", MC::kWrite, {"MergeCustomers"});
    // Rows are authorized one by one, as the commands they become; a refused row is reported.
    add("crm.v1.CustomerCommandService", MC::kWrite, {"ImportCustomers"});
    add("crm.v1.CustomerQueryService", MC::kRead,
        {"GetCustomer", "ListCustomers", "SearchCustomers", "FindCustomers", "GetCustomerHistory"});
    add("crm.v1.InteractionCommandService", MC::kWrite, {"LogInteraction", "CompleteFollowUp"});
    add("crm.v1.InteractionQueryService", MC::kRead,
        {"GetInteraction", "ListInteractions", "GetCustomerTimeline", "ListFollowUps"});
    add("crm.v1.SurveyCommandService", MC::kWrite, {"SendSurvey", "RecordSurveyAnswer"});
    add("crm.v1.SurveyQueryService", MC::kRead, {"GetSurvey", "ListSurveys"});
    add("crm.v1.ComplaintCommandService", MC::kWrite,
        {"FileComplaint", "AcknowledgeComplaint", "AssignComplaint", "StartInvestigation",
         "ResolveComplaint", "RecordFollowUpVisit", "CloseComplaint", "ReopenComplaint",
         "EscalateComplaint"});
    add("crm.v1.ComplaintQueryService", MC::kRead,
        {"GetComplaint", "GetComplaintHistory", "ListComplaints"});
    add("crm.v1.SegmentService", MC::kRead, {"GetCustomerValue"});
    add("crm.v1.SegmentService", MC::kOrgReport, {"GetSegmentSizes", "GetLifecycleFunnel"});
    add("crm.v1.AnalyticsService", MC::kScopedReport,
        {"GetSatisfaction", "GetStaffKpis", "GetSalesStats"});
    add("crm.v1.AnalyticsService", MC::kOrgReport,
        {"GetComplaintStats", "GetSlaCompliance", "GetResponseTimes", "GetInteractionStats",
         "GetRootCauses", "GetRetention", "GetConversionTime"});
    add("crm.v1.AnalyticsService", MC::kOrgReport, {"GetSurveyStats"});
    add("crm.v1.OrgService", MC::kAdmin,
        {"CreateDepartment", "UpdateDepartment", "CreateTeam", "UpdateTeam", "AddStaff",
         "UpdateStaff", "DeactivateStaff"});
    add("crm.v1.OrgService", MC::kAdmin, {"ReactivateStaff", "RemoveTeam", "RemoveDepartment"});
    add("crm.v1.OrgService", MC::kAdmin,
        {"RaiseImprovementAction", "LinkImprovementComplaints", "CompleteImprovementAction",
         "CancelImprovementAction"});
    add("crm.v1.OrgQueryService", MC::kOrgRead,
        {"GetDepartment", "GetTeam", "GetStaff", "ListDepartments", "ListTeams", "ListStaff",
         "GetOrgChart"});
    // A queue holds customers' rows; its scope is checked as a report's (ReachesScope).
    add("crm.v1.OrgQueryService", MC::kRead, {"ListWorkItems"});
    add("crm.v1.OrgQueryService", MC::kOrgRead, {"GetImprovementAction", "ListImprovementActions"});
    // Resolutions per root cause over the whole organisation, as GetRootCauses.
    add("crm.v1.OrgQueryService", MC::kOrgReport, {"GetImprovementEffect"});
    // A staff member reads their own notifications; a grant of everything, anyone's (the
    // service checks the recipient).
    add("crm.v1.NotificationService", MC::kRead, {"ListNotifications", "WatchNotifications"});
    add("crm.admin.v1.AdminService", MC::kAdmin,
        {"GetStatus", "RebuildFolds", "ListDeadLetters", "GetDeadLetter", "RetryDeadLetter",
         "ListEvents", "ListAuditRecords"});
    add("crm.admin.v1.BackupService", MC::kAdmin, {"CreateBackup"});
    add("crm.internal.v1.EmailReservationService", MC::kInternal, {"ClaimEmail", "ReleaseEmail"});
    // The executor checks that the caller reaches both customers, as MergeCustomers does.
    add("crm.internal.v1.CustomerMergeService", MC::kInternal, {"SealMergedCustomer"});
    return t;
  }());
  return *table;
}

enum class Reach { kOwn, kTeam, kDepartment, kEverything };

class OrgGrant final : public auth::Grant {
 public:
  // Everything (admins, service accounts, directors).
  OrgGrant() : reach_(Reach::kEverything), directory_(nullptr) {}
  OrgGrant(Reach reach, const crm::v1::Staff& self, std::string staff_id,
           const OrgDirectory* directory)
      : reach_(reach),
        staff_id_(std::move(staff_id)),
        team_(self.team()),
        department_(self.department()),
        directory_(directory) {}

  bool everything() const override { return reach_ == Reach::kEverything; }

  bool Reaches(const std::vector<std::string>& holders) const override {
    if (everything()) return true;
    for (const std::string& holder : holders) {
      if (holder.empty()) continue;
      if (holder == staff_id_) return true;
      if (reach_ == Reach::kOwn) continue;
      const Place place = PlaceOf(holder);
      if (reach_ == Reach::kTeam && !team_.empty() && place.team == team_) return true;
      if (reach_ == Reach::kDepartment && !department_.empty() && place.department == department_) {
        return true;
      }
    }
    return false;
  }

  bool ReachesScope(absl::string_view staff_id, absl::string_view team,
                    absl::string_view department) const override {
    if (everything()) return true;
    if (!staff_id.empty()) return Reaches({std::string(staff_id)});
    if (!team.empty()) {
      if (reach_ == Reach::kTeam) return !team_.empty() && team == team_;
      if (reach_ == Reach::kDepartment && !department_.empty()) {
        absl::StatusOr<std::optional<crm::v1::Team>> found = directory_->team(team);
        return found.ok() && found->has_value() && (*found)->department() == department_;
      }
      return false;
    }
    if (!department.empty()) {
      return reach_ == Reach::kDepartment && !department_.empty() && department == department_;
    }
    return false;  // the whole organisation
  }

  const std::string& staff_id() const override { return staff_id_; }

 private:
  struct Place {
    std::string team;
    std::string department;
  };

  // Where `holder` is in the org now; nowhere if unknown (a lookup error reaches nothing).
  Place PlaceOf(const std::string& holder) const {
    absl::MutexLock lock(&mu_);
    auto it = places_.find(holder);
    if (it != places_.end()) return it->second;
    Place place;
    absl::StatusOr<std::optional<crm::v1::Staff>> found = directory_->staff(holder);
    if (found.ok() && found->has_value()) {
      place.team = (*found)->team();
      place.department = (*found)->department();
    }
    places_.emplace(holder, place);
    return place;
  }

  const Reach reach_;
  const std::string staff_id_;
  const std::string team_;
  const std::string department_;
  const OrgDirectory* const directory_;
  mutable absl::Mutex mu_;
  mutable std::map<std::string, Place> places_ ABSL_GUARDED_BY(mu_);
};

absl::Status MethodDenied(absl::string_view method, absl::string_view why) {
  return status::Error(absl::StatusCode::kPermissionDenied,
                       absl::StrCat("the caller may not call ", method, ": ", why), "ACCESS_DENIED",
                       {{"method", std::string(method)}});
}

std::shared_ptr<const auth::Grant> Everything() {
  static const auto* grant = new std::shared_ptr<const auth::Grant>(new OrgGrant());
  return *grant;
}

}  // namespace

std::optional<MethodClass> ClassOf(absl::string_view method) {
  const auto& table = Table();
  auto it = table.find(method);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

absl::string_view ClassName(MethodClass c) {
  switch (c) {
    case MC::kOrgRead:
      return "org-read";
    case MC::kRead:
      return "read";
    case MC::kWrite:
      return "write";
    case MC::kScopedReport:
      return "scoped-report";
    case MC::kOrgReport:
      return "org-report";
    case MC::kAdmin:
      return "admin";
    case MC::kInternal:
      return "internal";
  }
  return "unknown";
}

absl::StatusOr<std::shared_ptr<const auth::Grant>> OrgAuthorizer::Authorize(
    absl::string_view method, const auth::Principal& principal) const {
  if (principal.HasScope("crm.admin")) return Everything();
  const std::optional<MethodClass> c = ClassOf(method);
  if (!c.has_value()) return MethodDenied(method, "the method is for admins only");
  if (*c == MC::kAdmin) return MethodDenied(method, "the method is for admins (crm.admin)");

  if (principal.kind == auth::Principal::Kind::kService) {
    const bool reads = principal.HasScope("crm.read");
    const bool writes = principal.HasScope("crm.write");
    bool allowed = false;
    switch (*c) {
      case MC::kOrgRead:
        allowed = reads || writes;
        break;
      case MC::kRead:
      case MC::kScopedReport:
      case MC::kOrgReport:
        allowed = reads;
        break;
      case MC::kWrite:
      case MC::kInternal:
        allowed = writes;
        break;
      case MC::kAdmin:
        break;
    }
    if (!allowed) {
      return MethodDenied(
          method, absl::StrCat("the service account has no scope for ", ClassName(*c), " methods"));
    }
    return Everything();
  }

  // A staff member: as the org chart has them now.
  absl::StatusOr<std::optional<crm::v1::Staff>> found = principal.staff_id.empty()
                                                            ? std::optional<crm::v1::Staff>()
                                                            : directory_.staff(principal.staff_id);
  if (!found.ok()) return found.status();
  if (!found->has_value() || !(*found)->active()) {
    return status::Error(absl::StatusCode::kPermissionDenied,
                         absl::StrCat("staff member \"", principal.staff_id,
                                      "\" is not an active member of the org chart"),
                         "STAFF_UNKNOWN", {{"staff_id", principal.staff_id}});
  }
  const crm::v1::Staff& self = **found;
  Reach reach = Reach::kOwn;
  if (self.level() == crm::v1::SENIOR) {
    reach = Reach::kEverything;
  } else if (self.role() == crm::v1::MANAGER && !self.department().empty()) {
    reach = Reach::kDepartment;
  } else if (self.role() == crm::v1::SUPERVISOR && !self.team().empty()) {
    reach = Reach::kTeam;
  }
  if (reach == Reach::kEverything) return Everything();
  if (*c == MC::kOrgReport) {
    return MethodDenied(method, "figures of the whole organisation are for directors");
  }
  return std::shared_ptr<const auth::Grant>(
      std::make_shared<OrgGrant>(reach, self, principal.staff_id, &directory_));
}

}  // namespace crm::services::access
