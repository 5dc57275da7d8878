// Scenario files: parsing, with errors that name the field at fault. Torch-free (running scenarios
// is tests/test_scenario.cpp).
#include <nlohmann/json.hpp>

#include "legodnn/scenario/scenario.h"
#include "legodnn/util/error.h"
#include "test_util.h"

using namespace legodnn;
using nlohmann::json;

TEST(Scenario, ParsesAndNamesTheFieldAtFault) {
  json ok = {{"duration_s", 3}, {"memory_mb", 1.5}, {"objective", "maxmin"},
             {"models", {{{"name", "a"}, {"repo", "r"}, {"deadline_ms", 2}}, {{"name", "b"}, {"repo", "/abs"}, {"active", false}}}},
             {"events", {{{"at_s", 2}, {"type", "leave"}, {"model", "a"}}, {{"at_s", 1}, {"type", "arrive"}, {"model", "b"}},
                         {{"at_s", 1.5}, {"type", "cpu_load"}, {"threads", 1}}}}};
  Scenario sc = parse_scenario(ok, "s.json", "/base");
  EXPECT_EQ(sc.objective, Objective::MaxMin);
  EXPECT_EQ(sc.models[0].repo, "/base/r");
  EXPECT_EQ(sc.models[1].repo, "/abs");
  EXPECT_FALSE(sc.models[1].active);
  ASSERT_EQ(sc.events.size(), 3u);  // sorted by time
  EXPECT_EQ(sc.events[0].describe(), "arrive b");
  EXPECT_EQ(sc.events[1].kind, ScenarioEvent::Kind::CpuLoad);
  EXPECT_EQ(sc.events[2].describe(), "leave a");

  auto bad = [&](auto edit, const std::string& expect) {
    json j = ok;
    edit(j);
    EXPECT_THROWS_WITH(parse_scenario(j, "s.json"), OptionError, expect);
  };
  bad([](json& j) { j["events"][0]["type"] = "explode"; }, "events[0].type");
  // Found by fuzz_scenario: a whole number too large for an int was cast (undefined behaviour).
  bad([](json& j) { j["window"] = 3e22; }, "s.json: window: must be a whole number from 1 to 1000000");
  bad([](json& j) { j["window"] = 0; }, "window");
  bad([](json& j) { j["events"][1]["model"] = "zzz"; }, "events[1].model");
  bad([](json& j) { j["models"][0].erase("repo"); }, "models[0].repo");
  bad([](json& j) { j["models"][1]["name"] = "a"; }, "models[1].name");
  bad([](json& j) { j["models"][0]["deadline_ms"] = -1; }, "models[0].deadline_ms");
  bad([](json& j) { j["memory_mb"] = "lots"; }, "memory_mb");
  bad([](json& j) { j["events"][0]["at_s"] = 99; }, "after the end");
  bad([](json& j) { j["objective"] = "best"; }, "objective");
  EXPECT_THROWS_WITH(load_scenario("/nonexistent/s.json"), IoError, "/nonexistent/s.json");
}

TEST(ScenarioParse, ArrivalsAreStaggeredUnlessAligned) {
  auto base = nlohmann::json::parse(R"({"models": [{"name": "a", "repo": "r"}]})");
  EXPECT_FALSE(parse_scenario(base, "s.json").aligned_arrivals);
  base["arrivals"] = "aligned";
  EXPECT_TRUE(parse_scenario(base, "s.json").aligned_arrivals);
  base["arrivals"] = "staggered";
  EXPECT_FALSE(parse_scenario(base, "s.json").aligned_arrivals);
  base["arrivals"] = "random";
  EXPECT_THROWS_WITH(parse_scenario(base, "s.json"), OptionError, "s.json: arrivals: must be \"staggered\" or \"aligned\"");
  base["arrivals"] = 1;
  EXPECT_THROWS_WITH(parse_scenario(base, "s.json"), OptionError, "s.json: arrivals: must be a string");
}
