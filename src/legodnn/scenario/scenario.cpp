#include "legodnn/scenario/scenario.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "legodnn/util/error.h"
#include "legodnn/util/format.h"

namespace legodnn {
namespace {

[[noreturn]] void fail(const std::string& source, const std::string& field, const std::string& what) {
  throw OptionError(source + ": " + field + ": " + what);
}

double number(const nlohmann::json& j, const char* key, double fallback, const std::string& source,
              const std::string& where, bool allow_inf = false) {
  if (!j.contains(key)) return fallback;
  const auto& v = j.at(key);
  if (!v.is_number()) fail(source, where + key, "must be a number, got " + v.dump());
  double d = v.get<double>();
  if (std::isnan(d) || d < 0 || (!allow_inf && std::isinf(d)))
    fail(source, where + key, "must be a non-negative number, got " + v.dump());
  return d;
}

std::string text(const nlohmann::json& j, const char* key, const std::string& source, const std::string& where,
                 bool required) {
  if (!j.contains(key)) {
    if (required) fail(source, where + key, "is missing");
    return "";
  }
  if (!j.at(key).is_string()) fail(source, where + key, "must be a string, got " + j.at(key).dump());
  return j.at(key).get<std::string>();
}

std::string resolve(const std::string& path, const std::string& base) {
  if (path.empty() || base.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base) / path).lexically_normal().string();
}

}  // namespace

std::string ScenarioEvent::describe() const {
  std::ostringstream s;
  switch (kind) {
    case Kind::Memory: s << "memory " << value << " MB"; break;
    case Kind::Deadline: s << "deadline " << model << " " << value << " ms"; break;
    case Kind::Arrive: s << "arrive " << model; break;
    case Kind::Leave: s << "leave " << model; break;
    case Kind::CpuLoad: s << (value > 0 ? "cpu load on " : "cpu load off") ; if (value > 0) s << value; break;
  }
  return s.str();
}

Scenario parse_scenario(const nlohmann::json& j, const std::string& source, const std::string& base_dir) {
  if (!j.is_object()) fail(source, "(top level)", "must be a JSON object");
  Scenario sc;
  sc.name = j.contains("name") ? text(j, "name", source, "", false) : std::filesystem::path(source).stem().string();
  sc.duration_s = number(j, "duration_s", sc.duration_s, source, "");
  sc.step_s = number(j, "step_s", sc.step_s, source, "");
  if (sc.duration_s <= 0) fail(source, "duration_s", "must be positive");
  if (sc.step_s <= 0) fail(source, "step_s", "must be positive");
  sc.memory_mb = number(j, "memory_mb", sc.memory_mb, source, "", true);
  std::string obj = j.contains("objective") ? text(j, "objective", source, "", false) : "sum";
  if (obj == "sum") sc.objective = Objective::Sum;
  else if (obj == "maxmin") sc.objective = Objective::MaxMin;
  else fail(source, "objective", "must be \"sum\" or \"maxmin\", got \"" + obj + "\"");
  if (j.contains("processor_share")) {
    if (!j.at("processor_share").is_boolean()) fail(source, "processor_share", "must be true or false");
    sc.processor_share = j.at("processor_share").get<bool>();
  }
  if (j.contains("arrivals")) {
    const std::string a = text(j, "arrivals", source, "", false);
    if (a != "staggered" && a != "aligned") fail(source, "arrivals", "must be \"staggered\" or \"aligned\", got \"" + a + "\"");
    sc.aligned_arrivals = a == "aligned";
  }
  double window = number(j, "window", sc.window, source, "");
  // Bounded before the cast: a larger double does not fit an int (found by the scenario fuzzer).
  if (!(window >= 1 && window <= 1e6) || window != std::floor(window))
    fail(source, "window", "must be a whole number from 1 to 1000000");
  sc.window = static_cast<int>(window);

  if (!j.contains("models") || !j.at("models").is_array() || j.at("models").empty())
    fail(source, "models", "must be a non-empty array");
  std::set<std::string> names;
  for (size_t i = 0; i < j.at("models").size(); ++i) {
    const auto& mj = j.at("models")[i];
    const std::string where = "models[" + std::to_string(i) + "].";
    if (!mj.is_object()) fail(source, where.substr(0, where.size() - 1), "must be an object");
    ScenarioModel m;
    m.name = text(mj, "name", source, where, true);
    if (m.name.empty() || !names.insert(m.name).second) fail(source, where + "name", "must be unique and not empty");
    m.repo = resolve(text(mj, "repo", source, where, true), base_dir);
    m.baseline = resolve(text(mj, "baseline", source, where, false), base_dir);
    m.data = resolve(text(mj, "data", source, where, false), base_dir);
    m.deadline_ms = number(mj, "deadline_ms", m.deadline_ms, source, where, true);
    m.weight = number(mj, "weight", m.weight, source, where);
    m.rate_hz = number(mj, "rate_hz", m.rate_hz, source, where);
    if (mj.contains("active")) {
      if (!mj.at("active").is_boolean()) fail(source, where + "active", "must be true or false");
      m.active = mj.at("active").get<bool>();
    }
    sc.models.push_back(m);
  }
  if (j.contains("events")) {
    if (!j.at("events").is_array()) fail(source, "events", "must be an array");
    for (size_t i = 0; i < j.at("events").size(); ++i) {
      const auto& ej = j.at("events")[i];
      const std::string where = "events[" + std::to_string(i) + "].";
      if (!ej.is_object()) fail(source, where.substr(0, where.size() - 1), "must be an object");
      ScenarioEvent e;
      if (!ej.contains("at_s")) fail(source, where + "at_s", "is missing");
      e.at_s = number(ej, "at_s", 0, source, where);
      std::string type = text(ej, "type", source, where, true);
      auto need_model = [&] {
        e.model = text(ej, "model", source, where, true);
        if (!names.count(e.model)) fail(source, where + "model", "names no model of the scenario: \"" + e.model + "\"");
      };
      if (type == "memory") {
        e.kind = ScenarioEvent::Kind::Memory;
        if (!ej.contains("memory_mb")) fail(source, where + "memory_mb", "is missing");
        e.value = number(ej, "memory_mb", 0, source, where, true);
      } else if (type == "deadline") {
        e.kind = ScenarioEvent::Kind::Deadline;
        need_model();
        if (!ej.contains("deadline_ms")) fail(source, where + "deadline_ms", "is missing");
        e.value = number(ej, "deadline_ms", 0, source, where, true);
      } else if (type == "arrive" || type == "leave") {
        e.kind = type == "arrive" ? ScenarioEvent::Kind::Arrive : ScenarioEvent::Kind::Leave;
        need_model();
      } else if (type == "cpu_load") {
        e.kind = ScenarioEvent::Kind::CpuLoad;
        double threads = number(ej, "threads", 1, source, where);
        if (threads != std::floor(threads) || threads > 64) fail(source, where + "threads", "must be a whole number 0..64");
        e.value = threads;
      } else {
        fail(source, where + "type", "must be memory, deadline, arrive, leave or cpu_load, got \"" + type + "\"");
      }
      if (e.at_s > sc.duration_s) fail(source, where + "at_s", "is after the end of the scenario (duration_s)");
      sc.events.push_back(e);
    }
  }
  std::stable_sort(sc.events.begin(), sc.events.end(),
                   [](const ScenarioEvent& a, const ScenarioEvent& b) { return a.at_s < b.at_s; });
  return sc;
}

Scenario load_scenario(const std::string& path) {
  const nlohmann::json j = read_json_file(path);
  return parse_scenario(j, path, std::filesystem::path(path).parent_path().string());
}

}  // namespace legodnn
