// `ferry task run NAME`: one run of a task, as a scheduler or a person starts it.
//
// The backup itself runs as a child `ferry backup --json ...`, so its log, its summary and
// its exit status are captured whole whatever happens to it; this process only takes the
// task's lock, tees the child's messages into the run's log, records the run in the history
// and runs the task's hook. A hook that fails is recorded; it never changes the run's result.
#pragma once

#include "base/error.h"
#include "client/task_config.h"

namespace ferry {

// Runs the task and returns the backup's exit status (kBusy when another run of the same task
// holds its lock). `echo` copies the child's messages to this process's stderr as well.
ExitCode run_task(const Task& task, bool echo);

// `ferry task failed NAME`, for the scheduler's failure unit: when the newest run the lock
// file names never recorded itself (killed, out of memory), record it as failed and run the
// task's on_failure hook; when it did, do nothing (it ran its hook itself).
ExitCode record_unfinished_run(const Task& task);

}  // namespace ferry
