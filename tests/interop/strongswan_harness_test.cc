// The strongSwan harness proves itself before any inlinesec peer relies on
// it: two charon instances in two namespaces, driven over vici, establish an
// IKE SA and a Child SA, and a ping between the inner addresses crosses
// kernel-libipsec's ESP both ways. The same setup is the reference for the
// IKE benchmark's strongSwan ceiling.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <utility>

#include "netns.h"
#include "process.h"
#include "strongswan_peer.h"
#include "wait.h"

namespace inlinesec::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(StrongswanHarness, TwoCharonsEstablishAndPassPingThroughLibipsec) {
  const std::string why = StrongswanUnavailableReason();
  if (!why.empty()) GTEST_SKIP() << why;
  if (!HaveProgram("ping")) GTEST_SKIP() << "ping (iputils-ping) not installed";

  auto a = NetNs::Create(UniqueNsName("swa"));
  auto b = NetNs::Create(UniqueNsName("swb"));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(AddVethPair(*a, "veth-a", "192.168.77.1/24", *b, "veth-b", "192.168.77.2/24").ok());
  ASSERT_TRUE(a->Ip({"addr", "add", "10.1.0.1/32", "dev", "lo"}).ok());
  ASSERT_TRUE(b->Ip({"addr", "add", "10.2.0.1/32", "dev", "lo"}).ok());

  const std::string base = "/tmp/" + UniqueNsName("swharness");
  auto pa = StrongswanPeer::Start(*a, base + "/a", seconds(10));
  ASSERT_TRUE(pa.ok()) << pa.status().ToString();
  auto pb = StrongswanPeer::Start(*b, base + "/b", seconds(10));
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();

  const std::string psk = "0x" + std::string(64, 'a');
  auto conn = [](std::string local, std::string remote, std::string lid, std::string rid,
                 std::string lts, std::string rts) {
    ConnConfig c;
    c.local_addr = std::move(local);
    c.remote_addr = std::move(remote);
    c.local_id = std::move(lid);
    c.remote_id = std::move(rid);
    ChildConfig child;
    child.local_ts = {std::move(lts)};
    child.remote_ts = {std::move(rts)};
    c.children = {child};
    return c;
  };
  const ConnConfig ca =
      conn("192.168.77.1", "192.168.77.2", "a@test", "b@test", "10.1.0.1/32", "10.2.0.1/32");
  const ConnConfig cb =
      conn("192.168.77.2", "192.168.77.1", "b@test", "a@test", "10.2.0.1/32", "10.1.0.1/32");
  ASSERT_TRUE((*pa)->LoadPsk("a@test", "b@test", psk).ok());
  ASSERT_TRUE((*pb)->LoadPsk("b@test", "a@test", psk).ok());
  Status st = (*pa)->LoadConn(ca);
  ASSERT_TRUE(st.ok()) << st.ToString();
  st = (*pb)->LoadConn(cb);
  ASSERT_TRUE(st.ok()) << st.ToString();

  st = (*pa)->Initiate("c", seconds(10));
  ASSERT_TRUE(st.ok()) << st.ToString() << " (see " << (*pa)->log_path() << ")";
  auto children = (*pb)->InstalledChildren();
  ASSERT_TRUE(children.ok()) << children.status().ToString();
  EXPECT_EQ(*children, 1);

  // kernel-libipsec installs its route a moment after the Child SA; wait for
  // the first echo reply (bounded), then require three in a row.
  EXPECT_TRUE(WaitFor(
      [&] {
        return a->Run({"ping", "-c", "1", "-W", "1", "-I", "10.1.0.1", "10.2.0.1"}) == 0;
      },
      seconds(10), milliseconds(50)));
  std::string out;
  EXPECT_EQ(a->Run({"ping", "-c", "3", "-i", "0.2", "-W", "1", "-I", "10.1.0.1", "10.2.0.1"}, &out),
            0)
      << out;
  EXPECT_EQ(b->Run({"ping", "-c", "3", "-i", "0.2", "-W", "1", "-I", "10.2.0.1", "10.1.0.1"}, &out),
            0)
      << out;

  // A graceful stop deletes the SAs at the peer: B sees no Child SA left.
  (*pa)->Stop(SIGTERM);
  EXPECT_TRUE(WaitFor(
      [&] {
        auto n = (*pb)->InstalledChildren();
        return n.ok() && *n == 0;
      },
      seconds(10), milliseconds(50)));
  std::error_code ec;
  pa->reset();
  pb->reset();
  std::filesystem::remove_all(base, ec);
}

}  // namespace
}  // namespace inlinesec::testing
