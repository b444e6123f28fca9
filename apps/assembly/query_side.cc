#include "apps/assembly/query_side.h"

#include <utility>

#include "absl/strings/strip.h"
#include "common/fold/fold_runner.h"
#include "projections/analytics/analytics_fold.h"
#include "projections/complaint/complaint_view_fold.h"
#include "projections/customer/customer_view_fold.h"
#include "projections/interaction/interaction_view_fold.h"
#include "projections/notification/notification_fold.h"
#include "projections/org/org_view_fold.h"
#include "projections/segment/segment_fold.h"
#include "projections/survey/survey_fold.h"
#include "readmodel/analytics/analytics_views.h"
#include "readmodel/complaint/complaint_views.h"
#include "readmodel/customer/customer_views.h"
#include "readmodel/org/org_views.h"
#include "readmodel/segment/segment_views.h"
#include "services/access/holders.h"
#include "services/analytics/analytics_query_service.h"
#include "services/complaint/complaint_query_service.h"
#include "services/customer/customer_query_service.h"
#include "services/interaction/interaction_query_service.h"
#include "services/notification/notification_relay.h"
#include "services/notification/notification_service.h"
#include "services/org/org_query_service.h"
#include "services/segment/segment_query_service.h"
#include "services/survey/survey_query_service.h"

namespace crm::assembly {
namespace {

// The org chart as the views have it now: what authorization reads, and where a customer's team
// and department come from (services/access/owner_place.h).
services::access::OrgDirectory OrgOf(const readmodel::org::OrgViews* views) {
  services::access::OrgDirectory org;
  org.staff = [views](absl::string_view staff_id) { return views->GetStaff(staff_id); };
  org.team = [views](absl::string_view team) -> absl::StatusOr<std::optional<crm::v1::Team>> {
    if (!absl::ConsumePrefix(&team, "teams/")) return std::nullopt;
    return views->GetTeam(team);
  };
  return org;
}

}  // namespace

struct QuerySide::Parts {
  Parts(eventlog::EventLog* log, kv::KvStore* store, rpc::Executor* executor, Options options)
      : store(store),
        notification_fold(options.notifications),
        runner(log, store,
               {&customer_fold, &complaint_fold, &interaction_fold, &org_fold, &analytics_fold,
                &segment_fold, &survey_fold, &notification_fold},
               // Every query checks Serving() for the folds it reads (VIEW_REBUILDING), so a
               // view can be rebuilt while the others serve (crm.admin.v1.AdminService).
               {.name = "views", .online_rebuild = true}),
        org_views(store),
        customer_views(store),
        customer_queries(&customer_views, &runner, {.org = OrgOf(&org_views)}),
        customer_service(&customer_queries, executor),
        complaint_views(store, options.clock),
        complaint_queries(&complaint_views, &runner, {.customer_holders = CustomerHolders()}),
        complaint_service(&complaint_queries, executor),
        survey_queries(store, &runner, {}),
        survey_service(&survey_queries, executor),
        analytics_views(store),
        analytics_queries(&analytics_views, &runner, {}),
        analytics_service(&analytics_queries, executor, &survey_queries),
        segment_views(store),
        segment_queries(&segment_views, &runner, options.clock,
                        {.customer_holders = CustomerHolders()}),
        segment_service(&segment_queries, executor),
        interaction_queries(store, &runner, options.clock, {}),
        interaction_service(&interaction_queries, executor),
        org_queries(store, &runner, options.clock, {}),
        org_service(&org_queries, executor),
        notification_queries(store, &runner, {}),
        notification_service(&notification_queries, executor) {}

  // Who holds a customer, as the views have it (services/access/holders.h).
  services::access::CustomerHolders CustomerHolders() const {
    return [views = &customer_views](absl::string_view id) -> std::vector<std::string> {
      auto customer = views->Get(id);
      if (!customer.ok() || !customer->has_value()) return {};
      return services::access::HoldersOf(**customer);
    };
  }

  kv::KvStore* const store;
  // Folds, in the order they see each record.
  projections::customer::CustomerViewFold customer_fold;
  projections::complaint::ComplaintViewFold complaint_fold;
  projections::interaction::InteractionViewFold interaction_fold;
  projections::org::OrgViewFold org_fold;
  projections::analytics::AnalyticsFold analytics_fold;
  projections::segment::SegmentFold segment_fold;
  projections::survey::SurveyFold survey_fold;
  projections::notification::NotificationFold notification_fold;
  fold::FoldRunner runner;

  readmodel::org::OrgViews org_views;
  readmodel::customer::CustomerViews customer_views;
  services::customer::CustomerQueries customer_queries;
  services::customer::CustomerQueryService customer_service;

  readmodel::complaint::ComplaintViews complaint_views;
  services::complaint::ComplaintQueries complaint_queries;
  services::complaint::ComplaintQueryService complaint_service;

  services::survey::SurveyQueries survey_queries;
  services::survey::SurveyQueryService survey_service;

  readmodel::analytics::AnalyticsViews analytics_views;
  services::analytics::AnalyticsQueries analytics_queries;
  services::analytics::AnalyticsQueryService analytics_service;

  readmodel::segment::SegmentViews segment_views;
  services::segment::SegmentQueries segment_queries;
  services::segment::SegmentQueryService segment_service;

  services::interaction::InteractionQueries interaction_queries;
  services::interaction::InteractionQueryService interaction_service;

  services::org::OrgQueries org_queries;
  services::org::OrgQueryService org_service;

  services::notification::NotificationQueries notification_queries;
  services::notification::NotificationService notification_service;
  std::unique_ptr<services::notification::NotificationRelay> notification_relay;
};

absl::StatusOr<std::unique_ptr<QuerySide>> QuerySide::Create(eventlog::EventLog* log,
                                                             kv::KvStore* store,
                                                             rpc::Executor* executor,
                                                             Options options) {
  return std::unique_ptr<QuerySide>(
      new QuerySide(std::make_unique<Parts>(log, store, executor, options)));
}

QuerySide::QuerySide(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
QuerySide::~QuerySide() { Stop(); }

fold::FoldRunner* QuerySide::runner() const { return &parts_->runner; }

services::access::OrgDirectory QuerySide::org() const { return OrgOf(&parts_->org_views); }

absl::Status QuerySide::CatchUp() { return parts_->runner.CatchUp(); }
absl::Status QuerySide::Start() { return parts_->runner.Start(); }
void QuerySide::StartNotificationRelay(eventlog::EventLog* out) {
  parts_->notification_relay = std::make_unique<services::notification::NotificationRelay>(
      parts_->store, &parts_->runner, out, services::notification::NotificationRelay::Options{});
  parts_->notification_relay->Start();
}

void QuerySide::Stop() {
  if (parts_->notification_relay != nullptr) parts_->notification_relay->Stop();
  parts_->runner.Stop();
}

std::vector<rpc::ServiceTable*> QuerySide::services() const {
  return {&parts_->customer_service, &parts_->complaint_service,   &parts_->analytics_service,
          &parts_->segment_service,  &parts_->interaction_service, &parts_->org_service,
          &parts_->survey_service,   &parts_->notification_service};
}

}  // namespace crm::assembly
