#include "runtime/awaiting_confirms.h"

namespace ferry {

AwaitingConfirms::AwaitingConfirms(Settle settle)
    : settle_(std::move(settle)), state_(std::make_shared<State>()) {
  thread_ = std::thread([this] { Loop(); });
}

AwaitingConfirms::~AwaitingConfirms() { Stop(); }

void AwaitingConfirms::Park(std::vector<Delivery>& deliveries,
                            const std::shared_ptr<PendingSends>& sends) {
  // The common case on brokers without confirmations: nothing to wait for.
  if (std::optional<Status> done = sends->SealIfDone()) {
    settle_(deliveries, *done);
    deliveries.clear();
    return;
  }
  std::uint64_t id = 0;
  {
    std::lock_guard lock(state_->mutex);
    id = state_->next_id++;
    state_->parked_deliveries += deliveries.size();
    state_->parked.emplace(id, std::move(deliveries));
    deliveries.clear();  // moved from: valid, now surely empty
  }
  // Called on the adapter thread of the last confirmation: queue and go.
  auto on_done = [state = state_, id](Status outcome) {
    {
      std::lock_guard lock(state->mutex);
      if (state->closed) return;
      state->confirmed.emplace_back(id, std::move(outcome));
    }
    state->cv.notify_one();
  };
  std::optional<Status> now = sends->Seal(std::move(on_done));
  if (!now) return;
  // Every send was confirmed already: settle here, without a hand-off.
  std::vector<Delivery> ready;
  {
    std::lock_guard lock(state_->mutex);
    auto it = state_->parked.find(id);
    if (it == state_->parked.end()) return;
    ready = std::move(it->second);
    state_->parked.erase(it);
    state_->parked_deliveries -= ready.size();
  }
  settle_(ready, *now);
}

void AwaitingConfirms::Loop() {
  std::unique_lock lock(state_->mutex);
  while (true) {
    state_->cv.wait(lock, [&] { return state_->closed || !state_->confirmed.empty(); });
    if (state_->confirmed.empty()) return;  // closed
    auto [id, outcome] = std::move(state_->confirmed.front());
    state_->confirmed.pop_front();
    auto it = state_->parked.find(id);
    if (it == state_->parked.end()) continue;  // taken by WaitEmpty
    std::vector<Delivery> ready = std::move(it->second);
    state_->parked.erase(it);
    state_->parked_deliveries -= ready.size();
    ++state_->settling;
    lock.unlock();
    settle_(ready, outcome);  // may publish to a dead-letter topic: never under the lock
    lock.lock();
    --state_->settling;
    if (state_->parked.empty() && state_->settling == 0) state_->emptied.notify_all();
  }
}

std::vector<Delivery> AwaitingConfirms::WaitEmpty(Deadline deadline) {
  std::unique_lock lock(state_->mutex);
  state_->emptied.wait_until(lock, deadline,
                             [&] { return state_->parked.empty() && state_->settling == 0; });
  std::vector<Delivery> left;
  for (auto& [id, deliveries] : state_->parked)
    for (Delivery& d : deliveries) left.push_back(std::move(d));
  state_->parked_deliveries -= left.size();
  state_->parked.clear();
  return left;
}

std::size_t AwaitingConfirms::size() const {
  std::lock_guard lock(state_->mutex);
  return state_->parked_deliveries;
}

void AwaitingConfirms::Stop() {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->closed && !thread_.joinable()) return;
    state_->closed = true;
  }
  state_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ferry
