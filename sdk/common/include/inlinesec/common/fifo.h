// Fifo<T>: a first-in first-out queue of reusable things (free store
// positions, parked per-SA state) in one vector, for free lists that should
// hand items back oldest first. Unlike std::deque it allocates nothing per
// push or pop once it has grown: the taken front is dropped in one move when
// it is at least half the vector, and the vector is emptied whenever the
// queue is.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "inlinesec/common/check.h"

namespace inlinesec {

template <typename T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }

  void Push(T item) {
    if (head_ >= kCompactMin && 2 * head_ >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    items_.push_back(std::move(item));
  }

  // The oldest item; the queue must not be empty.
  T Pop() {
    INLINESEC_CHECK(!empty());
    T item = std::move(items_[head_++]);
    if (head_ == items_.size()) Clear();
    return item;
  }

  // The k-th oldest item (0: what Pop returns next), nullptr if fewer.
  const T* Peek(std::size_t k) const { return k < size() ? &items_[head_ + k] : nullptr; }

  void Clear() {
    items_.clear();
    head_ = 0;
  }
  void ShrinkToFit() { items_.shrink_to_fit(); }

 private:
  // Below this many taken items the front is left in place (a move of a few
  // items per push would cost more than the memory it frees).
  static constexpr std::size_t kCompactMin = 64;

  std::vector<T> items_;
  std::size_t head_ = 0;  // items_[head_, size) are queued, oldest first
};

}  // namespace inlinesec
