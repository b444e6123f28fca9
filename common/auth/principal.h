// Principal: who is calling, once authenticated. Made by the Authenticator (authenticator.h) from
// a verified bearer token or a verified client-certificate identity, carried on every call
// (rpc::CallContext::principal) and stamped into the events a command appends (its subject is the
// event's actor).
//
// It carries what authorization needs and nothing it would have to look up again: the kind of
// principal, its scopes, and for a staff member the staff id under which the org chart knows
// them (their role and place in the reporting lines are read from the org chart, not from the
// token, so a reorganisation applies at once).
//
// A value type; thread-compatible.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace crm::auth {

struct Principal {
  enum class Kind {
    // A person of the organisation: `staff_id` names them in the org chart.
    kStaff,
    // A program (an order system, a BI reader, another CRM process): acts by its scopes.
    kService,
  };

  // Who: the token's "sub", or the subject configured for a client-certificate identity. 1 to
  // 128 bytes, no control characters. The actor of the events this principal's commands append.
  std::string subject;
  Kind kind = Kind::kService;
  // What the token grants ("scope", space-separated, or "scp", a list), or the scopes configured
  // for a service identity. Not interpreted by authentication.
  std::vector<std::string> scopes;
  // For kStaff: the staff id of the org chart (the token's "crm_staff_id" claim). Empty otherwise.
  std::string staff_id;

  bool HasScope(absl::string_view scope) const {
    return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
  }
};

// Whether `subject` may be a principal's subject (or a staff id): 1 to 128 bytes, no control
// characters.
inline bool IsValidSubject(absl::string_view subject) {
  if (subject.empty() || subject.size() > 128) return false;
  for (unsigned char c : subject) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// "staff" or "service", as logs and documents spell them.
inline absl::string_view KindName(Principal::Kind kind) {
  return kind == Principal::Kind::kStaff ? "staff" : "service";
}

}  // namespace crm::auth
