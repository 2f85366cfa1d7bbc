// A real `layerlens-cli serve` for the remote tests: started on 127.0.0.1:0, its address read from
// the `listening on HOST:PORT` line, stopped (or killed) when the test is done.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "lltest.h"

namespace remotetest {

class ServerProcess {
 public:
  // args after `serve` (e.g. --models DIR); throws lltest::Failure when no address comes.
  ServerProcess(const std::filesystem::path& cli, std::vector<std::string> args) {
    args.insert(args.begin(), {cli.string(), "serve", "--listen", "127.0.0.1:0"});
    int out[2];
    if (pipe(out) != 0) throw lltest::Failure{"pipe failed"};
    m_pid = fork();
    if (m_pid == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    m_out = out[0];
    m_address = readAddress();
  }
  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& address() const { return m_address; }
  void kill() { stop(SIGKILL); }
  void stop(int sig = SIGTERM) {
    if (m_pid <= 0) return;
    ::kill(m_pid, sig);
    int status = 0;
    waitpid(m_pid, &status, 0);
    m_pid = -1;
    if (m_out >= 0) close(m_out);
    m_out = -1;
  }

 private:
  std::string readAddress() {
    std::string line;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{m_out, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char c;
      if (read(m_out, &c, 1) != 1) break;
      if (c == '\n') {
        const std::string prefix = "listening on ";
        if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
        line.clear();
      } else {
        line.push_back(c);
      }
    }
    stop(SIGKILL);
    throw lltest::Failure{"layerlens-cli serve printed no 'listening on' line (got '" + line +
                          "')"};
  }

  pid_t m_pid = -1;
  int m_out = -1;
  std::string m_address;
};

}  // namespace remotetest
