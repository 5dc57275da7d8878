#include "legodnn/graph/graph_json.h"

#include <functional>
#include <queue>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "legodnn/util/error.h"

namespace legodnn {
using nlohmann::json;

namespace {
constexpr int kGraphVersion = 1;

json attr_to_json(const AttrValue& v) {
  return std::visit([](const auto& x) { return json(x); }, v);
}

AttrValue attr_from_json(const json& j, const std::string& where) {
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number_float()) return j.get<double>();
  if (j.is_string()) return j.get<std::string>();
  if (j.is_array()) {
    std::vector<int64_t> v;
    for (const auto& e : j) {
      if (!e.is_number_integer()) throw GraphError(where + ": list attributes must hold integers");
      v.push_back(e.get<int64_t>());
    }
    return v;
  }
  if (j.is_boolean()) return static_cast<int64_t>(j.get<bool>());
  throw GraphError(where + ": unsupported attribute value " + j.dump());
}
}  // namespace

json graph_to_json(const Graph& g) {
  json nodes = json::array();
  for (const auto& n : g.nodes()) {
    json attrs = json::object();
    for (const auto& [k, v] : n.attrs) attrs[k] = attr_to_json(v);
    nodes.push_back({{"name", n.name}, {"op", op_name(n.op)}, {"inputs", n.inputs}, {"attrs", attrs}});
  }
  return {{"format", "legodnn-graph"}, {"version", kGraphVersion}, {"output", g.output()},
          {"nodes", nodes}};
}

Graph graph_from_json(const json& j, const std::string& source) {
  try {
    if (!j.is_object() || !j.contains("nodes") || !j["nodes"].is_array())
      throw GraphError(source + ": field 'nodes' is missing or not a list");
    int version = j.value("version", kGraphVersion);
    if (version > kGraphVersion)
      throw GraphError(source + ": field 'version' is " + std::to_string(version) +
                       ", newer than the supported " + std::to_string(kGraphVersion));
    std::vector<Node> nodes;
    std::unordered_map<std::string, int> where;
    for (const auto& jn : j["nodes"]) {
      Node n;
      if (!jn.contains("name") || !jn["name"].is_string())
        throw GraphError(source + ": node #" + std::to_string(nodes.size()) + " has no 'name'");
      n.name = jn["name"].get<std::string>();
      std::string ctx = source + ": node '" + n.name + "'";
      if (!jn.contains("op") || !jn["op"].is_string()) throw GraphError(ctx + " has no 'op'");
      n.op = op_from_name(jn["op"].get<std::string>(), n.name);
      const json inputs = jn.value("inputs", json::array());
      for (const auto& in : inputs) n.inputs.push_back(in.get<std::string>());
      const json attrs = jn.value("attrs", json::object());
      for (const auto& [k, v] : attrs.items()) n.attrs[k] = attr_from_json(v, ctx + " attribute '" + k + "'");
      if (where.count(n.name)) throw GraphError(ctx + ": the name is used twice");
      where[n.name] = static_cast<int>(nodes.size());
      nodes.push_back(std::move(n));
    }
    // Kahn's algorithm taking the lowest file index among the ready nodes, so a file that is
    // already in topological order keeps its order exactly.
    std::vector<int> pending(nodes.size());
    std::vector<std::vector<int>> readers(nodes.size());
    for (size_t k = 0; k < nodes.size(); ++k) {
      for (const auto& in : nodes[k].inputs) {
        auto it = where.find(in);
        if (it == where.end())
          throw GraphError(source + ": node '" + nodes[k].name + "' reads '" + in +
                           "', which is no node of the graph (dangling edge)");
        readers[it->second].push_back(static_cast<int>(k));
        ++pending[k];
      }
    }
    std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
    for (size_t k = 0; k < nodes.size(); ++k)
      if (!pending[k]) ready.push(static_cast<int>(k));
    Graph g;
    std::vector<char> done(nodes.size(), 0);
    while (!ready.empty()) {
      int k = ready.top();
      ready.pop();
      done[k] = 1;
      for (int r : readers[k])
        if (--pending[r] == 0) ready.push(r);
      g.add(nodes[k]);
    }
    for (size_t k = 0; k < nodes.size(); ++k)
      if (!done[k])
        throw GraphError(source + ": node '" + nodes[k].name + "' lies on a cycle");
    if (j.contains("output")) g.set_output(j["output"].get<std::string>());
    g.validate();
    return g;
  } catch (const GraphError& e) {
    std::string msg = e.what();
    if (msg.rfind(source, 0) == 0) throw;
    throw GraphError(source + ": " + msg);
  } catch (const json::exception& e) {
    throw GraphError(source + ": " + e.what());
  }
}

Graph model_graph_from_json(const json& doc, const std::string& source, json* meta) {
  if (!doc.is_object()) throw IoError(source + ": expected a JSON object, got " + doc.type_name());
  if (doc.value("format", json()) != "legodnn-model")
    throw IoError(source + ": field 'format' must be \"legodnn-model\"");
  const json version = doc.value("version", json(0));
  if (!version.is_number_integer())
    throw IoError(source + ": field 'version' must be an integer, got " + version.dump());
  if (version.get<int64_t>() > kModelVersion)
    throw IoError(source + ": field 'version' is " + version.dump() + ", newer than the supported " +
                  std::to_string(kModelVersion));
  if (!doc.contains("graph")) throw IoError(source + ": field 'graph' is missing");
  Graph g = graph_from_json(doc["graph"], source);
  if (meta) *meta = doc.value("meta", json::object());
  return g;
}

}  // namespace legodnn
