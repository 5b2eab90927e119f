// EAL start-up and cryptodev opening for tests and benchmarks (dpdk_eal.h).
#define ALLOW_EXPERIMENTAL_API 1

#include "dpdk_eal.h"

#include <rte_cryptodev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace inlinesec::dpdk_ref {

namespace {

std::string& RuntimeDirPrefix() {
  static std::string prefix;
  return prefix;
}

std::vector<std::uint8_t>& StartedCryptoDevs() {
  static std::vector<std::uint8_t> devs;
  return devs;
}

void ReleaseEal() {
  const std::string dir = rte_eal_get_runtime_dir();
  for (std::uint8_t id : StartedCryptoDevs()) rte_cryptodev_stop(id);
  rte_eal_cleanup();
  // Only ever the directory this process named, never another's.
  if (!RuntimeDirPrefix().empty() && dir.find(RuntimeDirPrefix()) != std::string::npos) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
}

}  // namespace

bool StartEal(const EalOptions& options, std::string& why) {
  if (!RuntimeDirPrefix().empty()) {
    why = "EAL was already started in this process";
    return false;
  }
  const std::string prefix = "inlinesec-" + options.tag + "-" + std::to_string(::getpid());
  std::vector<std::string> args = {options.program,
                                   "--no-huge",
                                   "-m",
                                   std::to_string(options.memory_mb),
                                   "--no-pci",
                                   "-l",
                                   "0",
                                   "--no-shconf",
                                   "--file-prefix=" + prefix,
                                   "--log-level=lib.eal:error",
                                   "--log-level=pmd.*:error"};
  for (const std::string& v : options.vdevs) args.push_back("--vdev=" + v);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    why = "rte_eal_init failed: " + std::string(rte_strerror(rte_errno));
    return false;
  }
  RuntimeDirPrefix() = prefix;
  // Both lists exist before the exit handler is registered, so they are
  // destroyed only after it ran.
  (void)StartedCryptoDevs();
  std::atexit(ReleaseEal);
  return true;
}

bool OpenCryptoDev(const std::string& name, CryptoDev& dev, std::string& why,
                   const CryptoDevPools& pools) {
  const int id = rte_cryptodev_get_dev_id(name.c_str());
  if (id < 0) {
    why = "no cryptodev " + name + " (vdev missing or its PMD not installed)";
    return false;
  }
  dev.id = static_cast<std::uint8_t>(id);
  const int socket = rte_cryptodev_socket_id(dev.id);
  const int sock = socket < 0 ? 0 : socket;
  const unsigned sess_size = rte_cryptodev_sym_get_private_session_size(dev.id);
  const std::string sp = "ref_sess_" + name;
  const std::string op = "ref_ops_" + name;
  dev.sessions =
      rte_cryptodev_sym_session_pool_create(sp.c_str(), pools.sessions, sess_size, 0, 0, sock);
  dev.ops =
      rte_crypto_op_pool_create(op.c_str(), RTE_CRYPTO_OP_TYPE_SYMMETRIC, pools.ops, 0, 64, sock);
  if (dev.sessions == nullptr || dev.ops == nullptr) {
    why = "cannot create cryptodev pools for " + name;
    return false;
  }
  rte_cryptodev_config conf{};
  conf.socket_id = sock;
  conf.nb_queue_pairs = 1;
  rte_cryptodev_qp_conf qp{};
  qp.nb_descriptors = pools.descriptors;
  qp.mp_session = dev.sessions;
  if (rte_cryptodev_configure(dev.id, &conf) != 0 ||
      rte_cryptodev_queue_pair_setup(dev.id, 0, &qp, sock) != 0 ||
      rte_cryptodev_start(dev.id) != 0) {
    why = "cannot configure/start cryptodev " + name;
    return false;
  }
  StartedCryptoDevs().push_back(dev.id);
  return true;
}

}  // namespace inlinesec::dpdk_ref
