#include "common/base/process_stat.h"

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace crm::base {
namespace {

// Seconds since the epoch at boot ("btime" of /proc/stat), or nullopt.
std::optional<int64_t> BootTime() {
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    int64_t boot = 0;
    if (absl::ConsumePrefix(&rest, "btime ") && absl::SimpleAtoi(rest, &boot)) return boot;
  }
  return std::nullopt;
}

}  // namespace

ProcessStat ReadProcessStat() {
  ProcessStat out;
  std::ifstream in("/proc/self/stat");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The fields after the command name's ')': field 3 (state) onwards (man 5 proc).
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 > text.size()) return out;
  const std::vector<std::string> fields = absl::StrSplit(text.substr(paren + 2), ' ');
  auto field = [&](int n) -> double {  // n: 1-based field number of man 5 proc
    double v = 0;
    if (n - 3 < static_cast<int>(fields.size())) (void)absl::SimpleAtod(fields[n - 3], &v);
    return v;
  };
  const long hz = sysconf(_SC_CLK_TCK);
  if (hz <= 0) return out;
  out.cpu_seconds = (field(14) + field(15)) / static_cast<double>(hz);
  out.virtual_bytes = field(23);
  out.resident_bytes = field(24) * static_cast<double>(sysconf(_SC_PAGESIZE));
  static const std::optional<int64_t> boot = BootTime();
  if (boot.has_value()) {
    out.start_time = absl::FromUnixSeconds(*boot) +
                     absl::Milliseconds(static_cast<int64_t>(field(22)) * 1000 / hz);
  }
  return out;
}

}  // namespace crm::base
