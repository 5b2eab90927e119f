// Two inlinesec peers in one process (tests/ike_pair/pair_harness.h): every
// exchange in both roles, loss, duplication, reordering, NAT, fragmentation,
// cookies, INVALID_KE retry, rekeys and their collisions (RFC 7296 §2.8.1,
// §2.8.2), DPD, INVALID_SPI and INITIAL_CONTACT, all on simulated time.
#include <gtest/gtest.h>

#include "inlinesec/common/byte_reader.h"
#include "pair_harness.h"

namespace inlinesec::ike::testing {
namespace {

using std::chrono::seconds;

void Establish(Pair& p) {
  ASSERT_TRUE(p.a.stack->Initiate("site").ok());
  p.Pump();
  ASSERT_EQ(p.a.Established().size(), 1u);
  ASSERT_EQ(p.b.Established().size(), 1u);
}

TEST(IkePairTest, EstablishesIkeAndFirstChild) {
  Pair p;
  Establish(p);
  EXPECT_EQ(p.log.size(), 4u);  // IKE_SA_INIT and IKE_AUTH, request + response
  ASSERT_EQ(p.a.stack->ChildSas().size(), 1u);
  ASSERT_EQ(p.b.stack->ChildSas().size(), 1u);
  const ChildSaInfo ca = p.a.stack->ChildSas()[0];
  const ChildSaInfo cb = p.b.stack->ChildSas()[0];
  EXPECT_EQ(ca.spi_in, cb.spi_out);
  EXPECT_EQ(ca.spi_out, cb.spi_in);
  EXPECT_EQ(ca.alg.encr, kEncrAesGcm16);
  EXPECT_TRUE(ca.alg.esn);
  EXPECT_EQ(ca.local_ts[0].ToString(), "10.1.0.0-10.1.255.255");
  EXPECT_EQ(cb.local_ts[0].ToString(), "10.2.0.0-10.2.255.255");
  ExpectChildrenMatch(p.a, p.b);
  const auto& spec = p.a.installer.inbound.begin()->second;
  EXPECT_EQ(spec.encr_key.size(), 20u);  // AES-128 + 4-byte salt
  EXPECT_FALSE(spec.udp_encap);
  EXPECT_EQ(p.a.rec.ike_up.size(), 1u);
  EXPECT_EQ(p.b.rec.ike_up.size(), 1u);
  EXPECT_EQ(p.b.rec.initial_contact.size(), 1u);  // first contact
  EXPECT_EQ(p.a.Established()[0].peer_id.ToString(), "192.0.2.2");
}

TEST(IkePairTest, LostAuthRequestIsRetransmitted) {
  Pair p;
  int auth_requests = 0;
  p.filter = [&](Pair::InFlight& f) {
    if (ExchangeOf(f.d) == ExchangeType::kIkeAuth && !IsResponse(f.d)) return ++auth_requests > 1;
    return true;
  };
  ASSERT_TRUE(p.a.stack->Initiate("site").ok());
  p.Pump();
  EXPECT_TRUE(p.a.Established().empty());
  p.Run(seconds(5));
  EXPECT_EQ(p.a.Established().size(), 1u);
  EXPECT_EQ(auth_requests, 2);
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, LostResponseIsAnsweredFromCache) {
  Pair p;
  int auth_responses = 0;
  p.filter = [&](Pair::InFlight& f) {
    if (ExchangeOf(f.d) == ExchangeType::kIkeAuth && IsResponse(f.d)) return ++auth_responses > 1;
    return true;
  };
  ASSERT_TRUE(p.a.stack->Initiate("site").ok());
  p.Pump();
  p.Run(seconds(5));
  EXPECT_EQ(p.a.Established().size(), 1u);
  EXPECT_EQ(p.b.installer.inbound.size(), 1u);  // processed once
  EXPECT_EQ(p.b.rec.child_up.size(), 1u);
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, DuplicatedMessagesChangeNothing) {
  Pair p;
  p.filter = [&](Pair::InFlight& f) {
    static int depth = 0;
    if (depth == 0) {
      ++depth;
      p.wire.push_front(f);  // deliver every datagram twice
    } else {
      depth = 0;
    }
    return true;
  };
  Establish(p);
  p.filter = nullptr;
  EXPECT_EQ(p.a.stack->ChildSas().size(), 1u);
  EXPECT_EQ(p.b.stack->ChildSas().size(), 1u);
  EXPECT_EQ(p.b.rec.ike_up.size(), 1u);
  ExpectChildrenMatch(p.a, p.b);
  const IkeSa* sa = p.b.stack->FindIkeSa(p.b.Established()[0].id);
  EXPECT_GE(sa->tasks->duplicate_requests(), 1u);
}

TEST(IkePairTest, ReorderedDuplicateAfterNextRequestIsIgnored) {
  Pair p;
  Establish(p);
  // Capture A's next request, deliver a later one first, then the stale one.
  const auto ike_id = p.a.Established()[0].id;
  ASSERT_TRUE(p.a.stack->SendDpd(ike_id).ok());
  ASSERT_EQ(p.wire.size(), 1u);
  Pair::InFlight stale = p.wire.front();
  p.Pump();
  ASSERT_TRUE(p.a.stack->SendDpd(ike_id).ok());
  p.wire.push_back(stale);  // an old request (previous message ID) arrives late
  p.Pump();
  EXPECT_EQ(p.a.Established().size(), 1u);
  EXPECT_EQ(p.b.Established().size(), 1u);
  EXPECT_FALSE(p.a.stack->FindIkeSa(ike_id)->tasks->busy());
}

TEST(IkePairTest, HalfOpenResponderTimesOut) {
  Pair p;
  p.filter = [](Pair::InFlight& f) { return ExchangeOf(f.d) == ExchangeType::kIkeSaInit; };
  ASSERT_TRUE(p.a.stack->Initiate("site").ok());
  p.Pump();
  EXPECT_EQ(p.b.stack->IkeSas().size(), 1u);
  p.Run(seconds(31));
  EXPECT_TRUE(p.b.stack->IkeSas().empty());
}

TEST(IkePairTest, LateInitDuplicateCreatesNoSecondSa) {
  Pair p;
  ASSERT_TRUE(p.a.stack->Initiate("site").ok());
  Pair::InFlight init = p.wire.front();
  p.Pump();
  ASSERT_EQ(p.b.Established().size(), 1u);
  p.wire.push_back(init);
  p.Pump();
  EXPECT_EQ(p.b.stack->IkeSas().size(), 1u);
  EXPECT_EQ(p.a.stack->IkeSas().size(), 1u);
}

TEST(IkePairTest, WrongPskFailsBothSides) {
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ca.psk.Assign(std::vector<std::uint8_t>{1, 2, 3});
  Pair p({}, &ca);
  ASSERT_TRUE(p.a.stack->Initiate("site").ok());
  p.Pump();
  EXPECT_TRUE(p.a.Established().empty());
  EXPECT_TRUE(p.b.Established().empty());
  EXPECT_TRUE(p.a.installer.inbound.empty());
  EXPECT_TRUE(p.b.installer.inbound.empty());
  ASSERT_EQ(p.b.rec.down_reasons.size(), 1u);
  EXPECT_EQ(p.b.rec.down_reasons[0], DownReason::kAuthFailed);
  ASSERT_EQ(p.a.rec.down_reasons.size(), 1u);
  EXPECT_EQ(p.a.rec.down_reasons[0], DownReason::kAuthFailed);
  EXPECT_TRUE(p.a.stack->IkeSas().empty());
  EXPECT_TRUE(p.a.installer.allocated.empty()) << "SPI must be released";
}

TEST(IkePairTest, InvalidKePayloadRetry) {
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ca.ike_proposals.push_back(ParseProposal("aes128-sha256-ecp256", ProtocolId::kIke).value());
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
  cb.ike_proposals = {ParseProposal("aes128-sha256-ecp256", ProtocolId::kIke).value()};
  Pair p({}, &ca, &cb);
  Establish(p);
  EXPECT_EQ(p.log.size(), 6u);  // INIT, INVALID_KE, INIT again, INIT resp, AUTH x2
  const IkeSa* sa = p.a.stack->FindIkeSa(p.a.Established()[0].id);
  EXPECT_EQ(sa->alg.dh, kDhEcp256);
  EXPECT_EQ(sa->alg.encr, kEncrAesCbc);
  EXPECT_EQ(sa->alg.integ, kIntegHmacSha256_128);
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, ResponderPrefersTheGroupOfTheKe) {
  // A offers x25519 and ecp256 (KE for x25519); B prefers ecp256 but also
  // takes x25519: no INVALID_KE_PAYLOAD round trip.
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
  Proposal both = ParseProposal("aes256gcm16-prfsha256-x25519", ProtocolId::kIke).value();
  both.transforms.push_back({TransformType::kDh, kDhEcp256});
  ca.ike_proposals = {both};
  cb.ike_proposals = {ParseProposal("aes256gcm16-prfsha256-ecp256", ProtocolId::kIke).value(),
                      ParseProposal("aes256gcm16-prfsha256-x25519", ProtocolId::kIke).value()};
  Pair p({}, &ca, &cb);
  Establish(p);
  EXPECT_EQ(p.log.size(), 4u);
  EXPECT_EQ(p.a.stack->FindIkeSa(p.a.Established()[0].id)->alg.dh, kDhCurve25519);
}

TEST(IkePairTest, EsnIsNegotiated) {
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
  ca.children[0].esp_proposals = {ParseProposal("aes128gcm16-esn-noesn", ProtocolId::kEsp).value()};
  cb.children[0].esp_proposals = {ParseProposal("aes128gcm16-noesn", ProtocolId::kEsp).value()};
  Pair p({}, &ca, &cb);
  Establish(p);
  ASSERT_EQ(p.a.stack->ChildSas().size(), 1u);
  EXPECT_FALSE(p.a.stack->ChildSas()[0].alg.esn);
  EXPECT_FALSE(p.a.installer.inbound.begin()->second.esn);
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, NoProposalChosen) {
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
  cb.ike_proposals = {ParseProposal("aes128-sha512-modp2048", ProtocolId::kIke).value()};
  Pair p({}, nullptr, &cb);
  ASSERT_TRUE(p.a.stack->Initiate("site").ok());
  p.Pump();
  EXPECT_TRUE(p.a.stack->IkeSas().empty());
  EXPECT_TRUE(p.b.stack->IkeSas().empty());
  ASSERT_EQ(p.a.rec.down_reasons.size(), 1u);
  EXPECT_EQ(p.a.rec.down_reasons[0], DownReason::kNegotiation);
}

TEST(IkePairTest, CookieUnderLoad) {
  IkeStackOptions opts;
  opts.cookie_threshold = 0;  // always demand a cookie
  Pair p(opts);
  Establish(p);
  EXPECT_EQ(p.log.size(), 6u);  // INIT, COOKIE, INIT+COOKIE, INIT resp, AUTH x2
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, ModpAndCbcSuite) {
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
  for (auto* c : {&ca, &cb}) {
    c->ike_proposals = {ParseProposal("aes256-sha512-modp2048", ProtocolId::kIke).value()};
    c->children[0].esp_proposals = {ParseProposal("aes256-sha256-noesn", ProtocolId::kEsp).value()};
  }
  Pair p({}, &ca, &cb);
  Establish(p);
  ExpectChildrenMatch(p.a, p.b);
  const auto& spec = p.a.installer.inbound.begin()->second;
  EXPECT_EQ(spec.encr, kEncrAesCbc);
  EXPECT_EQ(spec.encr_key.size(), 32u);
  EXPECT_EQ(spec.integ_key.size(), 32u);
  EXPECT_FALSE(spec.esn);
}

TEST(IkePairTest, TransportModeAndNarrowing) {
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.5.0/24", "10.1.0.0/24");
  ca.children[0].mode = IpsecMode::kTransport;
  cb.children[0].mode = IpsecMode::kTransport;
  Pair p({}, &ca, &cb);
  Establish(p);
  const ChildSaInfo c = p.a.stack->ChildSas()[0];
  EXPECT_EQ(c.mode, IpsecMode::kTransport);
  EXPECT_EQ(c.local_ts[0].ToString(), "10.1.0.0-10.1.0.255");
  EXPECT_EQ(c.remote_ts[0].ToString(), "10.2.5.0-10.2.5.255");
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, TsUnacceptableKeepsIkeSa) {
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.9.0.0/16", "10.8.0.0/16");
  Pair p({}, nullptr, &cb);
  Establish(p);
  EXPECT_TRUE(p.a.stack->ChildSas().empty());
  EXPECT_TRUE(p.b.stack->ChildSas().empty());
  EXPECT_TRUE(p.a.installer.allocated.empty());
}

TEST(IkePairTest, CreateAdditionalChildWithPfsBothRoles) {
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
  for (auto* c : {&ca, &cb}) {
    ChildConfig extra = c->children[0];
    extra.name = "pfs";
    extra.esp_proposals = {ParseProposal("aes256gcm16-x25519-esn", ProtocolId::kEsp).value()};
    c->children.push_back(extra);
  }
  Pair p({}, &ca, &cb);
  Establish(p);
  ASSERT_TRUE(p.a.stack->CreateChild(p.a.Established()[0].id, "pfs").ok());
  p.Pump();
  ASSERT_TRUE(p.b.stack->CreateChild(p.b.Established()[0].id, "pfs").ok());  // responder initiates
  p.Pump();
  EXPECT_EQ(p.a.stack->ChildSas().size(), 3u);
  EXPECT_EQ(p.b.stack->ChildSas().size(), 3u);
  ExpectChildrenMatch(p.a, p.b);
  EXPECT_EQ(p.a.stack->ChildSas()[1].alg.dh, kDhCurve25519);
}

TEST(IkePairTest, ChildRekeyFromEitherSide) {
  Pair p;
  Establish(p);
  for (Peer* who : {&p.a, &p.b}) {
    const ChildSaInfo old = who->stack->ChildSas()[0];
    ASSERT_TRUE(who->stack->RekeyChild(old.id).ok());
    p.Pump();
    ASSERT_EQ(p.a.stack->ChildSas().size(), 1u);
    ASSERT_EQ(p.b.stack->ChildSas().size(), 1u);
    EXPECT_NE(who->stack->ChildSas()[0].spi_in, old.spi_in);
    ExpectChildrenMatch(p.a, p.b);
    EXPECT_EQ(p.a.installer.inbound.size(), 1u);
  }
  EXPECT_EQ(p.a.rec.child_rekeyed.size(), 2u);
  EXPECT_EQ(p.b.rec.child_rekeyed.size(), 2u);
}

TEST(IkePairTest, SimultaneousChildRekeyLowestNonceWins) {
  Pair p;
  Establish(p);
  ASSERT_TRUE(p.a.stack->RekeyChild(p.a.stack->ChildSas()[0].id).ok());
  ASSERT_TRUE(p.b.stack->RekeyChild(p.b.stack->ChildSas()[0].id).ok());
  ASSERT_EQ(p.wire.size(), 2u);  // both requests cross
  p.Pump();
  ASSERT_EQ(p.a.stack->ChildSas().size(), 1u);
  ASSERT_EQ(p.b.stack->ChildSas().size(), 1u);
  ExpectChildrenMatch(p.a, p.b);
  EXPECT_EQ(p.a.installer.inbound.size(), 1u);
  EXPECT_EQ(p.b.installer.inbound.size(), 1u);
  EXPECT_TRUE(p.wire.empty());
}

TEST(IkePairTest, RefusedChildRekeyIsRetried) {
  Pair p;
  Establish(p);
  const ChildSaInfo old = p.a.stack->ChildSas()[0];
  p.b.installer.fail_alloc = true;  // B cannot take a new SA right now
  ASSERT_TRUE(p.a.stack->RekeyChild(old.id).ok());
  p.Pump();
  ASSERT_EQ(p.a.stack->ChildSas().size(), 1u);
  EXPECT_EQ(p.a.stack->ChildSas()[0].spi_in, old.spi_in);  // still the old one
  p.b.installer.fail_alloc = false;
  p.Run(seconds(25));
  ASSERT_EQ(p.a.stack->ChildSas().size(), 1u);
  EXPECT_NE(p.a.stack->ChildSas()[0].spi_in, old.spi_in);  // the retry worked
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, IkeRekeyMovesChildren) {
  Pair p;
  Establish(p);
  const auto old_a = p.a.Established()[0];
  const ChildSaInfo child = p.a.stack->ChildSas()[0];
  ASSERT_TRUE(p.a.stack->RekeyIke(old_a.id).ok());
  p.Pump();
  ASSERT_EQ(p.a.stack->IkeSas().size(), 1u);
  ASSERT_EQ(p.b.stack->IkeSas().size(), 1u);
  const auto new_a = p.a.Established()[0];
  const auto new_b = p.b.Established()[0];
  EXPECT_NE(new_a.spi_i, old_a.spi_i);
  EXPECT_EQ(new_a.spi_i, new_b.spi_i);
  EXPECT_EQ(new_a.spi_r, new_b.spi_r);
  ASSERT_EQ(p.a.stack->ChildSas().size(), 1u);
  EXPECT_EQ(p.a.stack->ChildSas()[0].spi_in, child.spi_in);
  EXPECT_EQ(p.a.stack->ChildSas()[0].ike_sa_id, new_a.id);
  EXPECT_TRUE(p.a.rec.ike_down.empty());
  // The new SA works: rekey the child over it, from B.
  ASSERT_TRUE(p.b.stack->RekeyChild(p.b.stack->ChildSas()[0].id).ok());
  p.Pump();
  ExpectChildrenMatch(p.a, p.b);
  EXPECT_EQ(p.a.stack->ChildSas().size(), 1u);
}

TEST(IkePairTest, SimultaneousIkeRekey) {
  Pair p;
  Establish(p);
  ASSERT_TRUE(p.a.stack->RekeyIke(p.a.Established()[0].id).ok());
  ASSERT_TRUE(p.b.stack->RekeyIke(p.b.Established()[0].id).ok());
  p.Pump();
  ASSERT_EQ(p.a.stack->IkeSas().size(), 1u);
  ASSERT_EQ(p.b.stack->IkeSas().size(), 1u);
  const auto ia = p.a.stack->IkeSas()[0];
  const auto ib = p.b.stack->IkeSas()[0];
  EXPECT_EQ(ia.spi_i, ib.spi_i);
  EXPECT_EQ(ia.spi_r, ib.spi_r);
  EXPECT_EQ(ia.state, IkeSaState::kEstablished);
  ASSERT_EQ(p.a.stack->ChildSas().size(), 1u);
  ASSERT_EQ(p.b.stack->ChildSas().size(), 1u);
  EXPECT_EQ(p.a.stack->ChildSas()[0].ike_sa_id, ia.id);
  EXPECT_EQ(p.b.stack->ChildSas()[0].ike_sa_id, ib.id);
  ExpectChildrenMatch(p.a, p.b);
  ASSERT_TRUE(p.a.stack->SendDpd(ia.id).ok());
  p.Pump();
  EXPECT_FALSE(p.a.stack->FindIkeSa(ia.id)->tasks->busy());
}

TEST(IkePairTest, DeleteChildAndIkeFromResponder) {
  Pair p;
  Establish(p);
  ASSERT_TRUE(p.b.stack->DeleteChild(p.b.stack->ChildSas()[0].id).ok());
  p.Pump();
  EXPECT_TRUE(p.a.stack->ChildSas().empty());
  EXPECT_TRUE(p.b.stack->ChildSas().empty());
  EXPECT_TRUE(p.a.installer.inbound.empty() && p.a.installer.outbound.empty());
  EXPECT_TRUE(p.b.installer.inbound.empty() && p.b.installer.outbound.empty());
  ASSERT_TRUE(p.b.stack->DeleteIke(p.b.Established()[0].id).ok());
  p.Pump();
  EXPECT_TRUE(p.a.stack->IkeSas().empty());
  EXPECT_TRUE(p.b.stack->IkeSas().empty());
  EXPECT_EQ(p.a.rec.down_reasons.at(0), DownReason::kDeleted);
}

TEST(IkePairTest, DeleteIkeRemovesChildren) {
  Pair p;
  Establish(p);
  ASSERT_TRUE(p.a.stack->DeleteIke(p.a.Established()[0].id).ok());
  p.Pump();
  EXPECT_TRUE(p.a.installer.inbound.empty());
  EXPECT_TRUE(p.b.installer.inbound.empty());
  EXPECT_EQ(p.a.rec.child_down.size(), 1u);
  EXPECT_EQ(p.b.rec.child_down.size(), 1u);
}

TEST(IkePairTest, DpdDeclaresSilentPeerDead) {
  Pair p;
  Establish(p);
  bool b_alive = true;
  p.filter = [&](Pair::InFlight&) { return b_alive; };
  p.Run(seconds(20));
  EXPECT_EQ(p.a.Established().size(), 1u);
  b_alive = false;
  // DPD after 30 s of silence, then 5 retransmissions (~165 s with the
  // default 4 s * 1.8^n schedule).
  p.Run(seconds(150));
  EXPECT_EQ(p.a.Established().size(), 1u);
  p.Run(seconds(80));
  EXPECT_TRUE(p.a.Established().empty());
  ASSERT_FALSE(p.a.rec.down_reasons.empty());
  EXPECT_EQ(p.a.rec.down_reasons.back(), DownReason::kPeerDead);
  EXPECT_TRUE(p.a.installer.inbound.empty());
}

TEST(IkePairTest, RetransmitScheduleFollowsBackoff) {
  Pair p;
  std::vector<double> sent_at;
  p.filter = [&](Pair::InFlight& f) {
    if (f.to_b) sent_at.push_back(std::chrono::duration<double>(p.env.Now().since_epoch).count());
    return false;  // B never hears anything
  };
  ASSERT_TRUE(p.a.stack->Initiate("site").ok());
  p.Run(seconds(200), std::chrono::milliseconds(100));
  ASSERT_EQ(sent_at.size(), 6u);  // first send + 5 retransmissions
  const double expect[] = {4, 7.2, 12.96, 23.328, 41.9904};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(sent_at[i + 1] - sent_at[i], expect[i], 0.11) << i;
  EXPECT_TRUE(p.a.stack->IkeSas().empty());
  EXPECT_EQ(p.a.rec.down_reasons.at(0), DownReason::kPeerDead);
}

TEST(IkePairTest, StaticPeerReconnectsWithInitialContact) {
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ca.static_peer = true;
  Pair p({}, &ca);
  Establish(p);
  const auto first_b = p.b.Established()[0].id;
  // The path breaks for four minutes: A's DPD gives up and it keeps trying.
  bool up = false;
  p.filter = [&](Pair::InFlight&) { return up; };
  p.Run(seconds(240));
  EXPECT_TRUE(p.a.Established().empty());
  up = true;
  p.Run(seconds(200));
  ASSERT_EQ(p.a.Established().size(), 1u);
  ASSERT_EQ(p.b.stack->IkeSas().size(), 1u);
  EXPECT_NE(p.b.stack->IkeSas()[0].id, first_b);
  EXPECT_GE(p.b.rec.initial_contact.size(), 2u);
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, DpdKeepsLivePeerUp) {
  Pair p;
  Establish(p);
  const std::size_t before = p.log.size();
  p.Run(seconds(100));
  EXPECT_EQ(p.a.Established().size(), 1u);
  EXPECT_EQ(p.b.Established().size(), 1u);
  EXPECT_GT(p.log.size(), before);  // liveness checks happened
}

TEST(IkePairTest, EspTrafficSuppressesDpd) {
  Pair p;
  Establish(p);
  const std::uint32_t spi_a = p.a.stack->ChildSas()[0].spi_in;
  const std::uint32_t spi_b = p.b.stack->ChildSas()[0].spi_in;
  const std::size_t before = p.log.size();
  for (int i = 0; i < 10; ++i) {
    p.Run(seconds(10));
    p.a.stack->ChildSaTrafficSeen(spi_a);
    p.b.stack->ChildSaTrafficSeen(spi_b);
  }
  EXPECT_EQ(p.log.size(), before);  // no liveness checks needed
  EXPECT_EQ(p.a.Established().size(), 1u);
}

TEST(IkePairTest, ProtectedInvalidSpiReplacesChild) {
  Pair p;
  Establish(p);
  const ChildSaInfo cb = p.b.stack->ChildSas()[0];
  // A says: "I got ESP with SPI x and know no such SA" -- x is B's outbound.
  ASSERT_TRUE(p.a.stack->SendInvalidSpi({*IpAddress::Parse("192.0.2.2"), 500}, cb.spi_out).ok());
  p.Pump();
  ASSERT_EQ(p.b.rec.invalid_spi.size(), 1u);
  EXPECT_TRUE(p.b.rec.invalid_spi[0].is_protected);
  EXPECT_EQ(p.b.rec.invalid_spi[0].spi, cb.spi_out);
  ASSERT_EQ(p.b.stack->ChildSas().size(), 1u);
  EXPECT_NE(p.b.stack->ChildSas()[0].spi_out, cb.spi_out);
  ExpectChildrenMatch(p.a, p.b);
  EXPECT_EQ(p.a.stack->ChildSas().size(), 1u);
}

TEST(IkePairTest, InitialContactFromRestartedPeerDropsOldSa) {
  Pair p;
  Establish(p);
  const auto old_b = p.b.Established()[0];
  // A "reboots": a fresh stack with the same config and no state.
  p.a.stack = std::make_unique<IkeStack>(p.env, p.env, p.a.random, p.a.installer, p.a.rec,
                                         [&p](const Datagram& d) {
                                           p.wire.push_back({true, d});
                                         });
  p.a.installer.inbound.clear();
  p.a.installer.outbound.clear();
  ASSERT_TRUE(p.a.stack
                  ->AddConnection(
                      MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16"))
                  .ok());
  Establish(p);
  ASSERT_EQ(p.b.stack->IkeSas().size(), 1u);
  EXPECT_NE(p.b.stack->IkeSas()[0].id, old_b.id);
  EXPECT_EQ(p.b.rec.initial_contact.size(), 2u);
  EXPECT_EQ(p.b.rec.down_reasons.back(), DownReason::kReplaced);
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, UnprotectedInvalidSpiIsOnlyAHint) {
  Pair p;
  Establish(p);
  Message m;
  m.header.spi_i = 0x1234;
  m.header.exchange = ExchangeType::kInformational;
  m.payloads.push_back(Payload{PayloadType::kNotify, false, false,
                               NotifyPayload{ProtocolId::kEsp, {}, 11, {0, 0, 0x20, 0x01}}});
  Datagram d{{*IpAddress::Parse("192.0.2.1"), 500},
             {*IpAddress::Parse("192.0.2.2"), 500},
             Encode(m, nullptr).value()};
  p.b.stack->Receive(d);
  ASSERT_EQ(p.b.rec.invalid_spi.size(), 1u);
  EXPECT_FALSE(p.b.rec.invalid_spi[0].is_protected);
  EXPECT_EQ(p.b.rec.invalid_spi[0].spi, 0x2001u);
  EXPECT_EQ(p.b.stack->ChildSas().size(), 1u);  // nothing changed
}

// RFC 7296 §1.5 and §3.10: the one-way unprotected INVALID_SPI, byte by
// byte, on port 4500 (behind the non-ESP marker) and on port 500; the
// receiver takes it as a hint and never answers it.
TEST(IkePairTest, UnprotectedInvalidSpiGoldenLayout) {
  Pair p;
  const Endpoint a4500{*IpAddress::Parse("192.0.2.1"), kNatTPort};
  const Endpoint b_udp{*IpAddress::Parse("192.0.2.2"), kNatTPort};
  p.a.stack->SendUnprotectedInvalidSpi(a4500, b_udp, 0xdeadbeef);
  ASSERT_EQ(p.wire.size(), 1u);
  const Datagram d = p.wire.front().d;
  EXPECT_EQ(d.src, a4500);
  EXPECT_EQ(d.dst, b_udp);
  ASSERT_EQ(d.payload.size(), 4u + 28u + 12u);
  const std::uint8_t* m = d.payload.data();
  EXPECT_EQ(LoadBe32(m), 0u) << "non-ESP marker";
  const std::uint8_t* h = m + 4;
  std::uint64_t spi_i = 0, spi_r = 0;
  for (int i = 0; i < 8; ++i) {
    spi_i = spi_i << 8 | h[i];
    spi_r = spi_r << 8 | h[8 + i];
  }
  EXPECT_NE(spi_i, 0u) << "random initiator SPI";
  EXPECT_EQ(spi_r, 0u);
  EXPECT_EQ(h[16], 41) << "next payload: Notify";
  EXPECT_EQ(h[17], 0x20) << "version 2.0";
  EXPECT_EQ(h[18], 37) << "INFORMATIONAL";
  EXPECT_EQ(h[19], kFlagInitiator) << "I set, R clear";
  EXPECT_EQ(LoadBe32(h + 20), 0u) << "message ID";
  EXPECT_EQ(LoadBe32(h + 24), 40u) << "IKE length";
  const std::uint8_t* n = h + 28;
  EXPECT_EQ(n[0], 0) << "no next payload";
  EXPECT_EQ(n[1], 0) << "not critical";
  EXPECT_EQ((n[2] << 8) | n[3], 12);
  EXPECT_EQ(n[4], 0) << "Protocol ID: zero, no SPI field";
  EXPECT_EQ(n[5], 0) << "SPI size";
  EXPECT_EQ((n[6] << 8) | n[7], 11) << "INVALID_SPI";
  EXPECT_EQ(LoadBe32(n + 8), 0xdeadbeefu) << "the SPI as notification data";

  // The receiver: one unprotected hint, and no answer (§1.5: no loop).
  p.Pump();
  ASSERT_EQ(p.b.rec.invalid_spi.size(), 1u);
  EXPECT_FALSE(p.b.rec.invalid_spi[0].is_protected);
  EXPECT_EQ(p.b.rec.invalid_spi[0].spi, 0xdeadbeefu);
  EXPECT_EQ(p.b.rec.invalid_spi[0].peer, a4500);
  EXPECT_TRUE(p.wire.empty());
  EXPECT_EQ(p.log.size(), 1u);

  // For plain ESP (no UDP) it goes from and to port 500, without a marker.
  const Endpoint a500{*IpAddress::Parse("192.0.2.1"), kIkePort};
  const Endpoint b500{*IpAddress::Parse("192.0.2.2"), kIkePort};
  p.a.stack->SendUnprotectedInvalidSpi(a500, b500, 0x01020304);
  ASSERT_EQ(p.wire.size(), 1u);
  const Bytes& plain = p.wire.front().d.payload;
  ASSERT_EQ(plain.size(), 40u);
  EXPECT_NE(LoadBe32(plain.data()) | LoadBe32(plain.data() + 4), 0u);
  EXPECT_EQ(LoadBe32(plain.data() + 36), 0x01020304u);
  p.Pump();
  ASSERT_EQ(p.b.rec.invalid_spi.size(), 2u);
  EXPECT_EQ(p.b.rec.invalid_spi[1].spi, 0x01020304u);
  EXPECT_TRUE(p.b.stack->IkeSas().empty()) << "a hint creates no state";
}

// Decision 2 when A's IKE no longer holds the Child SA: B deleted it, A
// removed its side and answered, but the answer was lost, so B still has
// the SA and keeps sending on A's former inbound SPI. INVALID_SPI + Delete
// by that SPI makes B drop its outbound SA although A has no record of it.
TEST(IkePairTest, InvalidSpiWithDeleteForAChildSaAlreadyForgotten) {
  Pair p;
  Establish(p);
  const ChildSaInfo cb = p.b.stack->ChildSas()[0];
  ASSERT_TRUE(p.b.stack->DeleteChild(cb.id).ok());
  p.filter = [](Pair::InFlight& f) { return !f.to_b; };  // A's answer is lost
  p.Pump();
  p.filter = nullptr;
  ASSERT_TRUE(p.a.stack->ChildSas().empty()) << "A forgot the Child SA";
  ASSERT_EQ(p.b.installer.outbound.count(cb.spi_out), 1u) << "B still sends on it";

  ASSERT_TRUE(
      p.a.stack->SendInvalidSpiWithDelete({*IpAddress::Parse("192.0.2.2"), kIkePort}, cb.spi_out)
          .ok());
  p.Pump();
  EXPECT_EQ(p.b.installer.outbound.count(cb.spi_out), 0u) << "B's outbound SA not removed";
  EXPECT_TRUE(p.b.stack->ChildSas().empty());
  ASSERT_FALSE(p.b.rec.invalid_spi.empty());
  EXPECT_TRUE(p.b.rec.invalid_spi.back().is_protected);
  EXPECT_EQ(p.b.rec.invalid_spi.back().spi, cb.spi_out);
  // B's own Delete is answered from A's cache when B retransmits; both IKE
  // SAs stay up.
  p.Run(seconds(30));
  EXPECT_EQ(p.a.Established().size(), 1u);
  EXPECT_EQ(p.b.Established().size(), 1u);
  EXPECT_FALSE(
      p.a.stack->SendInvalidSpiWithDelete({*IpAddress::Parse("192.0.2.9"), kIkePort}, 1).ok());
}

// With the Child SA still held on both sides, the same message removes it
// at both ends: B drops its outbound SA, answers with its inbound SPI, and A
// removes its side.
TEST(IkePairTest, InvalidSpiWithDeleteRemovesAChildSaStillHeld) {
  Pair p;
  Establish(p);
  const ChildSaInfo ca = p.a.stack->ChildSas()[0];
  ASSERT_TRUE(
      p.a.stack->SendInvalidSpiWithDelete({*IpAddress::Parse("192.0.2.2"), kIkePort}, ca.spi_in)
          .ok());
  p.Pump();
  EXPECT_TRUE(p.b.installer.outbound.empty());
  EXPECT_TRUE(p.b.stack->ChildSas().empty());
  EXPECT_TRUE(p.a.stack->ChildSas().empty());
  EXPECT_TRUE(p.a.installer.inbound.empty() && p.a.installer.outbound.empty());
}

TEST(IkePairTest, FragmentedAuthWithLostFragment) {
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
  for (auto* c : {&ca, &cb}) {
    c->fragment_size = 120;
    for (int i = 0; i < 6; ++i)  // make IKE_AUTH large
      c->children[0].esp_proposals.push_back(
          ParseProposal("aes256-sha512-ecp256-noesn", ProtocolId::kEsp).value());
  }
  Pair p({}, &ca, &cb);
  int frags = 0;
  p.filter = [&](Pair::InFlight& f) {
    if (ExchangeOf(f.d) != ExchangeType::kIkeAuth) return true;
    EXPECT_LE(f.d.payload.size(), 120u);
    return ++frags != 2;  // lose one fragment of the first request
  };
  ASSERT_TRUE(p.a.stack->Initiate("site").ok());
  p.Pump();
  EXPECT_TRUE(p.a.Established().empty());
  p.Run(seconds(5));
  ASSERT_EQ(p.a.Established().size(), 1u);
  EXPECT_GT(frags, 4);
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, NatTraversalFloatsTo4500) {
  Pair p;
  const Endpoint inside{*IpAddress::Parse("192.0.2.1"), 0};
  const Endpoint outside_ip{*IpAddress::Parse("198.51.100.7"), 0};
  // A NAT in front of A: rewrite A's source on the way out, B's destination
  // on the way back (500 -> 40500, 4500 -> 44500).
  p.filter = [&](Pair::InFlight& f) {
    if (f.to_b && f.d.src.addr == inside.addr) {
      f.d.src.addr = outside_ip.addr;
      f.d.src.port = f.d.src.port == 500 ? 40500 : 44500;
    } else if (!f.to_b && f.d.dst.addr == outside_ip.addr) {
      f.d.dst.addr = inside.addr;
      f.d.dst.port = f.d.dst.port == 40500 ? 500 : 4500;
    }
    return true;
  };
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
  cb.remote_any = true;
  Pair q({}, nullptr, &cb);
  q.filter = p.filter;
  Establish(q);
  const auto ia = q.a.Established()[0];
  const auto ib = q.b.Established()[0];
  EXPECT_TRUE(ia.nat);
  EXPECT_TRUE(ib.nat);
  EXPECT_EQ(ia.remote.port, 4500);
  EXPECT_EQ(ib.remote.port, 44500);
  EXPECT_EQ(ib.remote.addr, outside_ip.addr);
  EXPECT_TRUE(q.a.installer.inbound.begin()->second.udp_encap);
  EXPECT_TRUE(q.b.installer.outbound.begin()->second.udp_encap);
  // Later exchanges keep working through the NAT.
  ASSERT_TRUE(q.b.stack->RekeyChild(q.b.stack->ChildSas()[0].id).ok());
  q.Pump();
  ExpectChildrenMatch(q.a, q.b);
  // A (behind the NAT) sends keepalives; B (not behind one) does not.
  int keepalives_a = 0, keepalives_b = 0;
  q.filter = [&](Pair::InFlight& f) {
    if (f.d.payload.size() == 1 && f.d.payload[0] == 0xff) ++(f.to_b ? keepalives_a : keepalives_b);
    return true;
  };
  q.Run(seconds(25));
  EXPECT_EQ(keepalives_a, 1);
  EXPECT_EQ(keepalives_b, 0);
  EXPECT_EQ(q.a.Established().size(), 1u);  // keepalives are ignored on receipt
}

TEST(IkePairTest, LifetimesRekeyAutomatically) {
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
  for (auto* c : {&ca, &cb}) {
    c->children[0].lifetime = seconds(300);
    c->children[0].rekey_margin = seconds(60);
    c->ike_lifetime = seconds(1000);
    c->ike_rekey_margin = seconds(100);
  }
  cb.children[0].rekey_margin = seconds(90);  // B rekeys the child first
  Pair p({}, &ca, &cb);
  Establish(p);
  p.Run(seconds(2000), seconds(1));
  EXPECT_EQ(p.a.Established().size(), 1u);
  EXPECT_EQ(p.b.Established().size(), 1u);
  EXPECT_EQ(p.a.stack->ChildSas().size(), 1u);
  EXPECT_EQ(p.b.stack->ChildSas().size(), 1u);
  EXPECT_GE(p.a.rec.child_rekeyed.size(), 6u);
  EXPECT_GE(p.a.rec.ike_rekeyed.size(), 1u);
  EXPECT_TRUE(p.a.rec.ike_down.empty());
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, SameLifetimesCollideAndConverge) {
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
  for (auto* c : {&ca, &cb}) {
    c->children[0].lifetime = seconds(300);
    c->children[0].rekey_margin = seconds(60);
    c->ike_lifetime = seconds(900);
    c->ike_rekey_margin = seconds(100);
  }
  Pair p({}, &ca, &cb);
  Establish(p);
  p.Run(seconds(1700), seconds(1));
  EXPECT_EQ(p.a.Established().size(), 1u);
  EXPECT_EQ(p.b.Established().size(), 1u);
  EXPECT_EQ(p.a.stack->ChildSas().size(), 1u);
  EXPECT_EQ(p.b.stack->ChildSas().size(), 1u);
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, EitherPeerCanInitiate) {
  Pair p;
  ASSERT_TRUE(p.b.stack->Initiate("site").ok());
  p.Pump();
  ASSERT_EQ(p.a.Established().size(), 1u);
  ASSERT_EQ(p.b.Established().size(), 1u);
  EXPECT_TRUE(p.b.Established()[0].original_initiator);
  EXPECT_FALSE(p.a.Established()[0].original_initiator);
  ExpectChildrenMatch(p.a, p.b);
  // And the original initiator side of every later exchange works from A.
  ASSERT_TRUE(p.a.stack->RekeyChild(p.a.stack->ChildSas()[0].id).ok());
  p.Pump();
  ASSERT_TRUE(p.a.stack->RekeyIke(p.a.Established()[0].id).ok());
  p.Pump();
  ExpectChildrenMatch(p.a, p.b);
  ASSERT_EQ(p.a.Established().size(), 1u);
  EXPECT_TRUE(p.a.Established()[0].original_initiator);  // the rekey initiator
}

TEST(IkePairTest, ReorderedFragments) {
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
  for (auto* c : {&ca, &cb}) {
    c->fragment_size = 256;
    for (int i = 0; i < 8; ++i)
      c->children[0].esp_proposals.push_back(
          ParseProposal("aes256-sha384-modp2048-esn", ProtocolId::kEsp).value());
  }
  Pair p({}, &ca, &cb);
  ASSERT_TRUE(p.a.stack->Initiate("site").ok());
  p.Pump(2);  // IKE_SA_INIT
  // Reverse every burst of fragments before it is delivered.
  while (!p.wire.empty()) {
    std::reverse(p.wire.begin(), p.wire.end());
    std::deque<Pair::InFlight> burst;
    burst.swap(p.wire);
    for (auto& f : burst) {
      p.log.push_back(f);
      (f.to_b ? p.b : p.a).stack->Receive(f.d);
    }
  }
  ASSERT_EQ(p.a.Established().size(), 1u);
  ExpectChildrenMatch(p.a, p.b);
  int skf = 0;
  for (const auto& f : p.log)
    skf += f.d.payload[16] == static_cast<std::uint8_t>(PayloadType::kSkf);
  EXPECT_GE(skf, 2);  // the IKE_AUTH request went in fragments
}

TEST(IkePairTest, CrossingRequestsFromBothSides) {
  Pair p;
  Establish(p);
  ASSERT_TRUE(p.a.stack->SendDpd(p.a.Established()[0].id).ok());
  ASSERT_TRUE(p.b.stack->DeleteChild(p.b.stack->ChildSas()[0].id).ok());
  ASSERT_EQ(p.wire.size(), 2u);
  std::swap(p.wire[0], p.wire[1]);
  p.Pump();
  EXPECT_TRUE(p.a.stack->ChildSas().empty());
  EXPECT_TRUE(p.b.stack->ChildSas().empty());
  EXPECT_FALSE(p.a.stack->FindIkeSa(p.a.Established()[0].id)->tasks->busy());
  EXPECT_FALSE(p.b.stack->FindIkeSa(p.b.Established()[0].id)->tasks->busy());
}

TEST(IkePairTest, CollisionWithLostResponseStillConverges) {
  Pair p;
  Establish(p);
  ASSERT_TRUE(p.a.stack->RekeyChild(p.a.stack->ChildSas()[0].id).ok());
  ASSERT_TRUE(p.b.stack->RekeyChild(p.b.stack->ChildSas()[0].id).ok());
  bool dropped = false;
  p.filter = [&](Pair::InFlight& f) {
    if (!dropped && !f.to_b && IsResponse(f.d) && ExchangeOf(f.d) == ExchangeType::kCreateChildSa) {
      dropped = true;
      return false;
    }
    return true;
  };
  p.Pump();
  p.Run(seconds(10));
  EXPECT_TRUE(dropped);
  ASSERT_EQ(p.a.stack->ChildSas().size(), 1u);
  ASSERT_EQ(p.b.stack->ChildSas().size(), 1u);
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, DatapathLifetimeEvents) {
  Pair p;
  Establish(p);
  const ChildSaInfo c = p.a.stack->ChildSas()[0];
  ASSERT_TRUE(p.a.stack->ChildSaExpired(c.spi_in, /*hard=*/false).ok());  // soft: rekey
  p.Pump();
  ASSERT_EQ(p.a.stack->ChildSas().size(), 1u);
  const ChildSaInfo n = p.a.stack->ChildSas()[0];
  EXPECT_NE(n.spi_in, c.spi_in);
  ExpectChildrenMatch(p.a, p.b);
  ASSERT_TRUE(p.a.stack->ChildSaExpired(n.spi_in, /*hard=*/true).ok());  // hard: delete
  p.Pump();
  EXPECT_TRUE(p.a.stack->ChildSas().empty());
  EXPECT_TRUE(p.b.stack->ChildSas().empty());
  EXPECT_FALSE(p.a.stack->ChildSaExpired(n.spi_in, true).ok());
}

TEST(IkePairTest, CrossingFragmentedRequests) {
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
  for (auto* c : {&ca, &cb}) {
    c->fragment_size = 256;
    ChildConfig big = c->children[0];
    big.name = "big";
    for (int i = 0; i < 8; ++i)
      big.esp_proposals.push_back(ParseProposal("aes256-sha384-esn", ProtocolId::kEsp).value());
    c->children.push_back(big);
  }
  Pair p({}, &ca, &cb);
  Establish(p);
  ASSERT_TRUE(p.a.stack->CreateChild(p.a.Established()[0].id, "big").ok());
  ASSERT_TRUE(p.b.stack->CreateChild(p.b.Established()[0].id, "big").ok());
  // Interleave the two fragmented requests (and everything after).
  std::deque<Pair::InFlight> a_out, b_out;
  for (auto& f : p.wire) (f.to_b ? a_out : b_out).push_back(f);
  ASSERT_GT(a_out.size(), 1u);
  p.wire.clear();
  while (!a_out.empty() || !b_out.empty()) {
    for (auto* q : {&a_out, &b_out})
      if (!q->empty()) {
        p.wire.push_back(q->front());
        q->pop_front();
      }
  }
  p.Pump();
  EXPECT_EQ(p.a.stack->ChildSas().size(), 3u);
  EXPECT_EQ(p.b.stack->ChildSas().size(), 3u);
  ExpectChildrenMatch(p.a, p.b);
}

// RFC 7296 §2.5 / §2.21.1: an IKE_SA_INIT request with an unknown critical
// payload is answered with UNSUPPORTED_CRITICAL_PAYLOAD naming its type, and
// one that breaks the rule table with INVALID_SYNTAX; no state is kept.
TEST(IkePairTest, InitRequestErrorsAreAnswered) {
  Pair p;
  auto request = [](bool critical_unknown) {
    Message m;
    m.header.spi_i = 0x4242;
    m.header.exchange = ExchangeType::kIkeSaInit;
    m.header.initiator = true;
    m.Add(PayloadType::kNonce, NoncePayload{Bytes(32, 1)});  // no SA, no KE
    Bytes b = Encode(m, nullptr).value();
    if (critical_unknown) {
      b[28] = 99;  // Nonce's next payload -> an unknown type 99, critical
      b.insert(b.end(), {0, 0x80, 0, 4});
      StoreBe32(&b[24], static_cast<std::uint32_t>(b.size()));
    }
    return Datagram{
        {*IpAddress::Parse("192.0.2.1"), 500}, {*IpAddress::Parse("192.0.2.2"), 500}, b};
  };
  for (bool critical : {true, false}) {
    p.wire.clear();
    p.b.stack->Receive(request(critical));
    ASSERT_EQ(p.wire.size(), 1u);
    Message out;
    DecodeError err;
    ASSERT_EQ(DecodeUnprotected(p.wire.front().d.payload, out, err), DecodeStatus::kOk);
    EXPECT_TRUE(out.header.response);
    EXPECT_EQ(out.header.spi_r, 0u);
    const auto* n = out.FirstError();
    ASSERT_NE(n, nullptr);
    if (critical) {
      EXPECT_EQ(n->type, static_cast<std::uint16_t>(NotifyType::kUnsupportedCriticalPayload));
      EXPECT_EQ(n->data, Bytes{99});
    } else {
      EXPECT_EQ(n->type, static_cast<std::uint16_t>(NotifyType::kInvalidSyntax));
    }
    EXPECT_TRUE(p.b.stack->IkeSas().empty());
  }
}

TEST(IkePairTest, RekeyJitterSpreadsRekeys) {
  ConnectionConfig ca = MakeConfig("site", "192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16");
  ConnectionConfig cb = MakeConfig("site", "192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16");
  for (auto* c : {&ca, &cb}) {
    c->children[0].lifetime = seconds(300);
    c->children[0].rekey_margin = seconds(60);
    c->children[0].rekey_jitter = seconds(60);
  }
  Pair p({}, &ca, &cb);
  Establish(p);
  p.Run(seconds(1000), seconds(1));
  EXPECT_GE(p.a.rec.child_rekeyed.size(), 4u);
  EXPECT_EQ(p.a.stack->ChildSas().size(), 1u);
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, SimultaneousInitiationConverges) {
  Pair p;
  ASSERT_TRUE(p.a.stack->Initiate("site").ok());
  ASSERT_TRUE(p.b.stack->Initiate("site").ok());
  p.Pump();
  p.Run(seconds(60));
  EXPECT_GE(p.a.Established().size(), 1u);
  EXPECT_EQ(p.a.Established().size(), p.b.Established().size());
  EXPECT_FALSE(p.a.stack->ChildSas().empty());
  ExpectChildrenMatch(p.a, p.b);
}

TEST(IkePairTest, InvalidMajorVersionAnswered) {
  Pair p;
  Message m;
  m.header.spi_i = 77;
  m.header.major = 3;
  m.header.exchange = ExchangeType::kIkeSaInit;
  m.header.initiator = true;
  m.payloads.push_back(Payload{PayloadType::kNonce, false, false, NoncePayload{Bytes(16, 1)}});
  Datagram d{{*IpAddress::Parse("192.0.2.1"), 500},
             {*IpAddress::Parse("192.0.2.2"), 500},
             Encode(m, nullptr).value()};
  p.b.stack->Receive(d);
  ASSERT_EQ(p.wire.size(), 1u);
  Message out;
  DecodeError err;
  ASSERT_EQ(DecodeUnprotected(p.wire.front().d.payload, out, err), DecodeStatus::kOk);
  ASSERT_NE(out.FindNotify(NotifyType::kInvalidMajorVersion), nullptr);
  EXPECT_TRUE(out.header.response);
}

}  // namespace
}  // namespace inlinesec::ike::testing
