// Who holds a row, for authorization (common/auth/grant.h): the staff ids whose reach covers it.
// One definition for the command side (services/command kinds) and the query side (the query
// services), so a command and a read agree on who may touch a row.
//
//   customer      its owner
//   complaint     its assignee and the person it was escalated to, and its customer's owner
//   interaction   its staff member, and its customer's owner
//   survey        the staff member who sent it, and its customer's owner
// The customer's owner is added by the caller, who knows how to look the customer up.
//
// Thread-safe: pure functions.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "crm/v1/complaint.pb.h"
#include "crm/v1/customer.pb.h"
#include "crm/v1/interaction.pb.h"
#include "crm/v1/survey.pb.h"

namespace crm::services::access {

// The holders of customer `customer_id` as the side that reads rows has it (its owner; none if
// unknown): what complaints and interactions add to their own holders.
using CustomerHolders = std::function<std::vector<std::string>(absl::string_view customer_id)>;

inline std::vector<std::string> HoldersOf(const crm::v1::Customer& customer) {
  return {customer.owner()};
}

inline std::vector<std::string> HoldersOf(const crm::v1::Complaint& complaint) {
  return {complaint.assignee().staff_id(), complaint.escalated_to().staff_id()};
}

inline std::vector<std::string> HoldersOf(const crm::v1::Interaction& interaction) {
  return {interaction.staff_id()};
}

inline std::vector<std::string> HoldersOf(const crm::v1::Survey& survey) {
  return {survey.staff_id()};
}

}  // namespace crm::services::access
