// strongSwan charon lifecycle and configuration over vici for interop tests.
#include "strongswan_peer.h"

#include <csignal>
#include <filesystem>
#include <fstream>

#include "wait.h"

namespace inlinesec::testing {

std::string StrongswanUnavailableReason() {
  if (!HaveProgram(kCharonPath))
    return "strongSwan charon not installed (" + std::string(kCharonPath) + ")";
  if (!std::filesystem::exists("/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so")) {
    return "strongSwan kernel-libipsec plugin not installed (libcharon-extra-plugins)";
  }
  if (!std::filesystem::exists("/dev/net/tun")) return "no /dev/net/tun for kernel-libipsec";
  return NetNsUnavailableReason();
}

Result<std::unique_ptr<StrongswanPeer>> StrongswanPeer::Start(const NetNs& ns,
                                                              const std::string& dir,
                                                              std::chrono::milliseconds timeout) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir + "/run", ec);
  if (ec) return Status(Code::kInternal, "cannot create " + dir + ": " + ec.message());
  const std::string conf = dir + "/strongswan.conf";
  {
    std::ofstream f(conf);
    f << "charon {\n"
         "  load = random nonce kdf openssl pem pkcs1 x509 revocation constraints pubkey "
         "kernel-libipsec kernel-netlink socket-default vici updown\n"
         "  install_routes = yes\n"
         "  retransmit_tries = 3\n"
         "  filelog {\n"
         "    log {\n"
         "      path = "
      << dir
      << "/charon.log\n"
         "      default = 1\n"
         "      ike = 2\n"
         "      time_format = %T\n"
         "      flush_line = yes\n"
         "    }\n"
         "  }\n"
         "  plugins {\n"
         "    vici {\n"
         "      socket = unix://"
      << dir
      << "/run/charon.vici\n"
         "    }\n"
         "  }\n"
         "}\n";
    if (!f) return Status(Code::kInternal, "cannot write " + conf);
  }
  std::unique_ptr<StrongswanPeer> peer(new StrongswanPeer());
  peer->dir_ = dir;
  peer->log_path_ = dir + "/charon.log";
  auto proc = Process::Spawn(
      ns.Exec(
          {"bash", "-c", "mount --bind " + dir + "/run /run && exec " + std::string(kCharonPath)}),
      {"STRONGSWAN_CONF=" + conf}, dir + "/stdout.log");
  if (!proc.ok()) return proc.status();
  peer->charon_ = std::move(proc).value();
  auto vici = ViciClient::Connect(dir + "/run/charon.vici", timeout);
  if (!vici.ok()) {
    return Status(vici.status().code(),
                  vici.status().message() + " (charon log: " + peer->log_path_ + ")");
  }
  peer->vici_ = std::move(vici).value();
  return peer;
}

StrongswanPeer::~StrongswanPeer() { Stop(SIGKILL); }

void StrongswanPeer::Stop(int sig) { charon_.Stop(sig, std::chrono::seconds(5)); }

Status StrongswanPeer::LoadPsk(const std::string& local_id, const std::string& remote_id,
                               const std::string& secret) {
  ViciWriter w;
  w.Kv("type", "IKE").Kv("data", secret).List("owners", {local_id, remote_id});
  return vici_.Command("load-shared", w, std::chrono::seconds(5));
}

Status StrongswanPeer::LoadConn(const ConnConfig& c) {
  ViciWriter w;
  w.Begin(c.name);
  w.Kv("version", "2");
  w.List("local_addrs", {c.local_addr}).List("remote_addrs", {c.remote_addr});
  w.List("proposals", {c.proposal});
  if (!c.rekey_time.empty()) w.Kv("rekey_time", c.rekey_time);
  if (!c.dpd_delay.empty()) w.Kv("dpd_delay", c.dpd_delay);
  w.Begin("local").Kv("auth", "psk").Kv("id", c.local_id).End();
  w.Begin("remote").Kv("auth", "psk").Kv("id", c.remote_id).End();
  w.Begin("children");
  for (const auto& ch : c.children) {
    w.Begin(ch.name);
    w.List("local_ts", ch.local_ts).List("remote_ts", ch.remote_ts);
    w.List("esp_proposals", {ch.esp_proposal});
    w.Kv("mode", ch.mode).Kv("start_action", ch.start_action);
    if (!ch.rekey_time.empty()) w.Kv("rekey_time", ch.rekey_time);
    w.End();
  }
  w.End();
  w.End();
  return vici_.Command("load-conn", w, std::chrono::seconds(5));
}

Status StrongswanPeer::Initiate(const std::string& child, std::chrono::milliseconds timeout) {
  ViciWriter w;
  w.Kv("child", child).Kv("timeout", std::to_string(timeout.count()));
  return vici_.Command("initiate", w, timeout + std::chrono::seconds(2));
}

Result<std::vector<ViciSection>> StrongswanPeer::ListSas() {
  std::vector<ViciSection> events;
  auto r = vici_.Request("list-sas", ViciWriter(), std::chrono::seconds(5), "list-sa", &events);
  if (!r.ok()) return r.status();
  return events;
}

Result<int> StrongswanPeer::InstalledChildren() {
  auto sas = ListSas();
  if (!sas.ok()) return sas.status();
  int n = 0;
  for (const auto& ev : *sas) {
    for (const auto& [ike_name, ike] : ev.sections) {
      const ViciSection* children = ike.Section("child-sas");
      if (children == nullptr) continue;
      for (const auto& [child_name, child] : children->sections) {
        if (child.Get("state") == "INSTALLED") ++n;
      }
    }
  }
  return n;
}

}  // namespace inlinesec::testing
