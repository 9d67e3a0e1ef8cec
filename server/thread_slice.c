/*-------------------------------------------------------------------------
 * thread_slice.c
 *    A short CPU slice for the threads that answer requests (see
 *    thread_slice.h).
 *
 * glibc 2.36 has no sched_setattr wrapper, and <linux/sched/types.h>
 * clashes with <sched.h>, so the call is made with syscall(2) and the
 * kernel's struct sched_attr (its first version, 48 bytes, which every
 * kernel since 3.14 reads) is declared here.
 *-------------------------------------------------------------------------
 */
#include "server/thread_slice.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* struct sched_attr, SCHED_ATTR_SIZE_VER0 (include/uapi/linux/sched/
 * types.h). */
struct kernel_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime; /* SCHED_OTHER since 6.12: the slice, in ns */
    uint64_t sched_deadline;
    uint64_t sched_period;
};

static _Thread_local bool slice_asked;

bool mz_thread_request_slice(unsigned slice_us)
{
    if (slice_asked)
        return true;
    slice_asked = true;
    if (slice_us == 0)
        return true;
#ifdef SYS_sched_setattr
    pid_t tid = (pid_t)syscall(SYS_gettid);
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, (id_t)tid);
    if (nice == -1 && errno != 0)
        return false;
    struct kernel_sched_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.sched_policy = SCHED_OTHER; /* the policy every thread here has */
    attr.sched_nice = nice;          /* kept: checkpoint.c nices a thread */
    attr.sched_runtime = (uint64_t)slice_us * 1000u;
    return syscall(SYS_sched_setattr, 0, &attr, 0u) == 0;
#else
    return false;
#endif
}
