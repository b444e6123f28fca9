#include "readmodel/survey/survey_views.h"

#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/base/status_macros.h"

namespace crm::readmodel::survey {
namespace {

using crm::v1::Survey;
using crm::v1::SurveyFigures;
using crm::v1::SurveyGroup;

constexpr absl::string_view kSurveys = "sv/s/";

absl::Status Corrupt(absl::string_view key) {
  return absl::DataLossError(absl::StrCat("view entry cannot be decoded: ", key));
}

}  // namespace

std::string SurveyKey(absl::string_view survey_name) { return absl::StrCat(kSurveys, survey_name); }
std::string FiguresDims(absl::string_view group, absl::string_view counter) {
  return absl::StrCat(group, absl::string_view("\0", 1), counter);
}
std::string CsatCounter(int score) { return absl::StrCat("csat/", score); }

std::vector<std::string> GroupsOf(const Survey& survey) {
  std::vector<std::string> groups = {"all", absl::StrCat("staff/", survey.staff_id())};
  if (!survey.staff().team().empty())
    groups.push_back(absl::StrCat("team/", survey.staff().team()));
  if (!survey.staff().department().empty()) {
    groups.push_back(absl::StrCat("department/", survey.staff().department()));
  }
  groups.push_back(absl::StrCat("channel/", static_cast<int>(survey.channel())));
  const crm::v1::ValueTier tier = survey.customer_tier() == crm::v1::VALUE_TIER_UNSPECIFIED
                                      ? crm::v1::ORDINARY
                                      : survey.customer_tier();
  groups.push_back(absl::StrCat("tier/", static_cast<int>(tier)));
  groups.push_back(absl::StrCat("driver/", survey.complaint().empty() ? 0 : 1));
  return groups;
}

SurveyFigures Derive(SurveyFigures f) {
  while (f.csat_counts_size() < 5) f.add_csat_counts(0);
  int64_t csat_answers = 0;
  for (int64_t n : f.csat_counts()) csat_answers += n;
  f.set_csat_answers(csat_answers);
  f.set_nps_answers(f.promoters() + f.passives() + f.detractors());
  const int64_t decided = f.answered() + f.expired();
  f.set_response_rate(decided == 0 ? 0.0 : static_cast<double>(f.answered()) / decided);
  int64_t sum = 0;
  for (int i = 0; i < 5; ++i) sum += (i + 1) * f.csat_counts(i);
  f.set_csat_mean(f.csat_answers() == 0 ? 0.0 : static_cast<double>(sum) / f.csat_answers());
  f.set_nps(f.nps_answers() == 0
                ? 0.0
                : 100.0 * static_cast<double>(f.promoters() - f.detractors()) / f.nps_answers());
  return f;
}

absl::StatusOr<std::optional<Survey>> SurveyViews::Get(absl::string_view name) const {
  const std::string key = SurveyKey(name);
  CRM_ASSIGN_OR_RETURN(auto value, store_->Get(key));
  if (!value.has_value()) return std::nullopt;
  Survey survey;
  if (!survey.ParseFromString(*value)) return Corrupt(key);
  return survey;
}

absl::StatusOr<SurveyViews::Page> SurveyViews::ListForCustomer(absl::string_view customer_id,
                                                               crm::v1::SurveyState state,
                                                               absl::string_view cursor,
                                                               size_t page_size) const {
  const std::string prefix = SurveyKey(absl::StrCat("customers/", customer_id, "/surveys/"));
  Page page;
  absl::Status inner;
  std::string last_id;
  CRM_RETURN_IF_ERROR(store_->ScanPrefix(prefix, cursor.empty() ? "" : absl::StrCat(prefix, cursor),
                                         0, [&](absl::string_view key, absl::string_view value) {
                                           Survey survey;
                                           if (!survey.ParseFromString(std::string(value))) {
                                             inner = Corrupt(key);
                                             return false;
                                           }
                                           if (state != crm::v1::SURVEY_STATE_UNSPECIFIED &&
                                               survey.state() != state)
                                             return true;
                                           if (page.surveys.size() == page_size) {
                                             page.next_cursor = last_id;
                                             return false;
                                           }
                                           last_id = std::string(key.substr(prefix.size()));
                                           page.surveys.push_back(std::move(survey));
                                           return true;
                                         }));
  CRM_RETURN_IF_ERROR(inner);
  return page;
}

absl::StatusOr<crm::v1::SurveyStats> SurveyViews::Stats(const analytics::Window& window) const {
  CRM_ASSIGN_OR_RETURN(auto counters, analytics::ReadFigure(*store_, kFiguresPrefix, window));
  // The counts per group, in group order ("<group>\0<counter>" sorts by group first).
  std::map<std::string, SurveyFigures> groups;
  for (const auto& [dims, n] : counters) {
    const size_t end = dims.find('\0');
    if (end == std::string::npos) return Corrupt(absl::StrCat(kFiguresPrefix, dims));
    const std::string group = dims.substr(0, end);
    absl::string_view counter = absl::string_view(dims).substr(end + 1);
    SurveyFigures& f = groups[group];
    while (f.csat_counts_size() < 5) f.add_csat_counts(0);
    int score = 0;
    if (counter == kSent) {
      f.set_sent(f.sent() + n);
    } else if (counter == kAnswered) {
      f.set_answered(f.answered() + n);
    } else if (counter == kExpired) {
      f.set_expired(f.expired() + n);
    } else if (counter == kPromoters) {
      f.set_promoters(f.promoters() + n);
    } else if (counter == kPassives) {
      f.set_passives(f.passives() + n);
    } else if (counter == kDetractors) {
      f.set_detractors(f.detractors() + n);
    } else if (absl::ConsumePrefix(&counter, "csat/") && absl::SimpleAtoi(counter, &score) &&
               score >= 1 && score <= 5) {
      f.set_csat_counts(score - 1, f.csat_counts(score - 1) + n);
    } else {
      return Corrupt(absl::StrCat(kFiguresPrefix, dims));
    }
  }
  crm::v1::SurveyStats stats;
  *stats.mutable_total() = Derive(SurveyFigures());
  for (auto& [key, counts] : groups) {
    absl::string_view group = key;
    if (group == "all") {
      *stats.mutable_total() = Derive(std::move(counts));
      continue;
    }
    SurveyGroup out;
    *out.mutable_figures() = Derive(std::move(counts));
    int number = 0;
    if (absl::ConsumePrefix(&group, "staff/")) {
      out.set_staff_id(std::string(group));
      *stats.add_by_staff() = std::move(out);
    } else if (absl::ConsumePrefix(&group, "team/")) {
      out.set_team(std::string(group));
      *stats.add_by_team() = std::move(out);
    } else if (absl::ConsumePrefix(&group, "department/")) {
      out.set_department(std::string(group));
      *stats.add_by_department() = std::move(out);
    } else if (absl::ConsumePrefix(&group, "channel/") && absl::SimpleAtoi(group, &number)) {
      out.set_channel(static_cast<crm::v1::SurveyChannel>(number));
      *stats.add_by_channel() = std::move(out);
    } else if (absl::ConsumePrefix(&group, "tier/") && absl::SimpleAtoi(group, &number)) {
      out.set_customer_tier(static_cast<crm::v1::ValueTier>(number));
      *stats.add_by_customer_tier() = std::move(out);
    } else if (absl::ConsumePrefix(&group, "driver/") && absl::SimpleAtoi(group, &number)) {
      out.set_followed_complaint(number != 0);
      *stats.add_by_driver() = std::move(out);
    } else {
      return Corrupt(absl::StrCat(kFiguresPrefix, key));
    }
  }
  return stats;
}

}  // namespace crm::readmodel::survey
