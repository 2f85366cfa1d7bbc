// A real `layerlens-cli serve` for the remote tests: started on 127.0.0.1:0 (directly or under a
// launcher such as mpirun), its address read from the `listening on HOST:PORT` line, stopped (or
// killed) when the test is done.
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
  // args after `serve` (e.g. --models DIR); launcher: the program and arguments that start the
  // CLI (e.g. env ... mpirun -np 2), empty: none. Throws lltest::Failure when no address comes.
  ServerProcess(const std::filesystem::path& cli, std::vector<std::string> args,
                const std::vector<std::string>& launcher = {}) {
    args.insert(args.begin(), {cli.string(), "serve", "--listen", "127.0.0.1:0"});
    args.insert(args.begin(), launcher.begin(), launcher.end());
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
      execvp(argv[0], argv.data());
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
  pid_t pid() const { return m_pid; }  // the launcher's (mpirun's) when there is one
  // Waits up to `seconds` for the server to end by itself; its exit status (-1: still running,
  // then it is killed).
  int waitExit(double seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (m_pid > 0 && std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;
        close(m_out);
        m_out = -1;
        return status;
      }
      usleep(50000);
    }
    stop(SIGKILL);
    return -1;
  }
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
