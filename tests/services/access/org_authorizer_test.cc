#include "services/access/org_authorizer.h"

#include <map>
#include <string>

#include "common/status/errors.h"
#include "crm/admin/v1/admin_service.pb.h"
#include "crm/admin/v1/backup_service.pb.h"
#include "crm/internal/v1/reservation_service.pb.h"
#include "crm/v1/analytics_service.pb.h"
#include "crm/v1/complaint_query_service.pb.h"
#include "crm/v1/complaint_service.pb.h"
#include "crm/v1/customer_service.pb.h"
#include "crm/v1/interaction_service.pb.h"
#include "crm/v1/org_service.pb.h"
#include "crm/v1/segment_service.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace crm::services::access {
namespace {

using auth::Principal;

// d1 has teams t1 and t2; d2 has t9.
class OrgAuthorizerTest : public ::testing::Test {
 protected:
  OrgAuthorizerTest() : authorizer_(Directory()) {
    Add("agent", crm::v1::SERVICE_AGENT, crm::v1::FRONT_LINE, "d1", "t1");
    Add("mate", crm::v1::ACCOUNT_MANAGER, crm::v1::FRONT_LINE, "d1", "t1");
    Add("other-team", crm::v1::ACCOUNT_MANAGER, crm::v1::FRONT_LINE, "d1", "t2");
    Add("outsider", crm::v1::ACCOUNT_MANAGER, crm::v1::FRONT_LINE, "d2", "t9");
    Add("sup", crm::v1::SUPERVISOR, crm::v1::MIDDLE, "d1", "t1");
    Add("mgr", crm::v1::MANAGER, crm::v1::MIDDLE, "d1", "");
    Add("dir", crm::v1::MANAGER, crm::v1::SENIOR, "", "");
    Add("sup-without-team", crm::v1::SUPERVISOR, crm::v1::MIDDLE, "d1", "");
    Add("gone", crm::v1::ACCOUNT_MANAGER, crm::v1::FRONT_LINE, "d1", "t1", /*active=*/false);
    teams_["teams/t1"].set_department("departments/d1");
    teams_["teams/t2"].set_department("departments/d1");
    teams_["teams/t9"].set_department("departments/d2");
  }

  OrgDirectory Directory() {
    OrgDirectory d;
    d.staff = [this](absl::string_view id) -> absl::StatusOr<std::optional<crm::v1::Staff>> {
      auto it = staff_.find(std::string(id));
      if (it == staff_.end()) return std::nullopt;
      return it->second;
    };
    d.team = [this](absl::string_view team) -> absl::StatusOr<std::optional<crm::v1::Team>> {
      auto it = teams_.find(std::string(team));
      if (it == teams_.end()) return std::nullopt;
      return it->second;
    };
    return d;
  }

  void Add(const std::string& id, crm::v1::StaffRole role, crm::v1::StaffLevel level,
           const std::string& department, const std::string& team, bool active = true) {
    crm::v1::Staff s;
    s.set_name("staff/" + id);
    s.set_role(role);
    s.set_level(level);
    if (!department.empty()) s.set_department("departments/" + department);
    if (!team.empty()) s.set_team("teams/" + team);
    s.set_active(active);
    staff_[id] = s;
  }

  static Principal Staff(const std::string& id) {
    Principal p;
    p.subject = id + "@example.com";
    p.kind = Principal::Kind::kStaff;
    p.staff_id = id;
    return p;
  }
  static Principal Service(std::vector<std::string> scopes) {
    Principal p;
    p.subject = "svc";
    p.kind = Principal::Kind::kService;
    p.scopes = std::move(scopes);
    return p;
  }

  std::shared_ptr<const auth::Grant> Grant(const Principal& p,
                                           const std::string& method =
                                               "/crm.v1.CustomerQueryService/GetCustomer") {
    auto grant = authorizer_.Authorize(method, p);
    EXPECT_TRUE(grant.ok()) << grant.status();
    return grant.ok() ? *grant : nullptr;
  }

  absl::StatusCode Code(const Principal& p, const std::string& method) {
    return authorizer_.Authorize(method, p).status().code();
  }

  std::map<std::string, crm::v1::Staff> staff_;
  std::map<std::string, crm::v1::Team> teams_;
  OrgAuthorizer authorizer_;
};

TEST_F(OrgAuthorizerTest, EveryMethodOfEveryServiceHasAClass) {
  const google::protobuf::FileDescriptor* files[] = {
      crm::v1::RegisterCustomerRequest::descriptor()->file(),
      crm::v1::FileComplaintRequest::descriptor()->file(),
      crm::v1::GetComplaintRequest::descriptor()->file(),
      crm::v1::LogInteractionRequest::descriptor()->file(),
      crm::v1::GetComplaintStatsRequest::descriptor()->file(),
      crm::v1::GetSegmentSizesRequest::descriptor()->file(),
      crm::v1::AddStaffRequest::descriptor()->file(),
      crm::admin::v1::GetStatusRequest::descriptor()->file(),
      crm::admin::v1::CreateBackupRequest::descriptor()->file(),
      crm::internal::v1::ClaimEmailRequest::descriptor()->file(),
  };
  int methods = 0;
  for (const auto* file : files) {
    for (int s = 0; s < file->service_count(); ++s) {
      const auto* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        const std::string path = "/" + service->full_name() + "/" + service->method(m)->name();
        EXPECT_TRUE(ClassOf(path).has_value()) << path << " has no class in the method table";
        ++methods;
      }
    }
  }
  EXPECT_GT(methods, 55);
  EXPECT_FALSE(ClassOf("/crm.v1.CustomerQueryService/NoSuchMethod").has_value());
}

TEST_F(OrgAuthorizerTest, StaffReachByRoleAndPlace) {
  auto agent = Grant(Staff("agent"));
  EXPECT_FALSE(agent->everything());
  EXPECT_TRUE(agent->Reaches({"agent"}));
  EXPECT_FALSE(agent->Reaches({"mate"}));
  EXPECT_TRUE(agent->Reaches({"mate", "agent"}));  // any holder will do
  EXPECT_FALSE(agent->Reaches({}));
  EXPECT_EQ(agent->staff_id(), "agent");

  auto sup = Grant(Staff("sup"));
  EXPECT_TRUE(sup->Reaches({"mate"}));
  EXPECT_TRUE(sup->Reaches({"agent"}));
  EXPECT_FALSE(sup->Reaches({"other-team"}));
  EXPECT_FALSE(sup->Reaches({"outsider"}));
  EXPECT_FALSE(sup->Reaches({"unknown"}));

  auto mgr = Grant(Staff("mgr"));
  EXPECT_TRUE(mgr->Reaches({"mate"}));
  EXPECT_TRUE(mgr->Reaches({"other-team"}));
  EXPECT_FALSE(mgr->Reaches({"outsider"}));

  auto dir = Grant(Staff("dir"));
  EXPECT_TRUE(dir->everything());
  EXPECT_TRUE(dir->Reaches({}));
  EXPECT_EQ(dir->staff_id(), "");

  // A supervisor without a team reaches only their own rows.
  auto lone = Grant(Staff("sup-without-team"));
  EXPECT_TRUE(lone->Reaches({"sup-without-team"}));
  EXPECT_FALSE(lone->Reaches({"mate"}));
}

TEST_F(OrgAuthorizerTest, ScopesOfFigures) {
  auto sup = Grant(Staff("sup"), "/crm.v1.AnalyticsService/GetStaffKpis");
  EXPECT_TRUE(sup->ReachesScope("mate", "", ""));
  EXPECT_TRUE(sup->ReachesScope("", "teams/t1", ""));
  EXPECT_FALSE(sup->ReachesScope("", "teams/t2", ""));
  EXPECT_FALSE(sup->ReachesScope("", "", "departments/d1"));
  EXPECT_FALSE(sup->ReachesScope("", "", ""));  // the whole organisation

  auto mgr = Grant(Staff("mgr"), "/crm.v1.AnalyticsService/GetStaffKpis");
  EXPECT_TRUE(mgr->ReachesScope("", "teams/t2", ""));
  EXPECT_FALSE(mgr->ReachesScope("", "teams/t9", ""));
  EXPECT_TRUE(mgr->ReachesScope("", "", "departments/d1"));
  EXPECT_FALSE(mgr->ReachesScope("", "", "departments/d2"));

  auto agent = Grant(Staff("agent"), "/crm.v1.AnalyticsService/GetStaffKpis");
  EXPECT_TRUE(agent->ReachesScope("agent", "", ""));
  EXPECT_FALSE(agent->ReachesScope("", "teams/t1", ""));
}

TEST_F(OrgAuthorizerTest, MethodClasses) {
  const std::string admin_method = "/crm.admin.v1.AdminService/GetStatus";
  const std::string org_write = "/crm.v1.OrgService/AddStaff";
  const std::string org_report = "/crm.v1.AnalyticsService/GetSlaCompliance";
  const std::string command = "/crm.v1.CustomerCommandService/TagCustomer";
  const std::string read = "/crm.v1.CustomerQueryService/GetCustomer";
  const std::string org_read = "/crm.v1.OrgQueryService/ListStaff";

  EXPECT_EQ(Code(Staff("dir"), admin_method), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Code(Staff("dir"), org_write), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Code(Staff("dir"), org_report), absl::StatusCode::kOk);
  EXPECT_EQ(Code(Staff("mgr"), org_report), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Code(Staff("agent"), org_read), absl::StatusCode::kOk);

  Principal admin = Staff("agent");
  admin.scopes = {"crm.admin"};
  EXPECT_EQ(Code(admin, admin_method), absl::StatusCode::kOk);
  EXPECT_TRUE(Grant(admin, command)->everything());
  EXPECT_EQ(Code(Service({"crm.admin"}), "/crm.v1.NoSuch/Method"), absl::StatusCode::kOk);
  EXPECT_EQ(Code(Staff("dir"), "/crm.v1.NoSuch/Method"), absl::StatusCode::kPermissionDenied);

  EXPECT_EQ(Code(Service({"crm.read"}), read), absl::StatusCode::kOk);
  EXPECT_EQ(Code(Service({"crm.read"}), org_report), absl::StatusCode::kOk);
  EXPECT_EQ(Code(Service({"crm.read"}), command), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Code(Service({"crm.write"}), command), absl::StatusCode::kOk);
  EXPECT_EQ(Code(Service({"crm.write"}), read), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Code(Service({"crm.write"}), org_read), absl::StatusCode::kOk);
  EXPECT_EQ(Code(Service({}), org_read), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Code(Service({"crm.read", "crm.write"}), admin_method),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(OrgAuthorizerTest, UnknownOrDeactivatedStaffAreRefusedEverything) {
  for (const char* id : {"gone", "nobody", ""}) {
    absl::Status s = authorizer_.Authorize("/crm.v1.OrgQueryService/ListStaff", Staff(id)).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << id;
    google::rpc::ErrorInfo info;
    ASSERT_TRUE(status::GetDetail(s, &info));
    EXPECT_EQ(info.reason(), "STAFF_UNKNOWN");
  }
}

TEST_F(OrgAuthorizerTest, AReorganisationAppliesToTheNextGrant) {
  EXPECT_FALSE(Grant(Staff("sup"))->Reaches({"other-team"}));
  staff_["other-team"].set_team("teams/t1");
  EXPECT_TRUE(Grant(Staff("sup"))->Reaches({"other-team"}));
}

}  // namespace
}  // namespace crm::services::access
