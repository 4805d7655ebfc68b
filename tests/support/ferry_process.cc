#include "support/ferry_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "runtime/control_protocol.h"

namespace ferry::testing {

bool SocketAccepting(const std::filesystem::path& path) {
  auto addr = control::SocketAddress(path);
  if (!addr.ok()) return false;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) == 0;
  ::close(fd);
  return ok;
}

FerryProcess::FerryProcess(const std::string& config_toml) {
  Rewrite(config_toml);
  socket_ = dir_.path() / "ctl.sock";
}

void FerryProcess::Rewrite(const std::string& config_toml) {
  config_ = dir_.Write("ferry.toml", TestConfig(config_toml));
}

void FerryProcess::Signal(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

FerryProcess::~FerryProcess() { Kill(); }

Status FerryProcess::Start() {
  const std::string log = (dir_.path() / "stderr.log").string();
  const pid_t pid = ::fork();
  if (pid < 0) return Error::Internal("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the test
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) ::dup2(fd, 2);
    ::execl(FERRY_BINARY, "ferry", "-v", "run", "--config", config_.c_str(), "--control",
            socket_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  for (int i = 0; i < 1500; ++i) {
    if (SocketAccepting(socket_)) return Status::Ok();
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Error::Internal("ferry exited before it was ready: " + Log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Error::Timeout("ferry was not ready within 30 s: " + Log());
}

int FerryProcess::Stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void FerryProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string FerryProcess::Log() const {
  std::ifstream in(dir_.path() / "stderr.log");
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

}  // namespace ferry::testing
