// inlinesec: the command-line client of inlinesecd. Each read command sends
// one control request over the daemon's unix socket and prints the reply,
// as JSON with --json or as aligned text (objects as "key  value" lines,
// lists of objects as tables). `events` prints the live stream until
// interrupted (or --count events / --timeout seconds).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "inlinesec/common/guarded_main.h"
#include "inlinesec/gateway/control.h"

namespace {

using nlohmann::json;

std::string Scalar(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    char b[32];
    std::snprintf(b, sizeof(b), "%.3f", v.get<double>());
    return b;
  }
  return v.dump();
}

bool IsTable(const json& v) {
  if (!v.is_array() || v.empty()) return false;
  for (const json& row : v)
    if (!row.is_object()) return false;
  return true;
}

void PrintTable(const json& rows, const std::string& indent) {
  std::vector<std::string> cols;
  for (const json& row : rows) {
    for (auto it = row.begin(); it != row.end(); ++it) {
      if (it->is_structured()) continue;
      bool seen = false;
      for (const std::string& c : cols) seen = seen || c == it.key();
      if (!seen) cols.push_back(it.key());
    }
  }
  std::vector<std::size_t> width(cols.size());
  for (std::size_t i = 0; i < cols.size(); ++i) width[i] = cols[i].size();
  for (const json& row : rows)
    for (std::size_t i = 0; i < cols.size(); ++i)
      if (row.contains(cols[i])) width[i] = std::max(width[i], Scalar(row[cols[i]]).size());
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string s = indent;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      s += cells[i];
      if (i + 1 < cells.size()) s += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    std::printf("%s\n", s.c_str());
  };
  line(cols);
  for (const json& row : rows) {
    std::vector<std::string> cells;
    cells.reserve(cols.size());
    for (const std::string& c : cols) cells.push_back(row.contains(c) ? Scalar(row[c]) : "-");
    line(cells);
  }
}

void PrintText(const json& v, const std::string& indent) {
  if (!v.is_object()) {
    std::printf("%s%s\n", indent.c_str(), Scalar(v).c_str());
    return;
  }
  std::size_t w = 0;
  for (auto it = v.begin(); it != v.end(); ++it) w = std::max(w, it.key().size());
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it->is_object()) {
      std::printf("%s%s:\n", indent.c_str(), it.key().c_str());
      PrintText(*it, indent + "  ");
    } else if (IsTable(*it)) {
      std::printf("%s%s:\n", indent.c_str(), it.key().c_str());
      PrintTable(*it, indent + "  ");
    } else if (it->is_array()) {
      std::printf("%s%s:%s\n", indent.c_str(), it.key().c_str(), it->empty() ? " (none)" : "");
      for (const json& e : *it) std::printf("%s  %s\n", indent.c_str(), Scalar(e).c_str());
    } else {
      std::printf("%s%-*s  %s\n", indent.c_str(), static_cast<int>(w), it.key().c_str(),
                  Scalar(*it).c_str());
    }
  }
}

int Call(const std::string& socket, const std::string& cmd, const std::string& kind, bool as_json) {
  inlinesec::Result<inlinesec::gateway::ControlReply> r =
      inlinesec::gateway::ControlCall(socket, {cmd, kind});
  if (!r.ok()) {
    std::fprintf(stderr, "inlinesec: %s\n", r.status().ToString().c_str());
    return 2;
  }
  if (!r->ok) {
    std::fprintf(stderr, "inlinesec: %s: %s\n", cmd.c_str(), r->error.c_str());
    return 1;
  }
  json data;
  try {
    data = json::parse(r->data_json);
  } catch (const json::exception& e) {
    std::fprintf(stderr, "inlinesec: bad reply: %s\n", e.what());
    return 2;
  }
  if (as_json) {
    std::printf("%s\n", data.dump(2).c_str());
  } else {
    PrintText(data, "");
  }
  return 0;
}

}  // namespace

namespace {

int Run(int argc, char** argv) {
  CLI::App app{"inlinesec: query and control inlinesecd"};
  app.require_subcommand(1);
  std::string socket = "/run/inlinesec/inlinesecd.sock";
  bool as_json = false;
  app.add_option("--socket", socket, "control socket of inlinesecd");
  app.add_flag("--json", as_json, "print replies as JSON");
  const char* kReads[][2] = {
      {"status", "daemon, device and connections"},
      {"sas", "IKE and Child SAs, SA table usage"},
      {"counters", "datapath, exception (per reason), recovery (per decision) and driver counters"},
      {"regs", "engine register dump (bring-up)"},
  };
  std::string chosen;
  for (const auto& r : kReads) {
    CLI::App* sub = app.add_subcommand(r[0], r[1]);
    sub->add_flag("--json", as_json, "print as JSON");
    sub->callback([&chosen, name = std::string(r[0])] { chosen = name; });
  }
  int count = -1;
  double timeout_s = -1;
  CLI::App* events = app.add_subcommand("events", "live event stream (one line per event)");
  events->add_flag("--json", as_json, "print raw JSON lines");
  events->add_option("--count", count, "stop after this many events");
  events->add_option("--timeout", timeout_s, "stop after this many seconds");
  events->callback([&chosen] { chosen = "events"; });
  std::string fault_kind;
  CLI::App* fault = app.add_subcommand("fault", "inject a fault (needs allow_faults)");
  fault->add_option("kind", fault_kind, "reset | reset-behind | flush | lose-child")->required();
  fault->add_flag("--json", as_json, "print as JSON");
  fault->callback([&chosen] { chosen = "fault"; });
  CLI::App* ike = app.add_subcommand("ike", "act on the IKE stack (every matching SA)");
  ike->add_option("action", fault_kind,
                  "rekey-child | rekey-ike | delete-child | delete-ike | initiate")
      ->required();
  ike->add_flag("--json", as_json, "print as JSON");
  ike->callback([&chosen] { chosen = "ike"; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (chosen != "events") return Call(socket, chosen, fault_kind, as_json);

  int seen = 0;
  const int timeout_ms = timeout_s < 0 ? -1 : static_cast<int>(timeout_s * 1000);
  inlinesec::Status st = inlinesec::gateway::ControlStream(
      socket,
      [&](const std::string& ev) {
        if (as_json) {
          std::printf("%s\n", ev.c_str());
        } else {
          try {
            const json j = json::parse(ev);
            std::string line = j.value("type", std::string("event"));
            for (auto it = j.begin(); it != j.end(); ++it)
              if (it.key() != "type" && it.key() != "line")
                line += " " + it.key() + "=" + Scalar(*it);
            std::printf("%s\n", line.c_str());
          } catch (const json::exception&) {
            std::printf("%s\n", ev.c_str());
          }
        }
        std::fflush(stdout);
        return count < 0 || ++seen < count;
      },
      timeout_ms);
  if (!st.ok()) {
    std::fprintf(stderr, "inlinesec: %s\n", st.ToString().c_str());
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return inlinesec::GuardedMain("inlinesec", [&] { return Run(argc, argv); });
}
