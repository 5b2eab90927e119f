// TaskManager: message IDs, window of one, retransmission (RFC 7296 §2.1),
// duplicate requests answered from the response cache (§2.1), responder task
// creation per exchange, and the SA_INIT octets kept for AUTH (§2.15).
#include "inlinesec/ike/tasks/task_manager.h"

#include "inlinesec/ike/tasks/create_child_sa_task.h"
#include "inlinesec/ike/tasks/ike_auth_task.h"
#include "inlinesec/ike/tasks/ike_sa_init_task.h"
#include "inlinesec/ike/tasks/informational_task.h"

namespace inlinesec::ike {

TaskManager::TaskManager(IkeSa& sa, IkeContext& ctx, const Clock& clock, Timers& timers,
                         SendFn send, DeadFn dead)
    : sa_(sa),
      ctx_(ctx),
      clock_(clock),
      timers_(timers),
      send_(std::move(send)),
      dead_(std::move(dead)) {}

TaskManager::~TaskManager() { Abort(); }

void TaskManager::Abort() {
  if (retransmit_timer_ != kNoTimer) timers_.Cancel(retransmit_timer_);
  retransmit_timer_ = kNoTimer;
  active_.reset();
  queue_.clear();
}

void TaskManager::Queue(std::unique_ptr<Task> task) { queue_.push_back(std::move(task)); }

bool TaskManager::HasQueued(ExchangeType e) const {
  if (active_ && active_->exchange() == e) return true;
  for (const auto& t : queue_)
    if (t->exchange() == e) return true;
  return false;
}

std::deque<std::unique_ptr<Task>> TaskManager::TakeQueue() { return std::exchange(queue_, {}); }

void TaskManager::Initiate() {
  while (!active_ && !queue_.empty() && sa_.state != IkeSaState::kDead) {
    const ExchangeType e = queue_.front()->exchange();
    // Only IKE_SA_INIT and IKE_AUTH may run before the SA is authenticated.
    if (sa_.state == IkeSaState::kConnecting && e != ExchangeType::kIkeSaInit &&
        e != ExchangeType::kIkeAuth)
      return;
    active_ = std::move(queue_.front());
    queue_.pop_front();
    active_id_ = next_id_;
    SendRequest();
  }
}

bool TaskManager::Encode(Message& msg, std::vector<Bytes>& out) {
  out.clear();
  if (msg.header.exchange == ExchangeType::kIkeSaInit || !sa_.crypter) {
    Result<Bytes> b = ike::Encode(msg, nullptr);
    if (!b.ok()) return false;
    out.push_back(std::move(b).value());
    return true;
  }
  if (sa_.peer_fragmentation && sa_.config().fragmentation) {
    // RFC 7383 §2.5.1: fragment only what does not fit.
    Result<std::vector<Bytes>> f = EncodeFragmented(msg, *sa_.crypter, sa_.config().fragment_size);
    if (!f.ok()) return false;
    out = std::move(f).value();
    return true;
  }
  Result<Bytes> b = ike::Encode(msg, &*sa_.crypter);
  if (!b.ok()) return false;
  out.push_back(std::move(b).value());
  return true;
}

void TaskManager::SendRequest() {
  Message m;
  m.header.exchange = active_->exchange();
  m.header.spi_i = sa_.spi_i;
  m.header.spi_r = sa_.spi_r;
  m.header.initiator = sa_.original_initiator();
  m.header.message_id = active_id_;
  const Step s = active_->Build(m);
  if (s == Step::kDone || s == Step::kFailed) {  // nothing to send after all
    active_.reset();
    return;  // Initiate()'s loop picks the next task
  }
  if (s == Step::kDeleteSa || !Encode(m, request_)) {
    active_.reset();
    dead_(sa_, sa_.down_reason);
    return;
  }
  if (m.header.exchange == ExchangeType::kIkeSaInit) sa_.init_request = request_.front();
  attempt_ = 0;
  send_(sa_, request_);
  retransmit_timer_ = timers_.Arm(clock_.Now() + RetransmitDelay(sa_.config().retransmit, 0),
                                  [this] { OnRetransmitTimer(); });
}

void TaskManager::OnRetransmitTimer() {
  retransmit_timer_ = kNoTimer;
  if (!active_) return;
  ++attempt_;
  if (attempt_ > sa_.config().retransmit.tries) {
    // RFC 7296 §2.4: no answer after the retransmissions: the peer is gone.
    active_.reset();
    dead_(sa_, DownReason::kPeerDead);
    return;
  }
  ++retransmits_;
  send_(sa_, request_);  // the same bytes (RFC 7296 §2.1)
  retransmit_timer_ = timers_.Arm(clock_.Now() + RetransmitDelay(sa_.config().retransmit, attempt_),
                                  [this] { OnRetransmitTimer(); });
}

void TaskManager::Receive(std::span<const std::uint8_t> bytes, const PeekedHeader& peek) {
  // RFC 7296 §3.1: the I flag names the original initiator, who is the peer
  // exactly when we are not.
  if (peek.header.initiator == sa_.original_initiator()) return;
  if (peek.header.response)
    HandleResponse(bytes, peek);
  else
    HandleRequest(bytes, peek);
}

void TaskManager::FollowNat(bool init) {
  // RFC 7296 §2.23: behind a NAT, answer where authenticated messages come
  // from (the mapping may change, and the initiator floats to 4500).
  if (init || !(sa_.nat_here || sa_.nat_there) || sa_.rx_src.port == 0) return;
  sa_.remote = sa_.rx_src;
  sa_.local = sa_.rx_dst;
}

void TaskManager::Finish(Step step) {
  if (retransmit_timer_ != kNoTimer) timers_.Cancel(retransmit_timer_);
  retransmit_timer_ = kNoTimer;
  if (step == Step::kNeedMore && active_->exchange() == ExchangeType::kIkeSaInit) {
    // COOKIE or INVALID_KE_PAYLOAD: the new request keeps Message ID 0.
    SendRequest();
    return;
  }
  next_id_ = active_id_ + 1;
  active_.reset();
  if (step == Step::kDeleteSa) {
    dead_(sa_, sa_.down_reason);
    return;
  }
  Initiate();
}

void TaskManager::HandleResponse(std::span<const std::uint8_t> bytes, const PeekedHeader& peek) {
  if (!active_ || peek.header.message_id != active_id_ ||
      peek.header.exchange != active_->exchange())
    return;  // RFC 7296 §2.3: not the answer we wait for
  const bool init = peek.header.exchange == ExchangeType::kIkeSaInit;
  Message msg;
  DecodeError err;
  const DecodeStatus st = Decode(bytes, init ? nullptr : (sa_.crypter ? &*sa_.crypter : nullptr),
                                 &sa_.reassembler_responses, msg, err);
  if (st != DecodeStatus::kOk) return;  // errors in responses are dropped
  if (init) sa_.init_response.assign(bytes.begin(), bytes.end());
  sa_.last_inbound = clock_.Now();
  ++sa_.messages_in;
  FollowNat(init);
  Finish(active_->Process(msg));
}

std::unique_ptr<Task> TaskManager::ResponderFor(ExchangeType e) {
  switch (e) {
    case ExchangeType::kIkeSaInit:
      if (sa_.crypter || sa_.original_initiator()) return nullptr;
      return std::make_unique<IkeSaInitTask>(Role::kResponder, sa_, ctx_);
    case ExchangeType::kIkeAuth:
      if (!sa_.crypter || sa_.state != IkeSaState::kConnecting) return nullptr;
      return std::make_unique<IkeAuthTask>(Role::kResponder, sa_, ctx_);
    case ExchangeType::kCreateChildSa:
      if (sa_.state == IkeSaState::kConnecting) return nullptr;
      return std::make_unique<CreateChildSaTask>(sa_, ctx_);
    case ExchangeType::kInformational:
      if (sa_.state == IkeSaState::kConnecting) return nullptr;
      return std::make_unique<InformationalTask>(sa_, ctx_);
  }
  return nullptr;
}

void TaskManager::HandleRequest(std::span<const std::uint8_t> bytes, const PeekedHeader& peek) {
  const std::uint32_t id = peek.header.message_id;
  if (have_response_ && id == response_id_) {
    // RFC 7296 §2.1: a retransmitted request gets the cached response; for
    // fragmented requests only the first fragment triggers it (RFC 7383
    // §2.6.1).
    if (peek.first == PayloadType::kSkf && peek.fragment_number != 1) return;
    ++duplicates_;
    send_(sa_, response_);
    return;
  }
  if (id != expected_id_) return;  // RFC 7296 §2.3: outside the window
  const bool init = peek.header.exchange == ExchangeType::kIkeSaInit;
  Message msg;
  DecodeError err;
  const DecodeStatus st = Decode(bytes, init ? nullptr : (sa_.crypter ? &*sa_.crypter : nullptr),
                                 &sa_.reassembler_requests, msg, err);
  if (st == DecodeStatus::kFragmentPending) return;
  Message resp;
  resp.header.exchange = peek.header.exchange;
  resp.header.spi_i = sa_.spi_i;
  resp.header.spi_r = sa_.spi_r;
  resp.header.initiator = sa_.original_initiator();
  resp.header.response = true;
  resp.header.message_id = id;
  bool delete_sa = false;
  if (st == DecodeStatus::kError) {
    if (err.notify == 0) return;  // RFC 7296 §2.21: silent drop
    // §2.21.1 / §2.21.2: answer the request with the error notify.
    if (init) resp.header.spi_r = 0;
    resp.AddNotify(static_cast<NotifyType>(err.notify), err.notify_data);
    delete_sa = init || sa_.state == IkeSaState::kConnecting;
  } else {
    std::unique_ptr<Task> task = ResponderFor(peek.header.exchange);
    if (task == nullptr) return;
    if (init) sa_.init_request.assign(bytes.begin(), bytes.end());
    sa_.last_inbound = clock_.Now();
    ++sa_.messages_in;
    FollowNat(init);
    const Step s1 = task->Process(msg);
    const Step s2 = task->Build(resp);
    delete_sa = s1 == Step::kDeleteSa || s2 == Step::kDeleteSa;
  }
  std::vector<Bytes> out;
  if (!Encode(resp, out)) return;
  if (init) sa_.init_response = out.front();
  have_response_ = true;
  response_id_ = id;
  response_ = std::move(out);
  expected_id_ = id + 1;
  send_(sa_, response_);
  if (delete_sa) {
    dead_(sa_, sa_.down_reason);
    return;
  }
  Initiate();  // a responder task may have queued work (e.g. a Delete)
}

}  // namespace inlinesec::ike
