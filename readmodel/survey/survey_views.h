// The survey views: key layout and reader. projections/survey writes them (all keys under "sv/",
// which nothing else writes); services/survey reads them.
//
//   sv/s/<survey name>              -> crm.v1.Survey (as of its last event). Survey names are
//                                      "customers/{cid}/surveys/{id}", so one customer's surveys
//                                      are adjacent, in survey id order.
//   sv/f/<group>\0<counter>          -> a windowed counter (readmodel/analytics/figures.h:
//                                      decimal text, absent when zero, also kept per quarter
//                                      hour under sv/w/f/<bucket>/<group>\0<counter>). Counters:
//                                      sent, answered, expired, csat/<1..5>, promoters, passives,
//                                      detractors; csat_answers, nps_answers, the rates, mean and
//                                      NPS are derived when read (Derive).
// Groups: "all"; "staff/<staff id>"; "team/<team name>"; "department/<department name>";
// "channel/<SurveyChannel number>"; "tier/<ValueTier number, unspecified read as ORDINARY>";
// "driver/<0|1: the survey followed a complaint>". Each count is in the bucket of its own time:
// sent at SurveySent's occurred_at, answered and the scores at SurveyAnswered's, expired at
// SurveyExpired's (the answer deadline). Definitions: docs/analytics.md, "Surveys".
//
// Thread-safe: const methods over a thread-safe KvStore; the key functions are pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/kv/kv_store.h"
#include "crm/v1/analytics_service.pb.h"
#include "crm/v1/survey.pb.h"
#include "readmodel/analytics/figures.h"

namespace crm::readmodel::survey {

inline constexpr absl::string_view kViewsPrefix = "sv/";
// The fold that writes these views (projections/survey), for fold::FoldRunner::Serving.
inline constexpr absl::string_view kFoldName = "survey-views";

std::string SurveyKey(absl::string_view survey_name);
// The windowed figure of every group (readmodel/analytics/figures.h, CountAt / ReadFigure).
inline constexpr absl::string_view kFiguresPrefix = "sv/f/";
// Its dims: "<group>\0<counter>".
std::string FiguresDims(absl::string_view group, absl::string_view counter);
inline constexpr absl::string_view kSent = "sent";
inline constexpr absl::string_view kAnswered = "answered";
inline constexpr absl::string_view kExpired = "expired";
inline constexpr absl::string_view kPromoters = "promoters";
inline constexpr absl::string_view kPassives = "passives";
inline constexpr absl::string_view kDetractors = "detractors";
// "csat/<score>", score 1 to 5.
std::string CsatCounter(int score);

// The groups a survey counts in (always "all" first).
std::vector<std::string> GroupsOf(const crm::v1::Survey& survey);

// Fills the derived fields of counts (csat_answers, nps_answers, response_rate, csat_mean, nps)
// and pads csat_counts to five entries.
crm::v1::SurveyFigures Derive(crm::v1::SurveyFigures counts);

class SurveyViews {
 public:
  // Does not take ownership.
  explicit SurveyViews(const kv::KvStore* store) : store_(store) {}

  // nullopt if the survey is not in the views; DATA_LOSS if its entry cannot be decoded.
  absl::StatusOr<std::optional<crm::v1::Survey>> Get(absl::string_view name) const;

  struct Page {
    std::vector<crm::v1::Survey> surveys;
    // The survey id to continue after; empty if nothing follows.
    std::string next_cursor;
  };
  // The customer's surveys in survey id order, after survey id `cursor` (empty: from the start),
  // only those in `state` unless it is SURVEY_STATE_UNSPECIFIED. At most `page_size`.
  absl::StatusOr<Page> ListForCustomer(absl::string_view customer_id, crm::v1::SurveyState state,
                                       absl::string_view cursor, size_t page_size) const;

  // Every figure of the counts in `window` (GetSurveyStats). REQUIRES: each set end of the
  // window is on a time bucket edge.
  absl::StatusOr<crm::v1::SurveyStats> Stats(const analytics::Window& window = {}) const;

 private:
  const kv::KvStore* const store_;
};

}  // namespace crm::readmodel::survey
