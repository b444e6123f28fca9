#include "common/backup/manifest.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace crm::backup {

absl::Status WriteManifest(const std::string& dir, const Manifest& manifest) {
  const nlohmann::json json = {
      {"name", manifest.name},
      {"create_time", manifest.create_time},
      {"stores", manifest.stores},
      {"consistency_token", manifest.consistency_token},
  };
  const std::string path = (std::filesystem::path(dir) / kManifestFile).string();
  std::ofstream out(path, std::ios::trunc);
  out << json.dump(2) << "\n";
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<Manifest> ReadManifest(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / kManifestFile).string();
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no readable ", path));
  const nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::DataLossError(absl::StrCat(path, " is not a backup manifest"));
  }
  Manifest manifest;
  manifest.name = json.value("name", std::string());
  manifest.create_time = json.value("create_time", std::string());
  if (json.contains("stores") && json["stores"].is_array()) {
    for (const auto& store : json["stores"]) {
      if (store.is_string()) manifest.stores.push_back(store.get<std::string>());
    }
  }
  manifest.consistency_token = json.value("consistency_token", std::string());
  return manifest;
}

}  // namespace crm::backup
