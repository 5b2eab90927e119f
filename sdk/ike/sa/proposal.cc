// Proposal strings, proposal selection (RFC 7296 §2.7, §3.3.6), identities
// and the retransmission backoff function.
#include "inlinesec/ike/sa/proposal.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "inlinesec/ike/sa/config.h"

namespace inlinesec::ike {

Duration RetransmitDelay(const RetransmitPolicy& p, int attempt) {
  const double scaled = static_cast<double>(p.initial.count()) * std::pow(p.base, attempt);
  if (scaled >= static_cast<double>(p.max_delay.count())) return p.max_delay;
  return Duration(static_cast<Duration::rep>(scaled));
}

Identity Identity::Parse(std::string_view text) {
  Identity id;
  if (auto ip = IpAddress::Parse(text)) {
    id.type = ip->v6() ? IdType::kIpv6Addr : IdType::kIpv4Addr;
    id.data.assign(ip->bytes().begin(), ip->bytes().end());
    return id;
  }
  id.type = text.find('@') != std::string_view::npos && text.front() != '@' ? IdType::kRfc822Addr
                                                                            : IdType::kFqdn;
  if (!text.empty() && text.front() == '@') text.remove_prefix(1);  // strongSwan's "@fqdn"
  id.data.assign(text.begin(), text.end());
  return id;
}

std::string Identity::ToString() const {
  if (type == IdType::kIpv4Addr || type == IdType::kIpv6Addr) {
    auto ip = IpAddress::FromBytes(data);
    return ip ? ip->ToString() : "?";
  }
  return std::string(data.begin(), data.end());
}

namespace {

struct Token {
  const char* name;
  Transform t;
  bool ike_ok, esp_ok;
};

// The algorithm keywords inlinesec accepts (strongSwan spellings).
constexpr Token kTokens[] = {
    {"aes128", {TransformType::kEncr, kEncrAesCbc, 128}, true, true},
    {"aes192", {TransformType::kEncr, kEncrAesCbc, 192}, true, true},
    {"aes256", {TransformType::kEncr, kEncrAesCbc, 256}, true, true},
    {"aes128gcm16", {TransformType::kEncr, kEncrAesGcm16, 128}, true, true},
    {"aes256gcm16", {TransformType::kEncr, kEncrAesGcm16, 256}, true, true},
    {"aes128gcm", {TransformType::kEncr, kEncrAesGcm16, 128}, true, true},
    {"aes256gcm", {TransformType::kEncr, kEncrAesGcm16, 256}, true, true},
    {"sha256", {TransformType::kInteg, kIntegHmacSha256_128}, true, true},
    {"sha384", {TransformType::kInteg, kIntegHmacSha384_192}, true, true},
    {"sha512", {TransformType::kInteg, kIntegHmacSha512_256}, true, true},
    {"prfsha256", {TransformType::kPrf, kPrfHmacSha256}, true, false},
    {"prfsha384", {TransformType::kPrf, kPrfHmacSha384}, true, false},
    {"prfsha512", {TransformType::kPrf, kPrfHmacSha512}, true, false},
    {"modp2048", {TransformType::kDh, kDhModp2048}, true, true},
    {"ecp256", {TransformType::kDh, kDhEcp256}, true, true},
    {"x25519", {TransformType::kDh, kDhCurve25519}, true, true},
    {"curve25519", {TransformType::kDh, kDhCurve25519}, true, true},
    {"esn", {TransformType::kEsn, kEsnYes}, false, true},
    {"noesn", {TransformType::kEsn, kEsnNo}, false, true},
};

}  // namespace

Result<Proposal> ParseProposal(std::string_view text, ProtocolId protocol) {
  Proposal p;
  p.protocol = protocol;
  const bool ike = protocol == ProtocolId::kIke;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t dash = std::min(text.find('-', start), text.size());
    const std::string_view word = text.substr(start, dash - start);
    const Token* tok = nullptr;
    for (const auto& t : kTokens)
      if (word == t.name) tok = &t;
    if (tok == nullptr || !(ike ? tok->ike_ok : tok->esp_ok))
      return Status(Code::kInvalidArgument, "unknown algorithm '" + std::string(word) + "'");
    p.transforms.push_back(tok->t);
    start = dash + 1;
  }
  auto count = [&p](TransformType t) {
    return std::count_if(p.transforms.begin(), p.transforms.end(),
                         [t](const Transform& x) { return x.type == t; });
  };
  if (count(TransformType::kEncr) == 0) return Status(Code::kInvalidArgument, "no encryption");
  const bool aead = FindTransform(p, TransformType::kEncr)->id == kEncrAesGcm16;
  if (!aead && count(TransformType::kInteg) == 0)
    return Status(Code::kInvalidArgument, "CBC needs an integrity algorithm");
  if (ike) {
    if (count(TransformType::kDh) == 0) return Status(Code::kInvalidArgument, "no DH group");
    if (count(TransformType::kPrf) == 0) {
      // strongSwan rule: without an explicit PRF, the integrity hash is used.
      auto integ = FindTransform(p, TransformType::kInteg);
      if (!integ) return Status(Code::kInvalidArgument, "AEAD proposal needs a prf");
      const std::uint16_t prf = integ->id == kIntegHmacSha256_128   ? kPrfHmacSha256
                                : integ->id == kIntegHmacSha384_192 ? kPrfHmacSha384
                                                                    : kPrfHmacSha512;
      p.transforms.push_back({TransformType::kPrf, prf});
    }
  } else if (count(TransformType::kEsn) == 0) {
    p.transforms.push_back({TransformType::kEsn, kEsnNo});
  }
  if (aead) {  // RFC 5282 §8: no integrity transform with AEAD
    std::erase_if(p.transforms, [](const Transform& t) { return t.type == TransformType::kInteg; });
  }
  std::stable_sort(p.transforms.begin(), p.transforms.end(),
                   [](const Transform& a, const Transform& b) { return a.type < b.type; });
  return p;
}

std::string ProposalToString(const Proposal& p) {
  std::string s;
  for (const auto& t : p.transforms) {
    const char* name = "?";
    for (const auto& tok : kTokens)
      if (tok.t.type == t.type && tok.t.id == t.id && tok.t.key_length == t.key_length) {
        name = tok.name;
        break;
      }
    if (!s.empty()) s += "-";
    s += name;
  }
  return s;
}

std::optional<Transform> FindTransform(const Proposal& p, TransformType type) {
  for (const auto& t : p.transforms)
    if (t.type == type) return t;
  return std::nullopt;
}

namespace {

// Tries to satisfy `mine` with transforms from `theirs`.
std::optional<Proposal> Match(const Proposal& theirs, const Proposal& mine) {
  if (theirs.protocol != mine.protocol) return std::nullopt;
  Proposal out;
  out.number = theirs.number;
  out.protocol = theirs.protocol;
  out.spi = theirs.spi;
  for (TransformType type : {TransformType::kEncr, TransformType::kPrf, TransformType::kInteg,
                             TransformType::kDh, TransformType::kEsn}) {
    std::vector<Transform> a, b;
    for (const auto& t : mine.transforms)
      if (t.type == type) a.push_back(t);
    for (const auto& t : theirs.transforms)
      if (t.type == type && !t.unknown_attribute) b.push_back(t);
    // RFC 7296 §3.3.2: a missing type equals a single "NONE" transform.
    auto is_none = [type](const std::vector<Transform>& v) {
      return v.empty() ||
             (v.size() == 1 && (type == TransformType::kDh || type == TransformType::kInteg) &&
              v[0].id == 0);
    };
    if (is_none(a) && is_none(b)) continue;
    bool found = false;
    for (const auto& x : a) {
      for (const auto& y : b)
        if (x == y) {
          out.transforms.push_back(x);
          found = true;
          break;
        }
      if (found) break;
    }
    if (!found) return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<Proposal> SelectProposal(const std::vector<Proposal>& offered,
                                       const std::vector<Proposal>& local) {
  for (const auto& mine : local)
    for (const auto& theirs : offered)
      if (auto m = Match(theirs, mine)) return m;
  return std::nullopt;
}

bool ProposalAcceptable(const Proposal& answer, const std::vector<Proposal>& offered) {
  // Exactly one transform per type, each of which we offered together.
  std::map<TransformType, int> seen;
  for (const auto& t : answer.transforms)
    if (++seen[t.type] > 1) return false;
  for (const auto& mine : offered) {
    if (auto m = Match(answer, mine); m && m->transforms.size() == answer.transforms.size())
      return true;
  }
  return false;
}

IkeAlgorithms IkeAlgorithmsOf(const Proposal& p) {
  IkeAlgorithms a;
  if (auto t = FindTransform(p, TransformType::kEncr)) {
    a.encr = t->id;
    a.encr_key_bits = t->key_length;
  }
  if (auto t = FindTransform(p, TransformType::kPrf)) a.prf = t->id;
  if (auto t = FindTransform(p, TransformType::kInteg)) a.integ = t->id;
  if (auto t = FindTransform(p, TransformType::kDh)) a.dh = t->id;
  return a;
}

ChildAlgorithms ChildAlgorithmsOf(const Proposal& p) {
  ChildAlgorithms a;
  if (auto t = FindTransform(p, TransformType::kEncr)) {
    a.encr = t->id;
    a.encr_key_bits = t->key_length;
  }
  if (auto t = FindTransform(p, TransformType::kInteg)) a.integ = t->id;
  if (auto t = FindTransform(p, TransformType::kDh)) a.dh = t->id;
  if (auto t = FindTransform(p, TransformType::kEsn)) a.esn = t->id == kEsnYes;
  return a;
}

}  // namespace inlinesec::ike
