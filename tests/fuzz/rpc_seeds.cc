#include "tests/fuzz/rpc_seeds.h"

namespace crm::fuzz {
namespace {

constexpr char kCustomers[] = "crm.v1.CustomerCommandService/";
constexpr char kOrg[] = "crm.v1.OrgService/";
constexpr char kInteractions[] = "crm.v1.InteractionCommandService/";
constexpr char kComplaints[] = "crm.v1.ComplaintCommandService/";
constexpr char kSurveys[] = "crm.v1.SurveyCommandService/";

// The fuzzer's clock stands at 2023-11-14T22:13:20Z (1'700'000'000, base::FakeClock's default);
// every time below is before it.
std::vector<Seed> Build() {
  auto m = [](const char* service, const char* method) { return std::string(service) + method; };
  return {
      // ---- the fixture: an organisation, two customers, an interaction, three complaints ----
      {m(kOrg, "CreateDepartment"),
       R"(department_id: "cs" request_id: "fx-1"
          department { display_name: "Customer service" function: CUSTOMER_SERVICE })",
       true},
      {m(kOrg, "CreateDepartment"),
       R"(department_id: "sales" request_id: "fx-2"
          department { display_name: "Sales" function: SALES })",
       true},
      {m(kOrg, "CreateTeam"),
       R"(team_id: "cs-east" request_id: "fx-3"
          team { display_name: "East" department: "departments/cs" })",
       true},
      {m(kOrg, "AddStaff"),
       R"(staff_id: "mgr-wang" request_id: "fx-4"
          staff { display_name: "Wang" role: MANAGER level: SENIOR department: "departments/cs" })",
       true},
      {m(kOrg, "AddStaff"),
       R"(staff_id: "agent-li" request_id: "fx-5"
          staff { display_name: "Li" email: "li@corp.example.com" role: SERVICE_AGENT
                  level: FRONT_LINE department: "departments/cs" team: "teams/cs-east"
                  manager: "mgr-wang" })",
       true},
      {m(kOrg, "AddStaff"),
       R"(staff_id: "am-sun" request_id: "fx-6"
          staff { display_name: "Sun" role: ACCOUNT_MANAGER level: FRONT_LINE
                  department: "departments/sales" })",
       true},
      {m(kCustomers, "RegisterCustomer"),
       R"(customer_id: "acme" request_id: "fx-7"
          customer { display_name: "ACME Ltd" kind: COMPANY emails: "sales@acme.example.com"
                     phones: "+86 138 0013 8000" region: "east" industry: "retail"
                     acquisition_source: REFERRAL attributes { key: "tier" value: "gold" } })",
       true},
      {m(kCustomers, "RegisterCustomer"),
       R"(customer_id: "bolt" request_id: "fx-8"
          customer { display_name: "Li Bolt" kind: PERSON emails: "li@bolt.example.com" })",
       true},
      {m(kCustomers, "AssignOwner"), R"(name: "customers/acme" owner: "am-sun" request_id: "fx-9")",
       true},
      {m(kCustomers, "TagCustomer"), R"(name: "customers/acme" tag: "vip" request_id: "fx-10")",
       true},
      {m(kCustomers, "RecordPurchase"),
       R"(name: "customers/acme" request_id: "fx-11"
          purchase { purchase_id: "p-1" amount { currency_code: "CNY" amount_minor: 1250000 }
                     product: "Widgets" purchased_at { seconds: 1699900000 } })",
       true},
      {m(kCustomers, "ChangeLifecycleStage"),
       R"(name: "customers/acme" lifecycle_stage: FIRST_CONTACT reason: "called back"
          request_id: "fx-12")",
       true},
      {m(kInteractions, "LogInteraction"),
       R"(parent: "customers/acme" interaction_id: "call-1" request_id: "fx-13"
          interaction { channel: PHONE direction: OUTBOUND staff_id: "agent-li"
                        occurred_at { seconds: 1699990000 } summary: "Called about the renewal"
                        follow_up_due_time { seconds: 1700086400 } })",
       true},
      {m(kInteractions, "LogInteraction"),
       R"(parent: "customers/bolt" interaction_id: "mail-1" request_id: "fx-14"
          interaction { channel: EMAIL direction: INBOUND staff_id: "agent-li"
                        occurred_at { seconds: 1699980000 } summary: "Asked for a quote"
                        outcome: "quote sent" })",
       true},
      {m(kComplaints, "FileComplaint"),
       R"(parent: "customers/acme" complaint_id: "c1" request_id: "fx-15"
          complaint { channel: EMAIL category: LOGISTICS severity: GENERAL
                      description: "Parcel late" })",
       true},
      {m(kComplaints, "AcknowledgeComplaint"),
       R"(name: "customers/acme/complaints/c1" responder: "agent-li" request_id: "fx-16")", true},
      {m(kComplaints, "AssignComplaint"),
       R"(name: "customers/acme/complaints/c1" assignee: "agent-li" request_id: "fx-17")", true},
      {m(kComplaints, "StartInvestigation"),
       R"(name: "customers/acme/complaints/c1" request_id: "fx-18")", true},
      {m(kComplaints, "ResolveComplaint"),
       R"(name: "customers/acme/complaints/c1" resolution: "Reshipped" root_cause: DELIVERY_DELAY
          request_id: "fx-19")",
       true},
      {m(kComplaints, "RecordFollowUpVisit"),
       R"(name: "customers/acme/complaints/c1" request_id: "fx-20"
          visit { satisfied: true csat: 4 comment: "fine now" })",
       true},
      {m(kComplaints, "FileComplaint"),
       R"(parent: "customers/acme" complaint_id: "c2" request_id: "fx-21"
          complaint { channel: PHONE category: PRODUCT_QUALITY severity: SEVERE
                      description: "Broken on arrival" })",
       true},
      {m(kComplaints, "FileComplaint"),
       R"(parent: "customers/bolt" complaint_id: "c3" request_id: "fx-22"
          complaint { channel: ONLINE_CHAT category: BILLING severity: MINOR
                      description: "Charged twice" })",
       true},
      {m(kSurveys, "SendSurvey"),
       R"(parent: "customers/acme" survey_id: "s1" request_id: "fx-23"
          survey { channel: SURVEY_CHANNEL_CALL_BACK staff_id: "agent-li"
                   complaint: "customers/acme/complaints/c1" })",
       true},
      {m(kSurveys, "SendSurvey"),
       R"(parent: "customers/bolt" survey_id: "s2" request_id: "fx-24"
          survey { channel: SURVEY_CHANNEL_EMAIL staff_id: "am-sun"
                   interaction: "customers/bolt/interactions/mail-1"
                   answer_due_time { seconds: 1700500000 } })",
       true},
      {m(kSurveys, "RecordSurveyAnswer"),
       R"(name: "customers/bolt/surveys/s2" csat: 4 nps: 9 comment: "good" request_id: "fx-25")",
       true},

      // ---- commands ----
      {m(kSurveys, "SendSurvey"),
       R"(parent: "customers/acme" request_id: "seed-s1"
          survey { channel: SURVEY_CHANNEL_QUESTIONNAIRE staff_id: "agent-li"
                   answer_due_time { seconds: 1700000100 } })"},
      {m(kSurveys, "RecordSurveyAnswer"),
       R"(name: "customers/acme/surveys/s1" csat: 0 nps: 11 etag: "v1")"},
      {m(kSurveys, "RecordSurveyAnswer"),
       R"(name: "customers/acme/surveys/s1" nps: 0 comment: "never again" request_id: "seed-s2")"},
      {m(kCustomers, "RegisterCustomer"),
       R"(customer_id: "new-co" request_id: "seed-1"
          customer { display_name: "New Co" kind: COMPANY emails: "hi@new.example.com" })"},
      {m(kCustomers, "UpdateCustomer"),
       R"(customer { name: "customers/acme" display_name: "ACME Group" region: "north"
                     attributes { key: "size" value: "large" } }
          update_mask { paths: "display_name" paths: "region" paths: "attributes" }
          request_id: "seed-2" etag: "v6")"},
      {m(kCustomers, "ChangeLifecycleStage"),
       R"(name: "customers/acme" lifecycle_stage: NEED_CONFIRMED request_id: "seed-3")"},
      {m(kCustomers, "AssignOwner"),
       R"(name: "customers/bolt" owner: "am-sun" team: "" department: "departments/sales")"},
      {m(kCustomers, "UnassignOwner"),
       R"(name: "customers/acme" reason: "left the team" etag: "v4" request_id: "seed-u1")"},
      {m(kCustomers, "RefundPurchase"),
       R"(name: "customers/bolt" purchase_id: "p-9" amount { currency_code: "EUR" amount_minor: 200 }
          reason: "damaged" request_id: "seed-rf1")"},
      {m(kCustomers, "ArchiveCustomer"),
       R"(name: "customers/acme" reason: "no longer a client" request_id: "seed-ar1")"},
      {m(kCustomers, "UnarchiveCustomer"), R"(name: "customers/acme" etag: "v7")"},
      {m(kCustomers, "TagCustomer"), R"(name: "customers/bolt" tag: "new" request_id: "seed-4")"},
      // A client stream: the fuzzer sends one message (the wire form of a one-message stream).
      {m(kCustomers, "ImportCustomers"),
       R"(request_id: "seed-imp1"
          rows { customer { display_name: "Acme Imported" kind: COMPANY external_id: "ERP-1"
                            emails: "Buyer@Acme.example" tags: "vip" lifecycle_stage: FIRST_CONTACT } }
          rows { row_number: 7 customer { display_name: "" kind: PERSON emails: "bad" } }
          rows { customer { display_name: "Bolt" kind: PERSON emails: "buyer@acme.example"
                            value_tier: HIGH_VALUE owner: "am-sun" } })"},
      {m(kCustomers, "UntagCustomer"), R"(name: "customers/acme" tag: "vip" etag: "v6")"},
      {m(kCustomers, "RecordPurchase"),
       R"(name: "customers/bolt"
          purchase { purchase_id: "p-9" amount { currency_code: "EUR" amount_minor: 4200 }
                     product: "Gadget" purchased_at { seconds: 1699950000 } })"},
      {m(kCustomers, "MergeCustomers"),
       R"(survivor: "customers/acme" merged: "customers/bolt" validate_only: true)"},
      {m(kCustomers, "MergeCustomers"),
       R"(survivor: "customers/bolt" merged: "customers/acme" request_id: "seed-m1"
          survivor_etag: "v3" merged_etag: "v6")"},
      {m(kOrg, "CreateDepartment"),
       R"(department_id: "marketing" department { display_name: "Marketing" function: MARKETING
                                                   head: "mgr-wang" })"},
      {m(kOrg, "UpdateDepartment"),
       R"(department { name: "departments/cs" display_name: "Care" head: "mgr-wang" }
          update_mask { paths: "display_name" paths: "head" } etag: "v1")"},
      {m(kOrg, "CreateTeam"),
       R"(team_id: "cs-west" team { display_name: "West" department: "departments/cs"
                                     lead: "agent-li" })"},
      {m(kOrg, "UpdateTeam"),
       R"(team { name: "teams/cs-east" lead: "agent-li" } update_mask { paths: "lead" })"},
      {m(kOrg, "AddStaff"),
       R"(staff_id: "agent-zhou" staff { display_name: "Zhou" role: CUSTOMER_REPRESENTATIVE
                                         level: MIDDLE department: "departments/cs"
                                         team: "teams/cs-east" manager: "agent-li" })"},
      {m(kOrg, "UpdateStaff"),
       R"(staff { name: "staff/agent-li" email: "li.2@corp.example.com" level: MIDDLE }
          update_mask { paths: "email" paths: "level" } request_id: "seed-5")"},
      {m(kOrg, "DeactivateStaff"), R"(name: "staff/am-sun" reason: "left" etag: "v1")"},
      {m(kOrg, "ReactivateStaff"),
       R"(name: "staff/am-sun" reason: "back" department: "departments/cs" team: "teams/cs-east"
          request_id: "seed-r1")"},
      {m(kOrg, "RemoveTeam"), R"(name: "teams/cs-east" reason: "merged" etag: "v1")"},
      {m(kOrg, "RemoveDepartment"),
       R"(name: "departments/cs" reason: "closed" request_id: "seed-r2")"},
      {m(kOrg, "RaiseImprovementAction"),
       R"(improvement_action_id: "courier" request_id: "seed-i1"
          improvement_action { title: "Second courier" root_cause: DELIVERY_DELAY owner: "sup-zhao"
          complaints: "customers/acme/complaints/c1" due_time { seconds: 1800000000 } })"},
      {m(kOrg, "LinkImprovementComplaints"),
       R"(name: "improvementActions/courier" complaints: "customers/acme/complaints/c2")"},
      {m(kOrg, "CompleteImprovementAction"),
       R"(name: "improvementActions/courier" outcome: "done" etag: "v2")"},
      {m(kOrg, "CancelImprovementAction"), R"(name: "improvementActions/courier" reason: "x")"},
      {m(kInteractions, "LogInteraction"),
       R"(parent: "customers/acme" request_id: "seed-6"
          interaction { channel: VISIT direction: OUTBOUND staff_id: "am-sun"
                        occurred_at { seconds: 1699995000 } summary: "Site visit"
                        complaint: "customers/acme/complaints/c2" })"},
      {m(kInteractions, "CompleteFollowUp"),
       R"(name: "customers/acme/interactions/call-1" note: "Renewed" staff_id: "agent-li"
          etag: "v1")"},
      {m(kComplaints, "FileComplaint"),
       R"(parent: "customers/bolt" request_id: "seed-7"
          complaint { channel: SOCIAL_MEDIA category: SERVICE_ATTITUDE severity: GENERAL
                      description: "Rude agent" })"},
      {m(kComplaints, "AcknowledgeComplaint"), R"(name: "customers/acme/complaints/c2")"},
      {m(kComplaints, "AssignComplaint"),
       R"(name: "customers/bolt/complaints/c3" assignee: "agent-li" etag: "v1")"},
      {m(kComplaints, "StartInvestigation"), R"(name: "customers/acme/complaints/c2")"},
      {m(kComplaints, "ResolveComplaint"),
       R"(name: "customers/acme/complaints/c2" resolution: "Replaced" root_cause: PRODUCT_DEFECT)"},
      {m(kComplaints, "RecordFollowUpVisit"),
       R"(name: "customers/acme/complaints/c1" visit { satisfied: false csat: 2 })"},
      {m(kComplaints, "CloseComplaint"), R"(name: "customers/acme/complaints/c1" etag: "v6")"},
      {m(kComplaints, "ReopenComplaint"),
       R"(name: "customers/acme/complaints/c1" reason: "It broke again" request_id: "seed-8")"},
      {m(kComplaints, "EscalateComplaint"),
       R"(name: "customers/acme/complaints/c2" reason: "No answer" request_id: "seed-9")"},
      {"crm.internal.v1.EmailReservationService/ClaimEmail",
       R"(email: "new@acme.example.com" customer_id: "acme" customer_version: 7)"},
      {"crm.internal.v1.EmailReservationService/ReleaseEmail",
       R"(email: "sales@acme.example.com" customer_id: "acme" customer_version: 7)"},
      {"crm.internal.v1.CustomerMergeService/SealMergedCustomer",
       R"(merge { survivor: "customers/acme" merged: "customers/globex" request_id: "seed-m1" })"},

      // ---- queries ----
      {"crm.v1.CustomerQueryService/GetCustomer", R"(name: "customers/acme")"},
      {"crm.v1.CustomerQueryService/ListCustomers",
       R"(page_size: 1 lifecycle_stage: FIRST_CONTACT owner: "am-sun" tag: "vip")"},
      {"crm.v1.CustomerQueryService/ListCustomers", R"(page_size: 1 value_tier: ORDINARY)"},
      {"crm.v1.CustomerQueryService/SearchCustomers",
       R"(query: "华为" region: "East China" industry: "Telecom" kind: COMPANY page_size: 2)"},
      {"crm.v1.CustomerQueryService/SearchCustomers",
       R"(query: "ＡＣＭＥ" lifecycle_stage: LOYAL value_tier: HIGH_VALUE owner: "am-sun" tag: "vip")"},
      {"crm.v1.CustomerQueryService/FindCustomers",
       R"(email: "sales@acme.example.com" phone: "+86 138 0013 8000")"},
      {"crm.v1.CustomerQueryService/GetCustomerHistory", R"(name: "customers/acme" page_size: 2)"},
      {"crm.v1.OrgQueryService/GetDepartment", R"(name: "departments/cs")"},
      {"crm.v1.OrgQueryService/GetTeam", R"(name: "teams/cs-east")"},
      {"crm.v1.OrgQueryService/GetStaff", R"(name: "staff/agent-li")"},
      {"crm.v1.OrgQueryService/ListDepartments", R"(page_size: 1 function: CUSTOMER_SERVICE)"},
      {"crm.v1.OrgQueryService/ListTeams", R"(page_size: 1 department: "departments/cs")"},
      {"crm.v1.OrgQueryService/ListStaff",
       R"(page_size: 1 department: "departments/cs" team: "teams/cs-east" role: SERVICE_AGENT
          active: true manager: "mgr-wang")"},
      {"crm.v1.OrgQueryService/GetOrgChart",
       R"(department: "departments/cs" format: ORG_CHART_DOT)"},
      {"crm.v1.OrgQueryService/GetOrgChart", R"(include_inactive: true format: ORG_CHART_MERMAID)"},
      {"crm.v1.OrgQueryService/ListWorkItems", R"(parent: "staff/agent-li" page_size: 2)"},
      {"crm.v1.OrgQueryService/ListWorkItems", R"(parent: "teams/cs-east")"},
      {"crm.v1.OrgQueryService/ListWorkItems", R"(parent: "departments/cs" page_size: 1)"},
      {"crm.v1.OrgQueryService/GetImprovementAction", R"(name: "improvementActions/courier")"},
      {"crm.v1.OrgQueryService/GetImprovementEffect",
       R"(name: "improvementActions/courier" period { seconds: 604800 })"},
      {"crm.v1.OrgQueryService/ListImprovementActions",
       R"(page_size: 1 state: IMPROVEMENT_OPEN root_cause: DELIVERY_DELAY owner: "sup-zhao")"},
      {"crm.v1.InteractionQueryService/GetInteraction",
       R"(name: "customers/acme/interactions/call-1")"},
      {"crm.v1.InteractionQueryService/ListInteractions",
       R"(parent: "customers/acme" page_size: 1 channel: PHONE)"},
      {"crm.v1.InteractionQueryService/GetCustomerTimeline",
       R"(parent: "customers/acme" page_size: 2 kinds: TIMELINE_INTERACTION
          kinds: TIMELINE_COMPLAINT kinds: TIMELINE_PURCHASE)"},
      {"crm.v1.InteractionQueryService/ListFollowUps",
       R"(staff_id: "agent-li" due_before { seconds: 1700100000 } page_size: 5)"},
      {"crm.v1.ComplaintQueryService/GetComplaint", R"(name: "customers/acme/complaints/c1")"},
      {"crm.v1.ComplaintQueryService/GetComplaintHistory",
       R"(name: "customers/acme/complaints/c1" page_size: 3)"},
      {"crm.v1.ComplaintQueryService/ListComplaints",
       R"(parent: "customers/acme" page_size: 1 status: FILED assignee: "agent-li"
          category: PRODUCT_QUALITY severity: SEVERE overdue_only: true)"},
      {"crm.v1.AnalyticsService/GetComplaintStats",
       R"(start_time { seconds: 1699000000 } end_time { seconds: 1701000000 })"},
      {"crm.v1.AnalyticsService/GetSlaCompliance", ""},
      {"crm.v1.AnalyticsService/GetResponseTimes", R"(severity: GENERAL)"},
      {"crm.v1.AnalyticsService/GetSatisfaction", R"(scope { staff_id: "agent-li" })"},
      {"crm.v1.AnalyticsService/GetInteractionStats", ""},
      {"crm.v1.AnalyticsService/GetRootCauses", ""},
      {"crm.v1.AnalyticsService/GetSurveyStats", ""},
      {"crm.v1.SurveyQueryService/GetSurvey", R"(name: "customers/bolt/surveys/s2")"},
      {"crm.v1.SurveyQueryService/ListSurveys",
       R"(parent: "customers/acme" page_size: 1 state: SURVEY_AWAITING_ANSWER)"},
      {"crm.v1.AnalyticsService/GetStaffKpis", R"(scope { team: "teams/cs-east" })"},
      {"crm.v1.AnalyticsService/GetStaffKpis", R"(scope { department: "departments/cs" })"},
      {"crm.v1.AnalyticsService/GetComplaintStats",
       R"(interval { start_time { seconds: 1698777000 } end_time { seconds: 1701369000 } }
          time_zone: "Asia/Kolkata")"},
      {"crm.v1.AnalyticsService/GetStaffKpis",
       R"(scope { staff_id: "agent-li" } interval { start_time { seconds: 1698796800 } }
          time_zone: "Asia/Shanghai")"},
      {"crm.v1.AnalyticsService/GetSlaCompliance",
       R"(interval { end_time { seconds: 1701388800 } } time_zone: "Not/AZone")"},
      {"crm.v1.AnalyticsService/GetSalesStats",
       R"(scope { team: "teams/sales-east" } product: "widget"
          interval { start_time { seconds: 1698796800 } end_time { seconds: 1701388800 } }
          time_zone: "Asia/Kathmandu" with_buckets: true)"},
      {"crm.v1.AnalyticsService/GetRetention",
       R"(interval { start_time { seconds: 1698796800 } end_time { seconds: 1701388801 } })"},
      {"crm.v1.AnalyticsService/GetConversionTime",
       R"(from_stage: POTENTIAL to_stage: PURCHASE_DECISION)"},
      {"crm.v1.SegmentService/GetCustomerValue",
       R"(name: "customers/acme" as_of { seconds: 1699999999 })"},
      {"crm.v1.SegmentService/GetSegmentSizes", ""},
      {"crm.v1.SegmentService/GetLifecycleFunnel",
       R"(start_time { seconds: 1699000000 } end_time { seconds: 1701000000 })"},
      // ---- crm.admin.v1.AdminService ----
      {"crm.admin.v1.AdminService/GetStatus", ""},
      {"crm.admin.v1.AdminService/RebuildFolds", R"(fold: "customer-views")"},
      {"crm.admin.v1.AdminService/RebuildFolds", R"(store: "views")"},
      {"crm.admin.v1.AdminService/RebuildFolds", R"(fold: "command-state")"},
      {"crm.admin.v1.AdminService/ListDeadLetters", R"(parent: "folds/-" page_size: 2)"},
      {"crm.admin.v1.AdminService/ListDeadLetters", R"(parent: "folds/customer-views")"},
      {"crm.admin.v1.AdminService/GetDeadLetter",
       R"(name: "folds/customer-views/deadLetters/0-1")"},
      {"crm.admin.v1.AdminService/RetryDeadLetter", R"(name: "folds/analytics/deadLetters/0-12")"},
      {"crm.admin.v1.AdminService/ListEvents", R"(page_size: 4)"},
      {"crm.admin.v1.AdminService/ListEvents",
       R"(customer_id: "acme" event_types: "crm.events.v1.ComplaintFiled"
          start_time { seconds: 1600000000 } end_time { seconds: 1800000000 } page_size: 2)"},
      {"crm.admin.v1.AdminService/ListEvents", R"(start_at_end: true)"},
      {"crm.v1.NotificationService/ListNotifications", R"(parent: "staff/agent-li" page_size: 1)"},
      {"crm.v1.NotificationService/ListNotifications",
       R"(parent: "staff/am-sun" page_token: "x" consistency_token: "MDo1")"},
      {"crm.v1.NotificationService/WatchNotifications", R"(parent: "staff/agent-li")"},
      {"crm.v1.NotificationService/WatchNotifications",
       R"(parent: "staff/agent-li" after: "MDowOjA")"},
      {"crm.v1.NotificationService/WatchNotifications", R"(parent: "staff/" after: "%%")"},
      {"crm.admin.v1.AdminService/ListAuditRecords", R"(page_size: 3)"},
      {"crm.admin.v1.AdminService/ListAuditRecords",
       R"(customer: "customers/acme" subject: "alice" method: "GetCustomer"
          start_time { seconds: 1600000000 } end_time { seconds: 1800000000 } page_size: 2)"},
      {"crm.admin.v1.AdminService/ListAuditRecords", R"(customer: "*" page_token: "x")"},
  };
}

}  // namespace

const std::vector<Seed>& Seeds() {
  static const std::vector<Seed>* seeds = new std::vector<Seed>(Build());
  return *seeds;
}

}  // namespace crm::fuzz
