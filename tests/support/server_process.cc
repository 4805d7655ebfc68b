#include "support/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

std::string Substitute(std::string text, const std::string& key, const std::string& value) {
  for (std::size_t at = text.find(key); at != std::string::npos;
       at = text.find(key, at + value.size()))
    text.replace(at, key.size(), value);
  return text;
}

}  // namespace

std::filesystem::path FindProgram(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/usr/local/sbin:/sbin";
  std::istringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    std::filesystem::path candidate = std::filesystem::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

ServerProcess::ServerProcess(std::string name, std::vector<std::string> argv)
    : name_(std::move(name)), argv_(std::move(argv)) {}

ServerProcess::~ServerProcess() { Stop(); }

Status ServerProcess::Start(std::chrono::milliseconds limit) {
  if (running()) return Status::Ok();
  if (argv_.empty()) return Error::InvalidArgument(name_ + ": no command");
  const std::filesystem::path program = FindProgram(argv_[0]);
  if (program.empty())
    return Error::NotFound(name_ + ": '" + argv_[0] +
                           "' is not installed (scripts/setup.sh installs it)");
  if (port_ == 0) port_ = FreePort();
  if (port_ == 0) return Error::Internal(name_ + ": no free loopback port");

  std::vector<std::string> args;
  args.push_back(program.string());
  for (std::size_t i = 1; i < argv_.size(); ++i)
    args.push_back(Substitute(Substitute(argv_[i], "$PORT", std::to_string(port_)), "$DIR",
                              dir().string()));
  std::vector<char*> cargs;
  for (std::string& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  const std::string log = (dir() / "server.log").string();

  const pid_t pid = ::fork();
  if (pid < 0) return Error::Internal(name_ + ": fork failed");
  if (pid == 0) {
    // The server dies with the test process, even one that crashed.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    ::chdir(dir().c_str());
    ::setpgid(0, 0);  // the server's own children go with it
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  pid_ = pid;
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (PortAcceptsConnections(port_) && (!ready_ || ready_())) return Status::Ok();
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Error::Internal(name_ + " exited before listening on port " +
                             std::to_string(port_) + ": " + LogTail());
    }
    std::this_thread::sleep_for(20ms);
  }
  Kill();
  return Error::Timeout(name_ + " did not listen on port " + std::to_string(port_) + ": " +
                        LogTail());
}

void ServerProcess::Stop() {
  if (!running()) return;
  ::kill(pid_, SIGTERM);
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(10ms);
  }
  Kill();
}

void ServerProcess::Kill() {
  if (!running()) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  Wait();
}

void ServerProcess::Wait() {
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  // A killed server may leave the port in TIME_WAIT for clients; servers
  // here set SO_REUSEADDR, so restarting on the same port works at once.
}

std::string ServerProcess::LogTail() const {
  std::ifstream in(dir() / "server.log");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (all.size() > 600) all = "..." + all.substr(all.size() - 600);
  for (char& c : all)
    if (c == '\n') c = ' ';
  return all;
}

}  // namespace ferry::testing
