/*
 * Runs the ClickHouse server that lives inside chdb's libchdb.so as its own process.
 * libchdb exports chdb_query_cmdline(argc, argv); with --http_port and a query that never
 * returns it serves the real ClickHouse HTTP interface. (Loaded by FFI inside Node it fails
 * ClickHouse's stack checks, hence a separate process.)
 *
 * If OPSIGHT_PARENT_PID is set, the server dies with that parent (PR_SET_PDEATHSIG), so a
 * crashed or SIGKILLed opsight never leaves an orphaned server holding the data directory.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

struct chdb_result;
extern struct chdb_result *chdb_query_cmdline(int argc, char **argv);

int main(int argc, char **argv) {
  const char *parent = getenv("OPSIGHT_PARENT_PID");
  if (parent != NULL && *parent != '\0') {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    /* The parent may have died before prctl took effect. */
    if (getppid() != (pid_t)atol(parent)) return 1;
  }
  chdb_query_cmdline(argc, argv);
  /* chdb reports errors on stderr only and returns normally either way;
     the supervisor judges health by /ping, not by this exit code. */
  return 0;
}
