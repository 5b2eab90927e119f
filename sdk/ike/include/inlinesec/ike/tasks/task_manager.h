// TaskManager: drives the exchanges of one IKE SA (RFC 7296 §2.1-§2.3). It
// owns the message IDs of both directions, the request window (size 1), the
// queue of initiator tasks, retransmission on the injected Timers with a
// pure backoff function, the cached response that answers a retransmitted
// request, and the hand-off between colliding rekeys.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "inlinesec/common/clock.h"
#include "inlinesec/ike/tasks/task.h"

namespace inlinesec::ike {

class TaskManager {
 public:
  using SendFn = std::function<void(IkeSa&, const std::vector<Bytes>&)>;
  using DeadFn = std::function<void(IkeSa&, DownReason)>;

  TaskManager(IkeSa& sa, IkeContext& ctx, const Clock& clock, Timers& timers, SendFn send,
              DeadFn dead);
  ~TaskManager();

  void Queue(std::unique_ptr<Task> task);
  // Starts the next queued task if no request is outstanding.
  void Initiate();
  // One datagram for this IKE SA, header already peeked.
  void Receive(std::span<const std::uint8_t> bytes, const PeekedHeader& peek);

  bool busy() const { return active_ != nullptr; }
  std::size_t queued() const { return queue_.size(); }
  Task* active() const { return active_.get(); }
  bool HasQueued(ExchangeType e) const;
  // Drops all tasks and timers (the SA is going away).
  void Abort();
  // Counters for tests and metrics.
  std::uint64_t retransmits() const { return retransmits_; }
  std::uint64_t duplicate_requests() const { return duplicates_; }
  // Moves queued tasks (not the active one) to another manager (IKE rekey).
  std::deque<std::unique_ptr<Task>> TakeQueue();
  void SetMessageIds(std::uint32_t next_request, std::uint32_t expected_request) {
    next_id_ = next_request;
    expected_id_ = expected_request;
  }

 private:
  void SendRequest();
  void OnRetransmitTimer();
  void HandleResponse(std::span<const std::uint8_t> bytes, const PeekedHeader& peek);
  void HandleRequest(std::span<const std::uint8_t> bytes, const PeekedHeader& peek);
  std::unique_ptr<Task> ResponderFor(ExchangeType e);
  bool Encode(Message& msg, std::vector<Bytes>& out);
  void Finish(Step step);
  void FollowNat(bool init);

  IkeSa& sa_;
  IkeContext& ctx_;
  const Clock& clock_;
  Timers& timers_;
  SendFn send_;
  DeadFn dead_;
  std::deque<std::unique_ptr<Task>> queue_;
  std::unique_ptr<Task> active_;
  std::uint32_t next_id_ = 0;      // our next request's message ID
  std::uint32_t active_id_ = 0;    // message ID of the outstanding request
  std::uint32_t expected_id_ = 0;  // the peer's next request's message ID
  std::vector<Bytes> request_;     // datagrams of the outstanding request
  int attempt_ = 0;
  TimerId retransmit_timer_ = kNoTimer;
  bool have_response_ = false;
  std::uint32_t response_id_ = 0;
  std::vector<Bytes> response_;  // cached answer to the last request
  std::uint64_t retransmits_ = 0, duplicates_ = 0;
};

}  // namespace inlinesec::ike
