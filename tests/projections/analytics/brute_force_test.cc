// The analytics and segment figures checked against a brute-force recomputation from the event
// history.
//
// A seeded generator writes more than 10,000 valid, stamped events (customers registered and moved
// along the lifecycle table, purchases and their partial and whole refunds, interactions,
// complaints walking the whole flow with reassignments, escalations, SLA breaches, follow-up
// visits, reopens; staff changing teams over time; organisation and other events the folds must
// ignore; redelivered duplicates) into a partitioned in-memory log. A real FoldRunner folds them
// through AnalyticsFold and SegmentFold into a real KvStore. The test then recomputes every figure
// naively from the event list and compares the answers of the read models exactly, for all time and
// for time windows (in UTC, America/New_York, Asia/Kolkata and Asia/Kathmandu, on and off the
// zone's day edges): complaint counts with day, week and month buckets in the zone, SLA outcomes
// (complaints of customers of every value tier, VIP deadlines tighter as recorded), response times,
// CSAT, KPIs, interactions, root causes, sales per owner, team, department and product net of
// refunds, repeat purchases (wholly refunded ones left out), customer value and RFM net of refunds,
// churn and conversion times between every pair of stages; rebuilds into a fresh store with other
// batch sizes and compares every key under "an/" and "sg/" byte for byte; and re-applies every
// record to check that nothing is written twice.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/base/uuid.h"
#include "common/eventlog/in_memory_event_log.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/complaint/event_codec.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/event_codec.h"
#include "domain/interaction/event_codec.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "projections/analytics/analytics_fold.h"
#include "projections/segment/segment_fold.h"
#include "readmodel/analytics/analytics_views.h"
#include "readmodel/segment/segment_views.h"
#include "tests/projections/fold_harness.h"

namespace crm::projections::analytics {
namespace {

using crm::events::v1::EventEnvelope;
using domain::complaint::ToEvent;
using domain::customer::ToApi;
using domain::customer::ToEvent;
using domain::interaction::ToEvent;
using google::protobuf::Timestamp;

// ---------------------------------------------------------------------------------------------
// Generation.

constexpr int kCustomers = 420;
const absl::Time kStart = absl::FromUnixSeconds(1'704'067'200);  // 2024-01-01T00:00:00Z
const absl::Time kTeamShuffle = kStart + absl::Hours(24 * 120);  // Staff change teams here.

Timestamp Ts(absl::Time t) {
  Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  ts.set_nanos(0);
  return ts;
}

absl::Time T(const Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// The organisation: staff s0..s13 in teams t0..t3 (departments d0, d1), moving to the next team
// at kTeamShuffle; s12 and s13 have no team, s13 no department either.
crm::v1::StaffRef RefAt(int staff, absl::Time at) {
  crm::v1::StaffRef ref;
  ref.set_staff_id(absl::StrCat("s", staff));
  if (staff >= 12) {
    if (staff == 12) ref.set_department("departments/d1");
    return ref;
  }
  const int team = (staff + (at >= kTeamShuffle ? 1 : 0)) % 4;
  ref.set_team(absl::StrCat("teams/t", team));
  ref.set_department(absl::StrCat("departments/d", team / 2));
  return ref;
}
constexpr int kStaff = 14;

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  // Every event, in the order they are appended (recorded_at, then generation order).
  std::vector<EventEnvelope> Generate() {
    for (int s = 0; s < kStaff; ++s) {
      EventEnvelope e;
      auto* staff = e.mutable_staff_added()->mutable_staff();
      staff->set_name(absl::StrCat("staff/s", s));
      staff->set_display_name(absl::StrCat("Staff ", s));
      staff->set_active(true);
      Emit("", absl::StrCat("staff/s", s), kStart - absl::Hours(1), kStart - absl::Hours(1), e);
    }
    for (int c = 0; c < kCustomers; ++c) Customer(absl::StrFormat("c%04d", c));
    // By recorded time, then generation order: each aggregate keeps its order.
    std::sort(events_.begin(), events_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<EventEnvelope> out;
    out.reserve(events_.size());
    for (auto& [key, e] : events_) out.push_back(std::move(e));
    return out;
  }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  absl::Duration Minutes(int lo, int hi) { return absl::Minutes(Uniform(lo, hi)); }

  // Stamps `e` as the command executor would and keeps it with its sort key.
  void Emit(const std::string& customer, const std::string& aggregate, absl::Time recorded,
            absl::Time occurred, EventEnvelope e) {
    const int64_t n = ++sequence_;
    e.set_event_id(absl::StrFormat("00000000-0000-4000-8000-%012d", n));
    e.set_customer_id(customer);
    e.set_aggregate(aggregate);
    e.set_aggregate_version(++versions_[aggregate]);
    *e.mutable_recorded_at() = Ts(recorded);
    *e.mutable_occurred_at() = Ts(occurred);
    e.set_actor("generator");
    e.set_correlation_id(absl::StrCat("corr-", n));
    e.set_causation_id(absl::StrCat("cmd-", n));
    e.set_event_type(domain::customer::EventTypeName(e));
    e.set_schema_version(1);
    events_.push_back({{absl::ToUnixSeconds(recorded), n}, std::move(e)});
  }

  void Customer(const std::string& id) {
    const std::string aggregate = absl::StrCat("customers/", id);
    absl::Time now = kStart + absl::Minutes(Uniform(0, 200 * 24 * 60));
    crm::v1::LifecycleStage stage =
        Chance(0.7) ? crm::v1::POTENTIAL : static_cast<crm::v1::LifecycleStage>(Uniform(1, 6));
    {
      EventEnvelope e;
      auto* r = e.mutable_customer_registered();
      r->mutable_profile()->set_display_name(absl::StrCat("Customer ", id));
      r->mutable_profile()->set_kind(crm::events::v1::PERSON);
      // Sometimes left unspecified: the fold reads it as POTENTIAL, like the domain.
      if (stage != crm::v1::POTENTIAL || Chance(0.5)) r->set_lifecycle_stage(ToEvent(stage));
      Emit(id, aggregate, now, now, e);
    }
    crm::v1::ValueFigures figures;
    crm::v1::ValueTier tier = crm::v1::POTENTIAL_VALUE;
    bool has_owner = false;
    crm::v1::StaffRef owner_place;  // the owner's place as recorded (none: empty)
    struct Bought {
      crm::v1::Purchase purchase;
      int64_t refunded = 0;
      crm::v1::StaffRef sold_by;
    };
    std::vector<Bought> bought;
    const int steps = Uniform(8, 24);
    for (int step = 0; step < steps; ++step) {
      now += Minutes(10, 3 * 24 * 60);
      const int what = Uniform(0, 99);
      if (what < 25) {
        // A lifecycle move along the table (domain/customer IsAllowedTransition).
        std::vector<crm::v1::LifecycleStage> targets;
        for (int s = crm::v1::POTENTIAL; s <= crm::v1::CHURNED; ++s) {
          auto to = static_cast<crm::v1::LifecycleStage>(s);
          if (domain::customer::IsAllowedTransition(stage, to)) {
            // Favour forward moves so that the funnel fills up.
            if (to != crm::v1::CHURNED || Chance(0.3)) targets.push_back(to);
          }
        }
        if (targets.empty()) continue;
        const auto to = targets[Uniform(0, static_cast<int>(targets.size()) - 1)];
        EventEnvelope e;
        auto* changed = e.mutable_lifecycle_stage_changed();
        changed->set_from_stage(ToEvent(stage));
        changed->set_to_stage(ToEvent(to));
        changed->set_reason("generated");
        Emit(id, aggregate, now, now, e);
        stage = to;
      } else if (what < 50 && !bought.empty() && Chance(0.25)) {
        // A refund of some purchase, in part or in whole; the figures and tier as the domain
        // keeps them.
        Bought& b = bought[Uniform(0, static_cast<int>(bought.size()) - 1)];
        const int64_t remaining = b.purchase.amount().amount_minor() - b.refunded;
        if (remaining == 0) continue;
        const int64_t amount = Chance(0.5) ? remaining : Uniform(1, static_cast<int>(remaining));
        b.refunded += amount;
        const bool whole = b.refunded == b.purchase.amount().amount_minor();
        for (auto& t : *figures.mutable_totals()) {
          if (t.currency_code() != b.purchase.amount().currency_code()) continue;
          t.set_total_minor(t.total_minor() - amount);
          t.set_refunded_minor(t.refunded_minor() + amount);
          if (whole) t.set_purchase_count(t.purchase_count() - 1);
        }
        if (whole) figures.set_purchase_count(figures.purchase_count() - 1);
        const crm::v1::ValueTier after = domain::customer::TierFor(figures);
        EventEnvelope e;
        auto* r = e.mutable_purchase_refunded();
        *r->mutable_purchase() = ToEvent(b.purchase);
        r->mutable_amount()->set_currency_code(b.purchase.amount().currency_code());
        r->mutable_amount()->set_amount_minor(amount);
        r->set_refunded_minor(b.refunded);
        r->set_reason("generated");
        r->set_sold_by_owner(b.sold_by.staff_id());
        r->set_sold_by_team(b.sold_by.team());
        r->set_sold_by_department(b.sold_by.department());
        r->set_new_value_tier(ToEvent(after != tier ? after : crm::v1::VALUE_TIER_UNSPECIFIED));
        tier = after;
        Emit(id, aggregate, now, now, e);
      } else if (what < 50) {
        // A purchase, sometimes back-dated; the tier as the domain computes it.
        crm::v1::Purchase purchase;
        purchase.set_purchase_id(absl::StrCat("p", sequence_));
        const int currency = Uniform(0, 9);
        purchase.mutable_amount()->set_currency_code(currency < 7   ? "CNY"
                                                     : currency < 9 ? "USD"
                                                                    : "EUR");
        purchase.mutable_amount()->set_amount_minor(Uniform(100, 400'000));
        const int product = Uniform(0, 9);
        purchase.set_product(product < 5 ? "widget" : product < 8 ? "服务套餐" : "gadget");
        const absl::Time purchased = now - absl::Minutes(Chance(0.3) ? Uniform(0, 5 * 24 * 60) : 0);
        *purchase.mutable_purchased_at() = Ts(purchased);
        // The figures as the domain keeps them (totals per currency sorted by code), for the tier.
        auto* totals = figures.mutable_totals();
        crm::v1::CurrencyTotal* total = nullptr;
        for (auto& t : *totals) {
          if (t.currency_code() == purchase.amount().currency_code()) total = &t;
        }
        if (total == nullptr) {
          total = totals->Add();
          total->set_currency_code(purchase.amount().currency_code());
          std::sort(totals->begin(), totals->end(), [](const auto& a, const auto& b) {
            return a.currency_code() < b.currency_code();
          });
          for (auto& t : *totals) {
            if (t.currency_code() == purchase.amount().currency_code()) total = &t;
          }
        }
        total->set_total_minor(total->total_minor() + purchase.amount().amount_minor());
        total->set_purchase_count(total->purchase_count() + 1);
        figures.set_purchase_count(figures.purchase_count() + 1);
        const crm::v1::ValueTier after = domain::customer::TierFor(figures);
        EventEnvelope e;
        *e.mutable_purchase_recorded()->mutable_purchase() = ToEvent(purchase);
        e.mutable_purchase_recorded()->set_new_value_tier(
            ToEvent(after != tier ? after : crm::v1::VALUE_TIER_UNSPECIFIED));
        tier = after;
        bought.push_back({purchase, 0, owner_place});
        Emit(id, aggregate, now, purchased, e);
      } else if (what < 75) {
        Interaction(id, now);
      } else if (what < 88) {
        Complaint(id, now, tier);
      } else if (what < 94) {
        EventEnvelope e;
        e.mutable_customer_tagged()->set_tag(absl::StrCat("tag", Uniform(0, 5)));
        Emit(id, aggregate, now, now, e);
      } else if (has_owner && Chance(0.2)) {
        EventEnvelope e;
        e.mutable_owner_unassigned()->set_previous_owner("someone");
        Emit(id, aggregate, now, now, e);
        has_owner = false;
        owner_place.Clear();
      } else {
        // The owner's place when assigned, recorded in the event (the staff move teams at
        // kTeamShuffle; the sales stay with the place recorded).
        EventEnvelope e;
        const int owner = Uniform(0, kStaff - 1);
        const crm::v1::StaffRef place = RefAt(owner, now);
        e.mutable_owner_assigned()->set_owner(place.staff_id());
        e.mutable_owner_assigned()->set_team(place.team());
        e.mutable_owner_assigned()->set_department(place.department());
        Emit(id, aggregate, now, now, e);
        has_owner = true;
        owner_place = place;
      }
    }
  }

  void Interaction(const std::string& customer, absl::Time now) {
    const std::string aggregate =
        absl::StrCat("customers/", customer, "/interactions/i", ++interaction_ids_);
    const int staff = Uniform(0, kStaff - 1);
    EventEnvelope e;
    auto* logged = e.mutable_interaction_logged();
    auto* i = logged->mutable_interaction();
    i->set_name(aggregate);
    i->set_channel(ToEvent(static_cast<crm::v1::Channel>(Uniform(1, 7))));
    i->set_direction(ToEvent(Chance(0.6) ? crm::v1::INBOUND : crm::v1::OUTBOUND));
    i->set_staff_id(absl::StrCat("s", staff));
    *i->mutable_occurred_at() = Ts(now);
    i->set_summary("talked");
    const bool follow_up = Chance(0.3);
    if (follow_up) *i->mutable_follow_up_due_time() = Ts(now + absl::Hours(48));
    *logged->mutable_staff() = ToEvent(RefAt(staff, now));
    Emit(customer, aggregate, now, now, e);
    if (follow_up && Chance(0.5)) {
      EventEnvelope done;
      *done.mutable_follow_up_completed()->mutable_complete_time() = Ts(now + absl::Hours(5));
      *done.mutable_follow_up_completed()->mutable_staff() =
          ToEvent(RefAt(staff, now + absl::Hours(5)));
      Emit(customer, aggregate, now + absl::Hours(5), now + absl::Hours(5), done);
    }
  }

  // One complaint walking the flow; deadlines are watched before every step as the deadline
  // watcher would (a breach is appended for most, not all, passed deadlines, so some are late
  // without a recorded breach).
  // The deadlines are the SLA policy's for the severity and the customer's tier at filing, as
  // the command side records them: VIP (HIGH_VALUE) customers get a quarter of the time, so
  // their recorded due times are tighter.
  void Complaint(const std::string& customer, absl::Time start, crm::v1::ValueTier tier) {
    const std::string aggregate =
        absl::StrCat("customers/", customer, "/complaints/k", ++complaint_ids_);
    const auto severity = static_cast<crm::v1::ComplaintSeverity>(Uniform(1, 3));
    const int vip = tier == crm::v1::HIGH_VALUE ? 4 : 1;
    const absl::Duration response_window = (severity == crm::v1::SEVERE    ? absl::Hours(4)
                                            : severity == crm::v1::GENERAL ? absl::Hours(24)
                                                                           : absl::Hours(48)) /
                                           vip;
    const absl::Duration resolution_window = (severity == crm::v1::SEVERE    ? absl::Hours(24)
                                              : severity == crm::v1::GENERAL ? absl::Hours(72)
                                                                             : absl::Hours(168)) /
                                             vip;
    absl::Time now = start;
    auto emit = [&](absl::Time at, absl::Time occurred, EventEnvelope e) {
      now = std::max(now, at);
      Emit(customer, aggregate, now, occurred, std::move(e));
    };
    absl::Time response_due = now + response_window;
    absl::Time resolution_due = now + resolution_window;
    {
      EventEnvelope e;
      auto* f = e.mutable_complaint_filed();
      f->set_channel(ToEvent(static_cast<crm::v1::Channel>(Uniform(1, 7))));
      f->set_category(ToEvent(static_cast<crm::v1::ComplaintCategory>(Uniform(1, 5))));
      f->set_severity(ToEvent(severity));
      f->set_customer_tier(ToEvent(tier));
      f->set_description("broken");
      *f->mutable_response_due_time() = Ts(response_due);
      *f->mutable_resolution_due_time() = Ts(resolution_due);
      emit(now, now, e);
    }
    crm::v1::ComplaintStatus status = crm::v1::FILED;
    std::optional<int> assignee;
    bool response_open = true;    // Not acknowledged and not breached.
    bool resolution_open = true;  // Current resolution deadline not resolved nor breached.
    bool responded = false;
    int level = 0;
    crm::v1::StaffRef resolver;
    auto ref = [&](absl::Time at) {
      return assignee.has_value() ? RefAt(*assignee, at) : crm::v1::StaffRef();
    };
    auto watch = [&](absl::Time until) {
      for (int kind : {crm::v1::RESPONSE, crm::v1::RESOLUTION}) {
        bool& open = kind == crm::v1::RESPONSE ? response_open : resolution_open;
        const absl::Time due = kind == crm::v1::RESPONSE ? response_due : resolution_due;
        if (!open || until <= due || Chance(0.15)) continue;
        open = false;
        EventEnvelope b;
        auto* breached = b.mutable_complaint_sla_breached();
        breached->set_kind(ToEvent(static_cast<crm::v1::SlaKind>(kind)));
        *breached->mutable_due_time() = Ts(due);
        breached->set_severity(ToEvent(severity));
        *breached->mutable_assignee() = ToEvent(ref(due));
        emit(due + absl::Minutes(1), due, b);
        if (Chance(0.7)) {
          EventEnvelope x;
          auto* esc = x.mutable_complaint_escalated();
          esc->set_level(++level);
          *esc->mutable_from() = ToEvent(ref(now));
          *esc->mutable_to() = ToEvent(RefAt(Uniform(0, kStaff - 1), now));
          esc->set_automatic(true);
          esc->set_sla_kind(ToEvent(static_cast<crm::v1::SlaKind>(kind)));
          emit(now, now, x);
        }
      }
    };
    auto delay = [&](absl::Duration window) {
      // Mostly within the window, sometimes well past it.
      return absl::Minutes(
          Uniform(1, static_cast<int>(absl::ToInt64Minutes(window) * (Chance(0.25) ? 3 : 1) / 2)));
    };
    for (int step = 0; step < 30 && status != crm::v1::CLOSED; ++step) {
      if (Chance(0.04)) break;  // Left open at the end of the history.
      const int r = Uniform(0, 99);
      EventEnvelope e;
      absl::Time at = now;
      switch (status) {
        case crm::v1::FILED:
        case crm::v1::ACKNOWLEDGED:
        case crm::v1::REOPENED:
          if (status == crm::v1::FILED && r < 65) {
            at = now + delay(response_window);
            watch(at);
            *e.mutable_complaint_acknowledged()->mutable_responder() =
                ToEvent(RefAt(Uniform(0, kStaff - 1), at));
            if (!responded && response_open) response_open = false;
            responded = true;
            status = crm::v1::ACKNOWLEDGED;
          } else if (r < 92) {
            at = now + Minutes(5, 600);
            watch(at);
            const int previous = assignee.value_or(-1);
            assignee = Uniform(0, kStaff - 1);
            *e.mutable_complaint_assigned()->mutable_assignee() = ToEvent(RefAt(*assignee, at));
            if (previous >= 0) {
              e.mutable_complaint_assigned()->set_previous_assignee(absl::StrCat("s", previous));
            }
            status = crm::v1::ASSIGNED;
          } else {
            at = now + Minutes(5, 300);
            watch(at);
            auto* esc = e.mutable_complaint_escalated();
            esc->set_level(++level);
            *esc->mutable_from() = ToEvent(ref(at));
            *esc->mutable_to() = ToEvent(RefAt(Uniform(0, kStaff - 1), at));
            esc->set_reason("by hand");
          }
          break;
        case crm::v1::ASSIGNED:
        case crm::v1::INVESTIGATING:
          if (status == crm::v1::ASSIGNED && r < 70) {
            at = now + Minutes(5, 900);
            watch(at);
            *e.mutable_complaint_investigation_started()->mutable_assignee() = ToEvent(ref(at));
            status = crm::v1::INVESTIGATING;
          } else if (status == crm::v1::INVESTIGATING && r < 75) {
            at = now + delay(resolution_window);
            watch(at);
            auto* resolved = e.mutable_complaint_resolved();
            resolved->set_resolution("fixed");
            // Skewed, so that the ranking has clear leaders and some ties below.
            const int cause = Uniform(0, 99);
            resolved->set_root_cause(
                ToEvent(static_cast<crm::v1::RootCause>(cause < 30   ? 1
                                                        : cause < 50 ? 2
                                                        : cause < 65 ? 4
                                                                     : Uniform(3, 8))));
            resolver = ref(at);
            *resolved->mutable_resolver() = ToEvent(resolver);
            if (resolution_open) resolution_open = false;
            status = crm::v1::RESOLVED;
          } else if (r < 90) {
            at = now + Minutes(5, 600);
            watch(at);
            const int previous = assignee.value_or(-1);
            assignee = Uniform(0, kStaff - 1);
            *e.mutable_complaint_assigned()->mutable_assignee() = ToEvent(RefAt(*assignee, at));
            e.mutable_complaint_assigned()->set_previous_assignee(absl::StrCat("s", previous));
          } else {
            at = now + Minutes(5, 300);
            watch(at);
            auto* esc = e.mutable_complaint_escalated();
            esc->set_level(++level);
            *esc->mutable_from() = ToEvent(ref(at));
            *esc->mutable_to() = ToEvent(RefAt(Uniform(0, kStaff - 1), at));
            esc->set_reason("by hand");
          }
          break;
        case crm::v1::RESOLVED:
          at = now + Minutes(60, 5 * 24 * 60);
          if (r < 85) {
            auto* visit = e.mutable_complaint_follow_up_visit_recorded();
            const int csat = Uniform(1, 100) <= 15 ? 1 : Uniform(1, 5);
            visit->mutable_visit()->set_csat(csat);
            visit->mutable_visit()->set_satisfied(csat >= 4 || (csat == 3 && Chance(0.5)));
            *visit->mutable_visit()->mutable_visit_time() = Ts(at);
            *visit->mutable_resolver() = ToEvent(resolver);
            status = crm::v1::FOLLOWED_UP;
          } else {
            e.mutable_complaint_closed();
            status = crm::v1::CLOSED;
          }
          break;
        case crm::v1::FOLLOWED_UP:
          at = now + Minutes(30, 2 * 24 * 60);
          if (r < 35) {
            e.mutable_complaint_reopened()->set_reason("not satisfied");
            resolution_due = at + resolution_window;
            *e.mutable_complaint_reopened()->mutable_resolution_due_time() = Ts(resolution_due);
            resolution_open = true;
            status = crm::v1::REOPENED;
          } else {
            e.mutable_complaint_closed();
            status = crm::v1::CLOSED;
          }
          break;
        default:
          break;
      }
      emit(at, at, e);
    }
  }

  std::mt19937_64 rng_;
  int64_t sequence_ = 0;
  int interaction_ids_ = 0;
  int complaint_ids_ = 0;
  std::map<std::string, int64_t> versions_;
  // ((recorded seconds, sequence), event).
  std::vector<std::pair<std::pair<int64_t, int64_t>, EventEnvelope>> events_;
};

// ---------------------------------------------------------------------------------------------
// The brute-force recomputation: straight from the event list, one figure at a time, with none
// of the fold's code.

bool IsComplaintEvent(const EventEnvelope& e) {
  return e.payload_case() >= EventEnvelope::kComplaintFiled &&
         e.payload_case() <= EventEnvelope::kComplaintSlaBreached;
}

int64_t Millis(absl::Time from, absl::Time to) {
  return to <= from ? 0 : absl::ToInt64Milliseconds(to - from);
}

// Durations proto from whole nanoseconds.
google::protobuf::Duration Nanos(__int128 ns) {
  google::protobuf::Duration d;
  d.set_seconds(static_cast<int64_t>(ns / 1'000'000'000));
  d.set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
  return d;
}

crm::v1::DurationStats Stats(std::vector<int64_t> millis) {
  crm::v1::DurationStats s;
  std::sort(millis.begin(), millis.end());
  const int64_t n = static_cast<int64_t>(millis.size());
  __int128 sum = 0;
  for (int64_t m : millis) sum += m;
  s.set_count(n);
  *s.mutable_total() = Nanos(sum * 1'000'000);
  *s.mutable_mean() = Nanos(n == 0 ? 0 : sum * 1'000'000 / n);
  int64_t rank = 0;  // ceil(0.9 n), 1-based.
  while (rank * 10 < n * 9) ++rank;
  *s.mutable_p90() = Nanos(n == 0 ? 0 : static_cast<__int128>(millis[rank - 1]) * 1'000'000);
  const size_t lower_median = n == 0 ? 0 : static_cast<size_t>((n + 1) / 2 - 1);
  *s.mutable_median() = Nanos(n == 0 ? 0 : static_cast<__int128>(millis[lower_median]) * 1'000'000);
  return s;
}

struct Scoped {
  std::map<std::pair<int, std::string>, int64_t> counts;  // (scope kind, id) -> count
};
enum ScopeKind { kAll = 0, kStaffScope = 1, kTeamScope = 2, kDeptScope = 3 };

std::vector<std::pair<int, std::string>> ScopesOfRef(const crm::events::v1::StaffRef& ref) {
  std::vector<std::pair<int, std::string>> out = {{kAll, ""}};
  if (!ref.staff_id().empty()) out.push_back({kStaffScope, ref.staff_id()});
  if (!ref.team().empty()) out.push_back({kTeamScope, ref.team()});
  if (!ref.department().empty()) out.push_back({kDeptScope, ref.department()});
  return out;
}

crm::v1::StaffScope ToScope(const std::pair<int, std::string>& s) {
  crm::v1::StaffScope scope;
  if (s.first == kStaffScope) scope.set_staff_id(s.second);
  if (s.first == kTeamScope) scope.set_team(s.second);
  if (s.first == kDeptScope) scope.set_department(s.second);
  return scope;
}

enum Outcome { kPending, kMet, kLate, kBreached };

// A report window [start, end) (unset: unbounded), with the zone of its buckets.
struct Win {
  std::optional<absl::Time> start, end;
  absl::TimeZone zone = absl::UTCTimeZone();
  bool Contains(absl::Time t) const { return (!start || t >= *start) && (!end || t < *end); }
  readmodel::analytics::Window ForViews() const { return {start, end}; }
};

using Scope = std::pair<int, std::string>;

struct Expected {
  // Complaints.
  int64_t filed = 0;
  std::map<int, int64_t> by_category, by_severity, by_status, by_channel;
  // Filings per day, week (by its Monday) and month of the window's zone.
  std::map<absl::CivilDay, int64_t> by_day, by_week;
  std::map<absl::CivilMonth, int64_t> by_month;
  // VIP complaints filed (all time) and their recorded response windows.
  std::map<int, int64_t> filed_per_tier;
  std::vector<absl::Duration> vip_response_windows, other_response_windows;
  std::map<std::tuple<int, int, int>, int64_t> sla;                // (kind, severity, outcome)
  std::map<int, std::vector<int64_t>> first_response, resolution;  // severity (0 = all)
  std::map<int, int64_t> root_causes;
  std::map<std::pair<int, std::string>, std::map<int, int64_t>> csat;  // scope -> score -> n
  std::map<std::pair<int, std::string>, int64_t> satisfied;
  std::map<std::pair<int, std::string>, int64_t> assigned, resolved, breached, interactions;
  std::set<std::pair<int, std::string>> scopes;
  // Interactions.
  int64_t interaction_total = 0;
  std::map<std::pair<int, int>, int64_t> by_channel_direction;
  // Customers.
  struct Move {
    absl::Time at;
    int from, to;
    int64_t stay;
  };
  struct CustomerFacts {
    int stage = 0;
    absl::Time stage_start;
    int tier = 0;
    std::vector<crm::v1::TierChange> tier_changes;
    std::map<std::string, std::pair<int64_t, int64_t>> totals;  // currency -> (total, count)
    std::map<std::string, int64_t> refunded;                    // currency -> refunded
    int64_t purchases = 0;
    std::optional<absl::Time> last_purchase;
    int64_t version = 0;
  };
  std::map<std::string, CustomerFacts> customers;
  std::vector<Move> moves;
  // Sales in the window: scope -> product -> currency -> (sum, count).
  std::map<Scope, std::map<std::string, std::map<std::string, std::pair<int64_t, int64_t>>>> sales;
  // The same purchases and refunds one by one: scope -> (time, product, currency, amount,
  // count: 1 for a purchase, -1 for a whole refund, 0 for a partial one).
  std::map<Scope, std::vector<std::tuple<absl::Time, std::string, std::string, int64_t, int64_t>>>
      sold;
  std::map<std::string, int64_t> purchases_in_window;  // customer -> purchases
  int64_t active_at_start = 0, registered_in_window = 0, churned = 0;
  // (from stage, to stage) -> durations of the moves into `to` in the window.
  std::map<std::pair<int, int>, std::vector<int64_t>> conversions;
};

Expected Recompute(const std::vector<EventEnvelope>& events, const Win& w) {
  Expected x;
  std::map<std::string, std::vector<const EventEnvelope*>> complaints;
  std::set<std::pair<std::string, std::string>> wholly_refunded;  // (customer, purchase id)
  for (const EventEnvelope& e : events) {
    if (IsComplaintEvent(e)) complaints[e.aggregate()].push_back(&e);
    if (e.has_purchase_refunded() && e.purchase_refunded().refunded_minor() ==
                                         e.purchase_refunded().purchase().amount().amount_minor()) {
      wholly_refunded.insert({e.customer_id(), e.purchase_refunded().purchase().purchase_id()});
    }
  }
  for (const auto& [aggregate, list] : complaints) {
    const EventEnvelope& first = *list.front();
    EXPECT_EQ(first.payload_case(), EventEnvelope::kComplaintFiled);
    const auto& filed = first.complaint_filed();
    const int severity = filed.severity();
    const absl::Time filed_at = T(first.occurred_at());
    ++x.filed_per_tier[filed.customer_tier()];
    (filed.customer_tier() == crm::events::v1::HIGH_VALUE ? x.vip_response_windows
                                                          : x.other_response_windows)
        .push_back((T(filed.response_due_time()) - filed_at) / (severity == crm::v1::SEVERE ? 4
                                                                : severity == crm::v1::GENERAL
                                                                    ? 24
                                                                    : 48));
    const bool filed_in = w.Contains(filed_at);
    if (filed_in) {
      ++x.filed;
      ++x.by_category[filed.category()];
      ++x.by_severity[severity];
      ++x.by_channel[filed.channel()];
      // The local day from the zone's broken-down time; its Monday from the weekday number.
      const absl::TimeZone::CivilInfo local = w.zone.At(filed_at);
      const absl::CivilDay day(local.cs);
      ++x.by_day[day];
      int weekday = 0;  // 1 = Monday .. 7 = Sunday
      EXPECT_TRUE(absl::SimpleAtoi(absl::FormatTime("%u", filed_at, w.zone), &weekday));
      ++x.by_week[day - (weekday - 1)];
      ++x.by_month[absl::CivilMonth(local.cs)];
    }

    // Current status.
    int status = 0;
    for (const EventEnvelope* e : list) {
      switch (e->payload_case()) {
        case EventEnvelope::kComplaintFiled:
          status = crm::v1::FILED;
          break;
        case EventEnvelope::kComplaintAcknowledged:
          status = crm::v1::ACKNOWLEDGED;
          break;
        case EventEnvelope::kComplaintAssigned:
          if (status == crm::v1::FILED || status == crm::v1::ACKNOWLEDGED ||
              status == crm::v1::REOPENED) {
            status = crm::v1::ASSIGNED;
          }
          break;
        case EventEnvelope::kComplaintInvestigationStarted:
          status = crm::v1::INVESTIGATING;
          break;
        case EventEnvelope::kComplaintResolved:
          status = crm::v1::RESOLVED;
          break;
        case EventEnvelope::kComplaintFollowUpVisitRecorded:
          status = crm::v1::FOLLOWED_UP;
          break;
        case EventEnvelope::kComplaintClosed:
          status = crm::v1::CLOSED;
          break;
        case EventEnvelope::kComplaintReopened:
          status = crm::v1::REOPENED;
          break;
        default:
          break;
      }
    }
    if (filed_in) ++x.by_status[status];

    // The response deadline.
    {
      std::optional<absl::Time> acked;
      bool breach = false;
      for (const EventEnvelope* e : list) {
        if (e->has_complaint_acknowledged() && !acked) acked = T(e->occurred_at());
        if (e->has_complaint_sla_breached() &&
            e->complaint_sla_breached().kind() == crm::events::v1::RESPONSE) {
          breach = true;
        }
      }
      const absl::Time due = T(filed.response_due_time());
      const int outcome = breach ? kBreached : !acked ? kPending : *acked <= due ? kMet : kLate;
      if (w.Contains(due)) ++x.sla[{crm::v1::RESPONSE, severity, outcome}];
      if (acked && w.Contains(*acked)) {
        x.first_response[0].push_back(Millis(filed_at, *acked));
        x.first_response[severity].push_back(Millis(filed_at, *acked));
      }
    }
    // Resolution deadlines: one from the filing, one per reopen; each ends at the next reopen.
    {
      absl::Time due = T(filed.resolution_due_time());
      std::optional<absl::Time> met;
      bool breach = false;
      auto close_segment = [&] {
        const int outcome = breach ? kBreached : !met ? kPending : *met <= due ? kMet : kLate;
        if (w.Contains(due)) ++x.sla[{crm::v1::RESOLUTION, severity, outcome}];
      };
      std::optional<absl::Time> first_resolved;
      for (const EventEnvelope* e : list) {
        if (e->has_complaint_reopened()) {
          close_segment();
          due = T(e->complaint_reopened().resolution_due_time());
          met.reset();
          breach = false;
        }
        if (e->has_complaint_resolved()) {
          if (!met) met = T(e->occurred_at());
          if (!first_resolved) first_resolved = T(e->occurred_at());
        }
        if (e->has_complaint_sla_breached() &&
            e->complaint_sla_breached().kind() == crm::events::v1::RESOLUTION) {
          breach = true;
        }
      }
      close_segment();
      if (first_resolved && w.Contains(*first_resolved)) {
        x.resolution[0].push_back(Millis(filed_at, *first_resolved));
        x.resolution[severity].push_back(Millis(filed_at, *first_resolved));
      }
    }
    // Credits, each at its event's time (a breach's is its due time).
    for (const EventEnvelope* e : list) {
      const int64_t in = w.Contains(T(e->occurred_at())) ? 1 : 0;
      if (e->has_complaint_assigned()) {
        for (const auto& s : ScopesOfRef(e->complaint_assigned().assignee())) {
          x.assigned[s] += in;
          x.scopes.insert(s);
        }
      }
      if (e->has_complaint_resolved()) {
        if (in) ++x.root_causes[e->complaint_resolved().root_cause()];
        for (const auto& s : ScopesOfRef(e->complaint_resolved().resolver())) {
          x.resolved[s] += in;
          x.scopes.insert(s);
        }
      }
      if (e->has_complaint_sla_breached()) {
        for (const auto& s : ScopesOfRef(e->complaint_sla_breached().assignee())) {
          x.breached[s] += in;
          x.scopes.insert(s);
        }
      }
      if (e->has_complaint_follow_up_visit_recorded()) {
        const auto& v = e->complaint_follow_up_visit_recorded();
        for (const auto& s : ScopesOfRef(v.resolver())) {
          x.csat[s][v.visit().csat()] += in;
          if (v.visit().satisfied()) x.satisfied[s] += in;
          x.scopes.insert(s);
        }
      }
    }
  }

  std::map<std::string, crm::v1::StaffRef> owners;
  std::map<std::string, std::map<int, absl::Time>> stage_entries;
  for (const EventEnvelope& e : events) {
    if (e.has_interaction_logged()) {
      const int64_t in = w.Contains(T(e.occurred_at())) ? 1 : 0;
      x.interaction_total += in;
      const auto& i = e.interaction_logged().interaction();
      if (in) ++x.by_channel_direction[{i.channel(), i.direction()}];
      for (const auto& s : ScopesOfRef(e.interaction_logged().staff())) {
        x.interactions[s] += in;
        x.scopes.insert(s);
      }
    }
    if (e.aggregate() != absl::StrCat("customers/", e.customer_id())) continue;
    auto& c = x.customers[e.customer_id()];
    const absl::Time at = T(e.occurred_at());
    auto& owner = owners[e.customer_id()];
    auto& entered = stage_entries[e.customer_id()];
    auto enter = [&](int stage) {
      if (w.Contains(at)) {
        for (const auto& [from, since] : entered) {
          if (from != stage) x.conversions[{from, stage}].push_back(Millis(since, at));
        }
      }
      entered[stage] = at;
    };
    // Stage changes before the window's start decide who was active at it.
    auto churn_state = [&](int before, int after) {
      if (!w.start || at >= *w.start) return;
      const bool was = before != 0 && before != crm::v1::CHURNED;
      const bool is = after != crm::v1::CHURNED;
      x.active_at_start += (is ? 1 : 0) - (was ? 1 : 0);
    };
    if (e.has_owner_assigned()) {
      owner.set_staff_id(e.owner_assigned().owner());
      owner.set_team(e.owner_assigned().team());
      owner.set_department(e.owner_assigned().department());
    }
    if (e.has_owner_unassigned()) owner.Clear();
    if (e.has_customer_registered()) {
      const int stage = e.customer_registered().lifecycle_stage() == 0
                            ? crm::v1::POTENTIAL
                            : static_cast<int>(ToApi(e.customer_registered().lifecycle_stage()));
      churn_state(0, stage);
      if (w.Contains(at) && stage != crm::v1::CHURNED) ++x.registered_in_window;
      enter(stage);
    }
    if (e.has_lifecycle_stage_changed()) {
      const int to = e.lifecycle_stage_changed().to_stage();
      churn_state(c.stage, to);
      if (w.Contains(at) && to == crm::v1::CHURNED) ++x.churned;
      enter(to);
    }
    if (e.has_purchase_refunded() && w.Contains(at)) {
      const auto& r = e.purchase_refunded();
      const auto& p = r.purchase();
      const int64_t count = r.refunded_minor() == p.amount().amount_minor() ? -1 : 0;
      crm::events::v1::StaffRef ref;
      ref.set_staff_id(r.sold_by_owner());
      ref.set_team(r.sold_by_team());
      ref.set_department(r.sold_by_department());
      for (const auto& scope : ScopesOfRef(ref)) {
        auto& [sum, n] = x.sales[scope][p.product()][p.amount().currency_code()];
        sum -= r.amount().amount_minor();
        n += count;
        x.sold[scope].emplace_back(at, p.product(), p.amount().currency_code(),
                                   -r.amount().amount_minor(), count);
      }
    }
    if (e.has_purchase_recorded() && w.Contains(at)) {
      const auto& p = e.purchase_recorded().purchase();
      // A purchase wholly refunded (at any time) is no purchase for repeat purchases.
      if (!wholly_refunded.contains({e.customer_id(), p.purchase_id()})) {
        ++x.purchases_in_window[e.customer_id()];
      }
      crm::events::v1::StaffRef ref;
      ref.set_staff_id(owner.staff_id());
      ref.set_team(owner.team());
      ref.set_department(owner.department());
      for (const auto& scope : ScopesOfRef(ref)) {
        auto& [sum, count] = x.sales[scope][p.product()][p.amount().currency_code()];
        sum += p.amount().amount_minor();
        ++count;
        x.sold[scope].emplace_back(at, p.product(), p.amount().currency_code(),
                                   p.amount().amount_minor(), 1);
      }
    }
    if (e.has_customer_registered()) {
      c.stage = e.customer_registered().lifecycle_stage() == 0
                    ? crm::v1::POTENTIAL
                    : ToApi(e.customer_registered().lifecycle_stage());
      c.stage_start = at;
      c.tier = crm::v1::POTENTIAL_VALUE;
      crm::v1::TierChange change;
      *change.mutable_change_time() = e.occurred_at();
      change.set_from_tier(crm::v1::VALUE_TIER_UNSPECIFIED);
      change.set_to_tier(crm::v1::POTENTIAL_VALUE);
      c.tier_changes.push_back(change);
      c.version = e.aggregate_version();
    } else if (e.has_lifecycle_stage_changed()) {
      const int to = e.lifecycle_stage_changed().to_stage();
      x.moves.push_back({at, c.stage, to, Millis(c.stage_start, at)});
      c.stage = to;
      c.stage_start = at;
      c.version = e.aggregate_version();
    } else if (e.has_purchase_recorded()) {
      const auto& p = e.purchase_recorded().purchase();
      auto& [total, count] = c.totals[p.amount().currency_code()];
      total += p.amount().amount_minor();
      ++count;
      ++c.purchases;
      if (!c.last_purchase || *c.last_purchase < T(p.purchased_at())) {
        c.last_purchase = T(p.purchased_at());
      }
      const int tier = e.purchase_recorded().new_value_tier();
      if (tier != 0 && tier != c.tier) {
        crm::v1::TierChange change;
        *change.mutable_change_time() = e.occurred_at();
        change.set_from_tier(static_cast<crm::v1::ValueTier>(c.tier));
        change.set_to_tier(static_cast<crm::v1::ValueTier>(tier));
        c.tier_changes.push_back(change);
        c.tier = tier;
      }
      c.version = e.aggregate_version();
    } else if (e.has_purchase_refunded()) {
      const auto& r = e.purchase_refunded();
      auto& [total, count] = c.totals[r.amount().currency_code()];
      total -= r.amount().amount_minor();
      c.refunded[r.amount().currency_code()] += r.amount().amount_minor();
      if (r.refunded_minor() == r.purchase().amount().amount_minor()) {
        --count;
        --c.purchases;
      }
      const int tier = r.new_value_tier();
      if (tier != 0 && tier != c.tier) {
        crm::v1::TierChange change;
        *change.mutable_change_time() = e.occurred_at();
        change.set_from_tier(static_cast<crm::v1::ValueTier>(c.tier));
        change.set_to_tier(static_cast<crm::v1::ValueTier>(tier));
        c.tier_changes.push_back(change);
        c.tier = tier;
      }
      c.version = e.aggregate_version();
    } else {
      c.version = e.aggregate_version();  // CustomerValue.version is the customer's version
    }
  }
  return x;
}

// ---------------------------------------------------------------------------------------------
// Expected answers, built from the recomputation in the read models' documented shapes.

template <typename T>
int64_t Get(const std::map<T, int64_t>& m, const T& k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}

crm::v1::SlaOutcomes Outcomes(int64_t met, int64_t breached, int64_t late, int64_t pending) {
  crm::v1::SlaOutcomes o;
  o.set_met(met);
  o.set_breached(breached);
  o.set_late(late);
  o.set_pending(pending);
  const int64_t decided = met + breached + late;
  o.set_compliance_rate(decided == 0 ? 0.0 : static_cast<double>(met) / decided);
  return o;
}

crm::v1::SlaCompliance ExpectedSla(const Expected& x) {
  auto sum = [&](int kind, int severity, int outcome) {
    int64_t n = 0;
    for (const auto& [k, count] : x.sla) {
      if ((kind == 0 || std::get<0>(k) == kind) && (severity == 0 || std::get<1>(k) == severity) &&
          std::get<2>(k) == outcome) {
        n += count;
      }
    }
    return n;
  };
  auto outcomes = [&](int kind, int severity) {
    return Outcomes(sum(kind, severity, kMet), sum(kind, severity, kBreached),
                    sum(kind, severity, kLate), sum(kind, severity, kPending));
  };
  crm::v1::SlaCompliance out;
  *out.mutable_overall() = outcomes(0, 0);
  for (int kind : {1, 2}) {
    auto* k = out.add_by_kind();
    k->set_kind(static_cast<crm::v1::SlaKind>(kind));
    *k->mutable_outcomes() = outcomes(kind, 0);
  }
  for (int severity : {1, 2, 3}) {
    auto* s = out.add_by_severity();
    s->set_severity(static_cast<crm::v1::ComplaintSeverity>(severity));
    *s->mutable_outcomes() = outcomes(0, severity);
  }
  return out;
}

crm::v1::ComplaintStats ExpectedComplaintStats(const Expected& x, std::optional<absl::Time> start,
                                               std::optional<absl::Time> end,
                                               const absl::TimeZone& zone) {
  crm::v1::ComplaintStats out;
  out.set_total(x.filed);
  for (int v = 1; v <= 5; ++v) {
    auto* c = out.add_categories();
    c->set_category(static_cast<crm::v1::ComplaintCategory>(v));
    c->set_count(Get(x.by_category, v));
  }
  for (int v = 1; v <= 3; ++v) {
    auto* c = out.add_severities();
    c->set_severity(static_cast<crm::v1::ComplaintSeverity>(v));
    c->set_count(Get(x.by_severity, v));
  }
  for (int v = 1; v <= 8; ++v) {
    auto* c = out.add_statuses();
    c->set_status(static_cast<crm::v1::ComplaintStatus>(v));
    c->set_count(Get(x.by_status, v));
  }
  for (int v = 1; v <= 7; ++v) {
    auto* c = out.add_channels();
    c->set_channel(static_cast<crm::v1::Channel>(v));
    c->set_count(Get(x.by_channel, v));
  }
  auto in_window = [&](absl::Time t) { return (!start || t >= *start) && (!end || t < *end); };
  // Bucket labels from strftime in the zone (%G-W%V: ISO week), not from the read model's code.
  auto add = [&](google::protobuf::RepeatedPtrField<crm::v1::TimeBucketCount>* list,
                 const char* format, absl::Time t, int64_t n) {
    if (!in_window(t)) return false;
    auto* b = list->Add();
    b->set_bucket(absl::FormatTime(format, t, zone));
    *b->mutable_start_time() = Ts(t);
    b->set_count(n);
    return true;
  };
  int64_t window_total = 0;
  for (const auto& [day, n] : x.by_day) {
    if (add(out.mutable_days(), "%Y-%m-%d", zone.At(day).pre, n)) window_total += n;
  }
  for (const auto& [monday, n] : x.by_week)
    add(out.mutable_weeks(), "%G-W%V", zone.At(monday).pre, n);
  for (const auto& [month, n] : x.by_month)
    add(out.mutable_months(), "%Y-%m", zone.At(month).pre, n);
  out.set_window_total(window_total);
  return out;
}

crm::v1::Satisfaction ExpectedSatisfaction(const Expected& x,
                                           const std::pair<int, std::string>& scope) {
  crm::v1::Satisfaction out;
  *out.mutable_scope() = ToScope(scope);
  int64_t count = 0;
  int64_t sum = 0;
  auto it = x.csat.find(scope);
  for (int score = 1; score <= 5; ++score) {
    const int64_t n = it == x.csat.end() ? 0 : Get(it->second, score);
    auto* d = out.add_distribution();
    d->set_score(score);
    d->set_count(n);
    count += n;
    sum += score * n;
  }
  out.set_count(count);
  out.set_average(count == 0 ? 0.0 : static_cast<double>(sum) / count);
  out.set_satisfied_count(Get(x.satisfied, scope));
  return out;
}

crm::v1::StaffKpis ExpectedKpis(const Expected& x, const std::pair<int, std::string>& scope) {
  crm::v1::StaffKpis out;
  *out.mutable_scope() = ToScope(scope);
  out.set_complaints_assigned(Get(x.assigned, scope));
  out.set_complaints_resolved(Get(x.resolved, scope));
  out.set_sla_breaches(Get(x.breached, scope));
  out.set_interactions_logged(Get(x.interactions, scope));
  *out.mutable_satisfaction() = ExpectedSatisfaction(x, scope);
  return out;
}

crm::v1::InteractionStats ExpectedInteractions(const Expected& x) {
  crm::v1::InteractionStats out;
  out.set_total(x.interaction_total);
  std::map<int, int64_t> directions;
  for (int ch = 1; ch <= 7; ++ch) {
    auto* c = out.add_channels();
    c->set_channel(static_cast<crm::v1::Channel>(ch));
    int64_t n = 0;
    for (int dir = 1; dir <= 2; ++dir) {
      const int64_t k = Get(x.by_channel_direction, std::make_pair(ch, dir));
      auto* d = c->add_directions();
      d->set_direction(static_cast<crm::v1::Direction>(dir));
      d->set_count(k);
      n += k;
      directions[dir] += k;
    }
    c->set_count(n);
  }
  for (int dir = 1; dir <= 2; ++dir) {
    auto* d = out.add_directions();
    d->set_direction(static_cast<crm::v1::Direction>(dir));
    d->set_count(directions[dir]);
  }
  return out;
}

crm::v1::RootCauseRanking ExpectedRootCauses(const Expected& x) {
  crm::v1::RootCauseRanking out;
  int64_t total = 0;
  for (const auto& [cause, n] : x.root_causes) total += n;
  out.set_total_resolutions(total);
  std::vector<std::pair<int64_t, int>> ranked;  // (-count, cause)
  for (const auto& [cause, n] : x.root_causes) ranked.push_back({-n, cause});
  std::sort(ranked.begin(), ranked.end());
  for (const auto& [neg, cause] : ranked) {
    auto* r = out.add_root_causes();
    r->set_root_cause(static_cast<crm::v1::RootCause>(cause));
    r->set_count(-neg);
    r->set_share(static_cast<double>(-neg) / total);
  }
  return out;
}

crm::v1::CustomerValue ExpectedCustomerValue(const std::string& id,
                                             const Expected::CustomerFacts& c, absl::Time as_of) {
  crm::v1::CustomerValue out;
  out.set_name(absl::StrCat("customers/", id));
  out.set_value_tier(static_cast<crm::v1::ValueTier>(c.tier));
  auto* ltv = out.mutable_lifetime_value();
  std::string main;
  std::tuple<int64_t, int64_t> best{-1, -1};
  for (const auto& [currency, tc] : c.totals) {  // In code order.
    auto* t = ltv->add_totals();
    t->set_currency_code(currency);
    t->set_total_minor(tc.first);
    t->set_purchase_count(tc.second);
    if (auto r = c.refunded.find(currency); r != c.refunded.end()) t->set_refunded_minor(r->second);
    // Most purchases, then larger total; the earlier (smaller) code wins a full tie. A currency
    // whose purchases were all refunded has none.
    if (tc.second > 0 && std::make_tuple(tc.second, tc.first) > best) {
      best = {tc.second, tc.first};
      main = currency;
    }
  }
  ltv->set_purchase_count(c.purchases);
  if (c.last_purchase) *ltv->mutable_last_purchase_time() = Ts(*c.last_purchase);
  out.set_main_currency(main);
  auto* rfm = out.mutable_rfm();
  if (c.purchases > 0) {
    const int64_t seconds = absl::ToUnixSeconds(as_of) - absl::ToUnixSeconds(*c.last_purchase);
    const int64_t days = seconds > 0 ? seconds / 86400 : 0;
    rfm->set_days_since_last_purchase(days);
    rfm->set_recency(days <= 30 ? 5 : days <= 90 ? 4 : days <= 180 ? 3 : days <= 365 ? 2 : 1);
    const int64_t f = c.purchases;
    rfm->set_frequency(f >= 20 ? 5 : f >= 10 ? 4 : f >= 5 ? 3 : f >= 2 ? 2 : 1);
    const int64_t m = c.totals.at(main).first;
    rfm->set_monetary(m >= 1'000'000 ? 5
                      : m >= 500'000 ? 4
                      : m >= 100'000 ? 3
                      : m >= 10'000  ? 2
                                     : 1);
  }
  rfm->set_cell(absl::StrCat(rfm->recency(), rfm->frequency(), rfm->monetary()));
  for (const auto& change : c.tier_changes) *out.add_tier_changes() = change;
  out.set_lifecycle_stage(static_cast<crm::v1::LifecycleStage>(c.stage));
  *out.mutable_stage_start_time() = Ts(c.stage_start);
  *out.mutable_as_of() = Ts(as_of);
  out.set_version(c.version);
  return out;
}

std::vector<crm::v1::StageSize> ExpectedStages(const Expected& x) {
  std::map<int, int64_t> stages;
  for (const auto& [id, c] : x.customers) ++stages[c.stage];
  std::vector<crm::v1::StageSize> out;
  for (int s = 1; s <= 7; ++s) {
    crm::v1::StageSize size;
    size.set_lifecycle_stage(static_cast<crm::v1::LifecycleStage>(s));
    size.set_customers(stages[s]);
    out.push_back(size);
  }
  return out;
}

crm::v1::SegmentSizes ExpectedSegmentSizes(const Expected& x) {
  crm::v1::SegmentSizes out;
  out.set_customers(static_cast<int64_t>(x.customers.size()));
  std::map<int, int64_t> tiers;
  for (const auto& [id, c] : x.customers) ++tiers[c.tier];
  for (int t = 1; t <= 3; ++t) {
    auto* size = out.add_value_tiers();
    size->set_value_tier(static_cast<crm::v1::ValueTier>(t));
    size->set_customers(tiers[t]);
  }
  for (auto& s : ExpectedStages(x)) *out.add_lifecycle_stages() = s;
  return out;
}

crm::v1::LifecycleFunnel ExpectedFunnel(const Expected& x, std::optional<absl::Time> start,
                                        std::optional<absl::Time> end) {
  crm::v1::LifecycleFunnel out;
  for (auto& s : ExpectedStages(x)) *out.add_current_stages() = s;
  if (start) *out.mutable_start_time() = Ts(*start);
  if (end) *out.mutable_end_time() = Ts(*end);
  std::map<std::pair<int, int>, int64_t> pairs;
  std::map<int, std::vector<int64_t>> stays;
  int64_t count = 0;
  for (const auto& m : x.moves) {
    if ((start && m.at < *start) || (end && m.at >= *end)) continue;
    ++pairs[{m.from, m.to}];
    stays[m.from].push_back(m.stay);
    ++count;
  }
  out.set_transition_count(count);
  for (const auto& [p, n] : pairs) {
    auto* t = out.add_transitions();
    t->set_from_stage(static_cast<crm::v1::LifecycleStage>(p.first));
    t->set_to_stage(static_cast<crm::v1::LifecycleStage>(p.second));
    t->set_count(n);
  }
  for (int s = 1; s <= 5; ++s) {
    auto* c = out.add_conversions();
    c->set_from_stage(static_cast<crm::v1::LifecycleStage>(s));
    c->set_to_stage(static_cast<crm::v1::LifecycleStage>(s + 1));
    int64_t exits = 0;
    for (const auto& [p, n] : pairs) {
      if (p.first == s) exits += n;
    }
    c->set_exits(exits);
    c->set_converted(Get(pairs, std::make_pair(s, s + 1)));
    c->set_rate(exits == 0 ? 0.0 : static_cast<double>(c->converted()) / exits);
  }
  for (auto& [stage, list] : stays) {
    std::sort(list.begin(), list.end());
    auto* d = out.add_time_in_stage();
    d->set_stage(static_cast<crm::v1::LifecycleStage>(stage));
    d->set_stays(static_cast<int64_t>(list.size()));
    *d->mutable_median() = Nanos(static_cast<__int128>(list[(list.size() - 1) / 2]) * 1'000'000);
  }
  return out;
}

// Appends a currency total; returns its purchase count.
int64_t AddTotal(google::protobuf::RepeatedPtrField<crm::v1::CurrencyTotal>* list,
                 const std::string& currency, const std::pair<int64_t, int64_t>& sum_and_count) {
  auto* total = list->Add();
  total->set_currency_code(currency);
  total->set_total_minor(sum_and_count.first);
  total->set_purchase_count(sum_and_count.second);
  return sum_and_count.second;
}

crm::v1::SalesStats ExpectedSales(const Expected& x, const Scope& scope,
                                  const std::string& product) {
  crm::v1::SalesStats out;
  *out.mutable_scope() = ToScope(scope);
  out.set_product(product);
  auto it = x.sales.find(scope);
  if (it == x.sales.end()) return out;
  std::map<std::string, std::pair<int64_t, int64_t>> all;
  for (const auto& [p, currencies] : it->second) {
    if (!product.empty() && p != product) continue;
    // Sales and refunds that cancel out in the window leave no trace (as the views document).
    bool any = false;
    for (const auto& [currency, t] : currencies) any |= t != std::pair<int64_t, int64_t>(0, 0);
    if (!any) continue;
    auto* ps = out.add_products();
    ps->set_product(p);
    for (const auto& [currency, t] : currencies) {
      if (t == std::pair<int64_t, int64_t>(0, 0)) continue;
      ps->set_purchase_count(ps->purchase_count() + AddTotal(ps->mutable_amounts(), currency, t));
      all[currency].first += t.first;
      all[currency].second += t.second;
    }
    out.set_purchase_count(out.purchase_count() + ps->purchase_count());
  }
  for (const auto& [currency, t] : all) {
    if (t != std::pair<int64_t, int64_t>(0, 0)) AddTotal(out.mutable_amounts(), currency, t);
  }
  return out;
}

// The sales per day, ISO week and month of `zone`: each purchase's local date from the zone's
// broken-down time, labels from strftime.
void ExpectedSalesBuckets(const Expected& x, const Scope& scope, const std::string& product,
                          const absl::TimeZone& zone, crm::v1::SalesStats* out) {
  using Totals = std::map<std::string, std::pair<int64_t, int64_t>>;
  std::map<absl::CivilDay, Totals> days, weeks;
  std::map<absl::CivilMonth, Totals> months;
  auto it = x.sold.find(scope);
  if (it == x.sold.end()) return;
  for (const auto& [at, p, currency, amount, count] : it->second) {
    if (!product.empty() && p != product) continue;
    const absl::CivilDay day(zone.At(at).cs);
    int weekday = 0;
    EXPECT_TRUE(absl::SimpleAtoi(absl::FormatTime("%u", at, zone), &weekday));
    for (Totals* t : {&days[day], &weeks[day - (weekday - 1)], &months[absl::CivilMonth(day)]}) {
      (*t)[currency].first += amount;
      (*t)[currency].second += count;
    }
  }
  auto add = [&](google::protobuf::RepeatedPtrField<crm::v1::SalesBucket>* list, const char* format,
                 absl::Time start, const Totals& totals) {
    bool any = false;
    for (const auto& [currency, t] : totals) any |= t != std::pair<int64_t, int64_t>(0, 0);
    if (!any) return;
    auto* b = list->Add();
    b->set_bucket(absl::FormatTime(format, start, zone));
    *b->mutable_start_time() = Ts(start);
    for (const auto& [currency, t] : totals) {
      if (t == std::pair<int64_t, int64_t>(0, 0)) continue;
      b->set_purchase_count(b->purchase_count() + AddTotal(b->mutable_amounts(), currency, t));
    }
  };
  for (const auto& [d, t] : days) add(out->mutable_days(), "%Y-%m-%d", zone.At(d).pre, t);
  for (const auto& [d, t] : weeks) add(out->mutable_weeks(), "%G-W%V", zone.At(d).pre, t);
  for (const auto& [m, t] : months) add(out->mutable_months(), "%Y-%m", zone.At(m).pre, t);
}

crm::v1::Retention ExpectedRetention(const Expected& x) {
  crm::v1::Retention out;
  for (const auto& [customer, n] : x.purchases_in_window) {
    if (n >= 1) out.set_purchasing_customers(out.purchasing_customers() + 1);
    if (n >= 2) out.set_repeat_customers(out.repeat_customers() + 1);
  }
  out.set_repeat_purchase_rate(out.purchasing_customers() == 0
                                   ? 0.0
                                   : static_cast<double>(out.repeat_customers()) /
                                         out.purchasing_customers());
  out.set_active_at_start(x.active_at_start);
  out.set_registered_in_window(x.registered_in_window);
  out.set_churned(x.churned);
  const int64_t base = x.active_at_start + x.registered_in_window;
  out.set_churn_rate(base == 0 ? 0.0 : static_cast<double>(x.churned) / base);
  return out;
}

crm::v1::ConversionTime ExpectedConversion(const Expected& x, int from, int to) {
  crm::v1::ConversionTime out;
  out.set_from_stage(static_cast<crm::v1::LifecycleStage>(from));
  out.set_to_stage(static_cast<crm::v1::LifecycleStage>(to));
  auto it = x.conversions.find({from, to});
  *out.mutable_durations() = Stats(it == x.conversions.end() ? std::vector<int64_t>() : it->second);
  return out;
}

// ---------------------------------------------------------------------------------------------

MATCHER_P(EqualsProto, expected, "") {
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, arg)) return true;
  *result_listener << diff;
  return false;
}

class BruteForceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    events_ = Generator(20240601).Generate();
    // Redeliver about 1% of the events later in their own stream, as an at-least-once transport
    // may: the folds must skip them.
    harness_.AppendWithRedeliveries(events_, 0.01, 300, 7);
    duplicate_count_ = harness_.redelivered();
  }

  // Both folds over one store, as the lead's composite runs them.
  std::unique_ptr<kv::KvStore> Fold(const std::string& name, size_t max_batch) {
    return harness_.Fold(name, {&analytics_, &segments_}, max_batch);
  }
  static std::map<std::string, std::string> Dump(const kv::KvStore& store) {
    return testing::FoldHarness::Dump(store, {"an/", "sg/"});
  }

  testing::FoldHarness harness_{"brute-force"};
  AnalyticsFold analytics_;
  segment::SegmentFold segments_;
  std::vector<EventEnvelope> events_;
  size_t duplicate_count_ = 0;
};

TEST_F(BruteForceTest, EveryFigureMatchesARecomputationFromTheEvents) {
  const absl::Time started = absl::Now();
  ASSERT_GE(events_.size(), 10'000u);
  auto store = Fold("views", 512);
  const absl::Duration fold_time = absl::Now() - started;

  const Expected x = Recompute(events_, Win{});
  // The generator exercised every path the figures have.
  ASSERT_GT(x.filed, 500);
  ASSERT_GT(x.moves.size(), 500u);
  for (int outcome : {kPending, kMet, kLate, kBreached}) {
    int64_t n = 0;
    for (const auto& [k, count] : x.sla) n += std::get<2>(k) == outcome ? count : 0;
    ASSERT_GT(n, 0) << "no deadline with outcome " << outcome;
  }
  int64_t whole_refunds = 0, partial_refunds = 0;
  for (const EventEnvelope& e : events_) {
    if (!e.has_purchase_refunded()) continue;
    const auto& r = e.purchase_refunded();
    ++(r.refunded_minor() == r.purchase().amount().amount_minor() ? whole_refunds
                                                                  : partial_refunds);
  }
  ASSERT_GT(whole_refunds, 50);
  ASSERT_GT(partial_refunds, 50);
  ASSERT_GT(Get(x.by_status, static_cast<int>(crm::v1::REOPENED)) +
                Get(x.by_status, static_cast<int>(crm::v1::CLOSED)),
            0);

  readmodel::analytics::AnalyticsViews analytics(store.get());
  readmodel::segment::SegmentViews segments(store.get());

  // The tier SLAs: complaints of customers of every tier, VIP ones with the tighter recorded
  // deadlines (the figures use only the recorded due times, checked in every window below).
  for (int tier :
       {crm::events::v1::HIGH_VALUE, crm::events::v1::ORDINARY, crm::events::v1::POTENTIAL_VALUE}) {
    ASSERT_GT(Get(x.filed_per_tier, tier), 10) << "tier " << tier;
  }
  for (absl::Duration d : x.vip_response_windows) ASSERT_EQ(d, absl::Minutes(15));
  for (absl::Duration d : x.other_response_windows) ASSERT_EQ(d, absl::Hours(1));

  // Every analytics figure, for all time and in windows: on the zone's day edges and off them,
  // in zones with whole-hour (and DST), half-hour and quarter-hour offsets, half-open.
  absl::TimeZone new_york, kolkata, kathmandu;
  ASSERT_TRUE(absl::LoadTimeZone("America/New_York", &new_york));
  ASSERT_TRUE(absl::LoadTimeZone("Asia/Kolkata", &kolkata));
  ASSERT_TRUE(absl::LoadTimeZone("Asia/Kathmandu", &kathmandu));
  const absl::Time mid = kStart + absl::Hours(24 * 90) + absl::Hours(7) + absl::Minutes(45);
  const std::vector<Win> windows = {
      {std::nullopt, std::nullopt, absl::UTCTimeZone()},
      {std::nullopt, std::nullopt, kolkata},
      {absl::FromCivil(absl::CivilMonth(2024, 3), kolkata),
       absl::FromCivil(absl::CivilMonth(2024, 4), kolkata), kolkata},
      {absl::FromCivil(absl::CivilDay(2024, 3, 4), new_york),  // across the DST change
       absl::FromCivil(absl::CivilDay(2024, 3, 18), new_york), new_york},
      {mid, mid + absl::Hours(24 * 45) + absl::Minutes(30), kathmandu},
      {mid, std::nullopt, absl::UTCTimeZone()},
      {std::nullopt, mid, kolkata},
  };
  // A window ending in the very quarter hour of a customer's purchase whose previous purchase
  // is inside it: the pair straddles the end and must not count.
  std::vector<Win> edge_windows = windows;
  {
    std::map<std::string, absl::Time> last;
    for (const EventEnvelope& e : events_) {
      if (!e.has_purchase_recorded()) continue;
      const absl::Time at = T(e.occurred_at());
      auto it = last.find(e.customer_id());
      if (it != last.end() && at > kStart + absl::Hours(24 * 100) &&
          it->second < at - absl::Hours(1) && at - it->second < absl::Hours(24 * 20)) {
        const absl::Time end = absl::FromUnixSeconds(absl::ToUnixSeconds(at) / 900 * 900);
        edge_windows.push_back({end - absl::Hours(24 * 30), end, absl::UTCTimeZone()});
        break;
      }
      last[e.customer_id()] = at;
    }
    ASSERT_EQ(edge_windows.size(), windows.size() + 1);
  }
  int64_t windowed_filed = 0;
  for (const Win& w : edge_windows) {
    SCOPED_TRACE(absl::StrCat("window ", w.start ? absl::FormatTime(*w.start) : "-inf", " .. ",
                              w.end ? absl::FormatTime(*w.end) : "+inf", " in ", w.zone.name()));
    const Expected wx = Recompute(events_, w);
    if (w.start && w.end) windowed_filed += wx.filed;
    const auto window = w.ForViews();
    auto stats = analytics.GetComplaintStats(window, w.zone);
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_THAT(*stats,
                EqualsProto(ExpectedComplaintStats(wx, std::nullopt, std::nullopt, w.zone)));

    auto sla = analytics.GetSlaCompliance(window);
    ASSERT_TRUE(sla.ok()) << sla.status();
    EXPECT_THAT(*sla, EqualsProto(ExpectedSla(wx)));

    for (int severity = 0; severity <= 3; ++severity) {
      auto times =
          analytics.GetResponseTimes(static_cast<crm::v1::ComplaintSeverity>(severity), window);
      ASSERT_TRUE(times.ok()) << times.status();
      crm::v1::ResponseTimes expected;
      expected.set_severity(static_cast<crm::v1::ComplaintSeverity>(severity));
      auto list = [](const std::map<int, std::vector<int64_t>>& m, int k) {
        auto it = m.find(k);
        return it == m.end() ? std::vector<int64_t>() : it->second;
      };
      *expected.mutable_first_response() = Stats(list(wx.first_response, severity));
      *expected.mutable_resolution() = Stats(list(wx.resolution, severity));
      EXPECT_THAT(*times, EqualsProto(expected)) << "severity " << severity;
      EXPECT_GT(times->first_response().count(), 0);
    }

    // CSAT and KPIs for everyone and every staff member, team and department seen.
    ASSERT_GT(wx.scopes.size(), 20u);
    for (const auto& scope : wx.scopes) {
      auto satisfaction = analytics.GetSatisfaction(ToScope(scope), window);
      ASSERT_TRUE(satisfaction.ok()) << satisfaction.status();
      EXPECT_THAT(*satisfaction, EqualsProto(ExpectedSatisfaction(wx, scope)))
          << scope.first << " " << scope.second;
      auto kpis = analytics.GetStaffKpis(ToScope(scope), window);
      ASSERT_TRUE(kpis.ok()) << kpis.status();
      EXPECT_THAT(*kpis, EqualsProto(ExpectedKpis(wx, scope)))
          << scope.first << " " << scope.second;
      // Sales of the customers the scope owned, every product and one.
      for (const std::string product : {"", "服务套餐"}) {
        auto sales = analytics.GetSalesStats(ToScope(scope), product, window);
        ASSERT_TRUE(sales.ok()) << sales.status();
        EXPECT_THAT(*sales, EqualsProto(ExpectedSales(wx, scope, product)))
            << scope.first << " " << scope.second << " " << product;
        // With the day, week and month buckets of the window's zone.
        auto series = analytics.GetSalesStats(ToScope(scope), product, window, w.zone);
        ASSERT_TRUE(series.ok()) << series.status();
        crm::v1::SalesStats expected = ExpectedSales(wx, scope, product);
        ExpectedSalesBuckets(wx, scope, product, w.zone, &expected);
        EXPECT_THAT(*series, EqualsProto(expected))
            << scope.first << " " << scope.second << " " << product;
      }
    }

    auto interactions = analytics.GetInteractionStats(window);
    ASSERT_TRUE(interactions.ok()) << interactions.status();
    EXPECT_THAT(*interactions, EqualsProto(ExpectedInteractions(wx)));

    auto causes = analytics.GetRootCauses(window);
    ASSERT_TRUE(causes.ok()) << causes.status();
    EXPECT_THAT(*causes, EqualsProto(ExpectedRootCauses(wx)));

    auto retention = analytics.GetRetention(window);
    ASSERT_TRUE(retention.ok()) << retention.status();
    EXPECT_THAT(*retention, EqualsProto(ExpectedRetention(wx)));
    EXPECT_GT(retention->repeat_customers(), 0);
    EXPECT_GT(retention->churned(), 0);
    if (w.start) {
      EXPECT_GT(retention->active_at_start(), 0);
    }
    auto everyone = analytics.GetSalesStats({}, "", window, w.zone);
    ASSERT_TRUE(everyone.ok());
    EXPECT_GT(everyone->purchase_count(), 0);
    EXPECT_GT(everyone->days_size(), 1);
    EXPECT_GT(everyone->weeks_size(), 1);
    EXPECT_GE(everyone->products_size(), 3);
    auto potential =
        analytics.GetConversionTime(crm::v1::POTENTIAL, crm::v1::FIRST_CONTACT, window);
    ASSERT_TRUE(potential.ok());
    EXPECT_GT(potential->durations().count(), 0);

    for (int from = 1; from <= 7; ++from) {
      for (int to = 1; to <= 7; ++to) {
        if (from == to) continue;
        auto conversion =
            analytics.GetConversionTime(static_cast<crm::v1::LifecycleStage>(from),
                                        static_cast<crm::v1::LifecycleStage>(to), window);
        ASSERT_TRUE(conversion.ok()) << conversion.status();
        EXPECT_THAT(*conversion, EqualsProto(ExpectedConversion(wx, from, to)))
            << from << " -> " << to;
      }
    }
  }
  ASSERT_GT(windowed_filed, 50);

  // The older bucket-only window of GetComplaintStats: every complaint, buckets starting in it.
  for (const auto& [start, end] :
       std::vector<std::pair<std::optional<absl::Time>, std::optional<absl::Time>>>{
           {std::nullopt, std::nullopt},
           {mid, mid + absl::Hours(24 * 45)},
           {std::nullopt, mid},
           {mid, std::nullopt}}) {
    for (const absl::TimeZone& zone : {absl::UTCTimeZone(), kolkata}) {
      const Expected zx = Recompute(events_, Win{std::nullopt, std::nullopt, zone});
      auto stats = analytics.GetComplaintStats({}, zone, start, end);
      ASSERT_TRUE(stats.ok()) << stats.status();
      EXPECT_THAT(*stats, EqualsProto(ExpectedComplaintStats(zx, start, end, zone)));
    }
  }

  // Every customer's value at two evaluation times.
  for (absl::Time as_of : {kStart + absl::Hours(24 * 210), kStart + absl::Hours(24 * 500)}) {
    for (const auto& [id, facts] : x.customers) {
      auto value = segments.GetCustomerValue(id, as_of);
      ASSERT_TRUE(value.ok()) << value.status();
      ASSERT_TRUE(value->has_value()) << id;
      EXPECT_THAT(**value, EqualsProto(ExpectedCustomerValue(id, facts, as_of))) << id;
    }
  }

  auto sizes = segments.GetSegmentSizes();
  ASSERT_TRUE(sizes.ok()) << sizes.status();
  EXPECT_THAT(*sizes, EqualsProto(ExpectedSegmentSizes(x)));

  for (const auto& [start, end] :
       std::vector<std::pair<std::optional<absl::Time>, std::optional<absl::Time>>>{
           {std::nullopt, std::nullopt},
           {mid, mid + absl::Hours(24 * 30)},
           {kStart + absl::Hours(24 * 150), std::nullopt},
           {std::nullopt, kStart + absl::Hours(24 * 60)}}) {
    auto funnel = segments.GetLifecycleFunnel(start, end);
    ASSERT_TRUE(funnel.ok()) << funnel.status();
    EXPECT_THAT(*funnel, EqualsProto(ExpectedFunnel(x, start, end)));
  }

  std::cout << "[ brute force ] " << events_.size() << " events (+" << duplicate_count_
            << " redelivered), " << x.filed << " complaints, " << x.customers.size()
            << " customers, " << x.moves.size() << " lifecycle moves; folded in " << fold_time
            << ", whole test " << (absl::Now() - started) << "\n";
}

// GetImprovementEffect (an improvement action's before/after rates, read from the windowed
// root-cause counters) against a count of the generated resolutions of the cause in each period.
TEST_F(BruteForceTest, ImprovementEffectMatchesARecomputationFromTheEvents) {
  auto store = Fold("views", 512);
  readmodel::analytics::AnalyticsViews analytics(store.get());
  auto count = [&](int cause, absl::Time start, absl::Time end) {
    int64_t n = 0;
    for (const EventEnvelope& e : events_) {
      if (!e.has_complaint_resolved() || e.complaint_resolved().root_cause() != cause) continue;
      const absl::Time at = T(e.occurred_at());
      if (at >= start && at < end) ++n;
    }
    return n;
  };
  auto floor_qh = [](absl::Time t) {
    return absl::FromUnixSeconds(absl::ToUnixSeconds(t) / 900 * 900);
  };
  int64_t nonzero = 0;
  for (int cause = 1; cause <= 8; ++cause) {
    for (const auto& [done_offset, period, now_offset] :
         std::vector<std::tuple<absl::Duration, absl::Duration, absl::Duration>>{
             {absl::Hours(24 * 60) + absl::Minutes(7), absl::Hours(24 * 30), absl::Hours(24 * 400)},
             {absl::Hours(24 * 100) + absl::Minutes(52), absl::Hours(24 * 7),
              absl::Hours(24 * 400)},
             // Not over yet: the period after is cut at the end of now's quarter hour.
             {absl::Hours(24 * 120), absl::Hours(24 * 30),
              absl::Hours(24 * 130) + absl::Minutes(1)},
             {absl::Hours(24 * 45) + absl::Minutes(30), absl::Hours(24), absl::Hours(24 * 400)}}) {
      const absl::Time done = kStart + done_offset;
      const absl::Time now = kStart + now_offset;
      auto effect =
          analytics.GetImprovementEffect(static_cast<crm::v1::RootCause>(cause), done, period, now);
      ASSERT_TRUE(effect.ok()) << effect.status();
      const absl::Time pivot = floor_qh(done);
      const absl::Time after_end = std::min(pivot + period, floor_qh(now) + absl::Minutes(15));
      const int64_t before = count(cause, pivot - period, pivot);
      const int64_t after = count(cause, pivot, after_end);
      SCOPED_TRACE(absl::StrCat("cause ", cause, " done ", absl::FormatTime(done)));
      EXPECT_EQ(T(effect->before().start_time()), pivot - period);
      EXPECT_EQ(T(effect->before().end_time()), pivot);
      EXPECT_EQ(T(effect->after().start_time()), pivot);
      EXPECT_EQ(T(effect->after().end_time()), after_end);
      EXPECT_EQ(effect->before().complaints(), before);
      EXPECT_EQ(effect->after().complaints(), after);
      const double before_rate = before * 30.0 / (absl::ToDoubleHours(period) / 24.0);
      const double after_rate = after * 30.0 / (absl::ToDoubleHours(after_end - pivot) / 24.0);
      EXPECT_DOUBLE_EQ(effect->before().complaints_per_30_days(), before_rate);
      EXPECT_DOUBLE_EQ(effect->after().complaints_per_30_days(), after_rate);
      EXPECT_EQ(effect->has_change(), before > 0);
      if (before > 0) {
        EXPECT_DOUBLE_EQ(effect->change(), after_rate / before_rate - 1.0);
      }
      nonzero += before > 0 && after > 0;
    }
  }
  EXPECT_GT(nonzero, 10) << "the generator resolves too few complaints for a meaningful check";
}

TEST_F(BruteForceTest, RebuildFromZeroIsByteIdentical) {
  auto first = Fold("first", 512);
  auto second = Fold("second", 37);
  const auto a = Dump(*first);
  const auto b = Dump(*second);
  EXPECT_GT(a.size(), 1000u);
  EXPECT_EQ(a.size(), b.size());
  EXPECT_TRUE(a == b) << "the stores differ";
  for (const auto& [key, value] : a) {
    ASSERT_TRUE(key.rfind("an/", 0) == 0 || key.rfind("sg/", 0) == 0) << key;
  }
}

TEST_F(BruteForceTest, ReapplyingEveryRecordWritesNothing) {
  auto store = Fold("views", 512);
  AnalyticsFold analytics;
  segment::SegmentFold segment;
  harness_.ExpectReapplyWritesNothing(*store, {&analytics, &segment}, {"an/", "sg/"});
}

}  // namespace
}  // namespace crm::projections::analytics
