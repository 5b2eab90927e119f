// Task: one IKE exchange kind, from one side (STYLE.md "IKE exchanges = task
// classes"). The initiator's task builds the request and processes the
// response; the responder's task processes the request and builds the
// response. Tasks own no sockets, clocks or NIC handles: what they need from
// the outside comes through IkeContext, implemented by the IkeStack.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "inlinesec/ike/crypto/random.h"
#include "inlinesec/ike/sa/ike_sa.h"
#include "inlinesec/ike/sa/sa_installer.h"
#include "inlinesec/ike/wire/payloads.h"

namespace inlinesec::ike {

enum class Role : std::uint8_t { kInitiator, kResponder };

enum class Step : std::uint8_t {
  kNeedMore,  // initiator: send another request (e.g. COOKIE / INVALID_KE retry)
  kDone,      // exchange finished
  kFailed,    // exchange failed; the IKE SA lives on
  kDeleteSa,  // the IKE SA must go (auth failure, Delete, fatal error)
};

class IkeContext {
 public:
  virtual ~IkeContext() = default;
  virtual Random& random() = 0;
  virtual SaInstaller& installer() = 0;
  virtual const Clock& clock() = 0;
  // A fresh, unused local IKE SPI.
  virtual std::uint64_t NewIkeSpi() = 0;
  virtual std::uint64_t NewChildId() = 0;
  // The IKE SA authenticated (RFC 7296 §1.2).
  virtual void IkeSaEstablished(IkeSa& sa) = 0;
  // A Child SA was installed in both directions; `replaced` is the SA it
  // rekeys, if any.
  virtual void ChildSaInstalled(IkeSa& sa, ChildSa& child, const ChildSa* replaced) = 0;
  // A Child SA was removed from the installer and from `sa`.
  virtual void ChildSaRemoved(IkeSa& sa, const ChildSa& child) = 0;
  // RFC 7296 §2.4: the peer sent INITIAL_CONTACT in IKE_AUTH.
  virtual void InitialContact(IkeSa& sa) = 0;
  // RFC 7296 §1.5: protected INVALID_SPI for one of our outbound SPIs.
  virtual void InvalidSpiReceived(IkeSa& sa, std::uint32_t spi) = 0;
  // RFC 7296 §2.18: registers the IKE SA a rekey created (from `old`).
  virtual IkeSa* AdoptRekeyedIkeSa(IkeSa& old, std::unique_ptr<IkeSa> fresh) = 0;
  // Moves every Child SA of `from` to `to` and reports the IKE SA rekey.
  virtual void MoveChildren(IkeSa& from, IkeSa& to) = 0;
  virtual IkeSa* FindIkeSa(std::uint64_t id) = 0;
  // Starts a rekey of this Child SA on `sa` (e.g. after INVALID_SPI).
  virtual void QueueChildRekey(IkeSa& sa, std::uint64_t child_id) = 0;
  // A rekey failed (TEMPORARY_FAILURE, lost race...): try again a little
  // later. `child_id` 0 means the IKE SA itself.
  virtual void RetryRekeyLater(IkeSa& sa, std::uint64_t child_id) = 0;
  // Queues a Delete of these Child SAs (our inbound SPIs) on `sa`.
  virtual void QueueChildDelete(IkeSa& sa, std::vector<std::uint32_t> spis_in) = 0;
  // Queues a Delete of the whole IKE SA.
  virtual void QueueIkeDelete(IkeSa& sa) = 0;
};

class Task {
 public:
  explicit Task(Role role) : role_(role) {}
  virtual ~Task() = default;
  virtual ExchangeType exchange() const = 0;
  // Initiator: the request; responder: the response (after Process).
  virtual Step Build(Message& out) = 0;
  // Initiator: the response; responder: the request.
  virtual Step Process(const Message& in) = 0;
  Role role() const { return role_; }

  // Rekey collision bookkeeping (RFC 7296 §2.8.1, §2.8.2): the Child SA or
  // IKE SA this initiator task rekeys, and the nonces of a colliding
  // exchange the peer started.
  virtual std::uint64_t rekeying_child() const { return 0; }
  virtual bool rekeying_ike() const { return false; }
  virtual void NoteCollision(const Bytes& /*peer_ni*/, const Bytes& /*our_nr*/,
                             std::uint64_t /*their_new_sa*/) {}

 private:
  Role role_;
};

}  // namespace inlinesec::ike
